package model

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Folder names: mailsync names folders with "/" between hierarchy levels,
// in UTF-8, whatever the server's delimiter. "INBOX" is the inbox, matched
// case-insensitively and always spelled "INBOX". Only the name INBOX
// itself is case-insensitive (RFC 3501 5.1): "Inbox/sub" is not
// "INBOX/sub".

// Inbox is the name of the inbox.
const Inbox = "INBOX"

// CleanFolderName returns the canonical spelling of name ("inbox" becomes
// "INBOX"; "inbox/x" stays as it is), or an error saying why the name
// cannot be used.
func CleanFolderName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("empty folder name")
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("folder name %q is not valid UTF-8", name)
	}
	parts := strings.Split(name, "/")
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return "", fmt.Errorf("folder name %q has an empty, \".\" or \"..\" level", name)
		}
		for _, r := range p {
			if r < 0x20 || r == 0x7f {
				return "", fmt.Errorf("folder name %q has a control character", name)
			}
		}
	}
	if len(parts) == 1 && strings.EqualFold(name, Inbox) {
		return Inbox, nil
	}
	return name, nil
}
