// Package maildir owns mailsync's local message store: a Maildir++ tree
// whose root is INBOX and whose folder "A/B" is the directory root/.A.B,
// or, opened with OpenLayout(root, LayoutFS), a tree of nested folders
// as mbsync ("SubFolders Verbatim") and OfflineIMAP ("sep = /") write
// it, "A/B" being root/A/B (see LayoutFS). Callers (sync, serve) choose
// the layout once, when they open the Maildir; everything else is the
// same for both.
//
// What it promises:
//
//   - Crash-safe delivery. A message is written to tmp/ under a fresh
//     unique name (O_EXCL), fsynced, and only then renamed into new/ or
//     cur/; a reader never sees a partial file in new/ or cur/. Deliver
//     leaves the fsync of new/ and cur/ to the caller (SyncDirs), so a
//     batch of deliveries costs one directory sync; DeliverSync does both.
//     tmp/ is never read; CleanTmp removes stale files left by crashes.
//
//   - Stable identity. A message is identified by its key, the file name
//     before ":2,". Other programs (mail readers, other MDAs) may rename a
//     file at any moment to change its flags; every operation that goes
//     from a key to a file (Lookup, ReadFile, SetFlags, Remove) looks the
//     file up again when it vanished under it, and reports
//     os.ErrNotExist (test with errors.Is) only when the key is gone.
//
//   - Complete listings. Scan lists new/ and cur/ so that a message being
//     renamed while the scan runs is listed exactly once. On Linux each
//     directory is read with a single getdents call, which the kernel runs
//     under the directory's lock, so the listing is a snapshot; elsewhere,
//     or when a directory is too large or the file system returns it in
//     pieces, the directory mtimes are compared before and after and the
//     scan is repeated (a bounded number of times) when they changed.
//
//   - Names. Folder names are mailsync's canonical names (see
//     model.CleanFolderName): "/" between levels, UTF-8. On disk a level's
//     "." is written "%2E" and "%" is written "%25", so every valid name
//     maps to exactly one directory and back (DirName, FolderName); in
//     the fs layout each level is spelled in modified UTF-7 and names
//     that cannot be stored are refused (FSDirName, ErrNotStorable). Keys
//     made by NewKey are unique across goroutines, processes and hosts.
//     Unknown info letters (keywords such as "a", "b") are kept when flags
//     change.
//
// A Maildir and its Folders may be used from several goroutines at once.
package maildir
