package config

import "github.com/mailsync/mailsync/maildir"

// layout = "maildir++" | "fs", per account and in [serve]: how the
// Maildir's folders are laid out (maildir.LayoutFS: nested folders, as
// mbsync's "SubFolders Verbatim" and OfflineIMAP write them). Unset is
// Maildir++, and a tree that clearly holds nested folders is then
// refused with a message saying to set layout = "fs" (see
// maildir.OpenLayout), instead of growing a second tree beside it.

// checkLayout checks a layout key's value s and stores it in dst.
func checkLayout(dst *maildir.Layout, s string) error {
	l, err := maildir.ParseLayout(s)
	if err != nil {
		return err
	}
	*dst = l
	return nil
}
