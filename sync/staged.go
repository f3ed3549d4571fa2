package sync

import (
	"io"

	"github.com/mailsync/mailsync/model"
)

// removeStaged removes from tmp/ the messages a crashed run staged for
// the download intents about to be dropped: a download is staged
// (streamed into tmp/) before its intent is committed and renamed into
// new/ or cur/ after, so a crash in between leaves a complete file in
// tmp/ that nothing would deliver. It is found by its content (the
// intent's fingerprint and hash), among the staged files only.
func (r *folderRun) removeStaged(intents []model.DownloadIntent, drop []model.UID) error {
	if len(drop) == 0 {
		return nil
	}
	dropping := make(map[model.UID]bool, len(drop))
	for _, u := range drop {
		dropping[u] = true
	}
	want := map[string]bool{}
	for _, d := range intents {
		if dropping[d.UID] {
			want[d.Fingerprint+"/"+d.Hash] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	return r.f.RemoveStaged(func(f io.ReaderAt, size int64) bool {
		fp, hash, _, err := model.SumLocal(f, size)
		return err == nil && want[fp+"/"+hash]
	})
}
