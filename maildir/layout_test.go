package maildir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// mkMaildir makes dir (relative to root) with cur/, new/ and tmp/.
func mkMaildir(t *testing.T, root, dir string) {
	t.Helper()
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
}

func openFS(t *testing.T, root string) *Maildir {
	t.Helper()
	m, err := OpenLayout(root, LayoutFS)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFSDirName(t *testing.T) {
	for _, tt := range []struct{ name, dir string }{
		{"Archive/2002", "Archive/2002"},
		{"Été", "&AMk-t&AOk-"},
		{"a&b", "a&-b"},
		{"100%", "100%"},
		{"Sent.old", "Sent.old"},
		{"日本語/x", "&ZeVnLIqe-/x"},
		{"INBOX/sub", "INBOX/sub"},
	} {
		got, err := FSDirName(tt.name)
		if err != nil || got != tt.dir {
			t.Errorf("FSDirName(%q) = %q, %v; want %q", tt.name, got, err, tt.dir)
		}
		levels := strings.Split(tt.dir, "/")
		var back []string
		for _, l := range levels {
			n, ok := fsFolderLevel(l)
			if !ok {
				t.Errorf("fsFolderLevel(%q) refused", l)
			}
			back = append(back, n)
		}
		if strings.Join(back, "/") != tt.name {
			t.Errorf("%q decodes to %q, want %q", tt.dir, strings.Join(back, "/"), tt.name)
		}
	}
	for _, bad := range []string{"A/cur", "new", "tmp/x", ".hidden", "A/.B", "A/dovecot-keywords", "maildirfolder"} {
		if _, err := FSDirName(bad); err == nil {
			t.Errorf("FSDirName(%q) accepted a level that collides with a Maildir's entries", bad)
		} else if !errors.Is(err, ErrNotStorable) {
			t.Errorf("FSDirName(%q): %v, want ErrNotStorable", bad, err)
		} else if !strings.Contains(err.Error(), bad) {
			t.Errorf("FSDirName(%q): error does not name the folder: %v", bad, err)
		}
	}
	// Directory names no tool writes for a folder are not folders.
	for _, dir := range []string{"Été", "&AMk", "a&b", "&AGE-", "cur", ".x", ""} {
		if n, ok := fsFolderLevel(dir); ok {
			t.Errorf("fsFolderLevel(%q) = %q, want refused", dir, n)
		}
	}
}

func TestFSFoldersOfflineIMAPTree(t *testing.T) {
	// As OfflineIMAP (sep = /) and mbsync ("Inbox <Path>/INBOX",
	// "SubFolders Verbatim") write it.
	root := t.TempDir()
	for _, d := range []string{"INBOX", "INBOX/sub", "Archive/2002", "&AMk-t&AOk-", "100%", "a&-b", "Inbox/x"} {
		mkMaildir(t, root, d)
	}
	os.WriteFile(filepath.Join(root, "Archive/2002/.mbsyncstate"), nil, 0o600)
	os.WriteFile(filepath.Join(root, ".mailsync-serve.db"), nil, 0o600)
	mkMaildir(t, root, ".Hidden")           // not a folder in the fs layout
	mkMaildir(t, root, "Été")               // raw UTF-8: not how the tools spell it
	mkMaildir(t, root, "Archive/2002/cur2") // a real subfolder named cur2
	m := openFS(t, root)
	got, err := m.Folders()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"100%", "Archive/2002", "Archive/2002/cur2", "INBOX", "INBOX/sub", "Inbox/x", "a&b", "Été"}
	if !slices.Equal(got, want) {
		t.Fatalf("Folders = %q\nwant      %q", got, want)
	}
	if !m.Exists() {
		t.Error("Exists = false with INBOX/ present")
	}
	for name, dir := range map[string]string{"INBOX": "INBOX", "Été": "&AMk-t&AOk-", "INBOX/sub": "INBOX/sub"} {
		f, err := m.Folder(name)
		if err != nil || f.Path() != filepath.Join(root, dir) || !f.Exists() {
			t.Errorf("Folder(%q) = %v, %v; want %s", name, f, err, dir)
		}
	}
}

func TestFSFoldersInboxAtRoot(t *testing.T) {
	// mbsync with "Inbox" equal to "Path": the root is INBOX.
	root := t.TempDir()
	mkMaildir(t, root, ".")
	mkMaildir(t, root, "Archive/2002")
	os.WriteFile(filepath.Join(root, ".uidvalidity"), []byte("1\n"), 0o600)
	m := openFS(t, root)
	got, err := m.Folders()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Archive/2002", "INBOX"}; !slices.Equal(got, want) {
		t.Fatalf("Folders = %q, want %q", got, want)
	}
	f, _ := m.Folder("INBOX")
	if f.Path() != root {
		t.Errorf("INBOX is %s, want the root", f.Path())
	}
	// INBOX's subfolders stay under INBOX/, never beside the others.
	sub, err := m.CreateFolder("INBOX/sub")
	if err != nil || sub.Path() != filepath.Join(root, "INBOX", "sub") {
		t.Fatalf("CreateFolder(INBOX/sub) = %v, %v", sub, err)
	}
	if got, _ := m.Folders(); !slices.Equal(got, []string{"Archive/2002", "INBOX", "INBOX/sub"}) {
		t.Errorf("Folders = %q", got)
	}
	// Two INBOXes are refused, not guessed.
	mkMaildir(t, root, "INBOX")
	if _, err := m.Folders(); err == nil || !strings.Contains(err.Error(), "one INBOX") {
		t.Errorf("root and INBOX/ both Maildirs: Folders error = %v", err)
	}
}

func TestFSCreateRemoveRename(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Mail")
	m := openFS(t, root)
	if m.Exists() {
		t.Fatal("Exists before anything was created")
	}
	inbox, err := m.CreateFolder("inbox")
	if err != nil {
		t.Fatal(err)
	}
	if inbox.Path() != filepath.Join(root, "INBOX") || !m.Exists() {
		t.Fatalf("new INBOX at %s (Exists %v), want %s/INBOX", inbox.Path(), m.Exists(), root)
	}
	for _, n := range []string{"A/B/C", "A", "Été/x"} {
		if _, err := m.CreateFolder(n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "&AMk-t&AOk-", "x", "cur")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "A", "maildirfolder")); err == nil {
		t.Error("fs layout wrote a maildirfolder file")
	}
	if _, err := m.CreateFolder("A/cur"); err == nil || !strings.Contains(err.Error(), `"A/cur"`) {
		t.Errorf("CreateFolder(A/cur) error = %v, want a refusal naming the folder", err)
	}
	folders := func() []string {
		t.Helper()
		got, err := m.Folders()
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := folders(); !slices.Equal(got, []string{"A", "A/B/C", "INBOX", "Été/x"}) {
		t.Fatalf("Folders = %q", got)
	}
	// A message in A, and A's keywords file, go with A; A/B/C stays.
	a, _ := m.Folder("A")
	if _, err := a.DeliverSync([]byte("Subject: x\n\nx\n"), 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(a.Path(), KeywordsFile), []byte("0 $Junk\n"), 0o600)
	if err := m.RemoveFolder("A"); err != nil {
		t.Fatal(err)
	}
	if got := folders(); !slices.Equal(got, []string{"A/B/C", "INBOX", "Été/x"}) {
		t.Fatalf("after RemoveFolder(A): Folders = %q", got)
	}
	if ents, _ := os.ReadDir(a.Path()); len(ents) != 1 || ents[0].Name() != "B" {
		t.Errorf("A/ holds %v after its removal, want only B/", ents)
	}
	if err := m.RemoveFolder("A"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("RemoveFolder of a parent that is no folder: %v, want ErrNotExist", err)
	}
	// Rename carries the subfolders along.
	moves, err := m.RenameFolder("A", "Z/Y")
	if err != nil {
		t.Fatal(err)
	}
	if want := [][2]string{{"A/B/C", "Z/Y/B/C"}}; !slices.Equal(moves, want) {
		t.Errorf("moves = %v, want %v", moves, want)
	}
	if got := folders(); !slices.Equal(got, []string{"INBOX", "Z/Y/B/C", "Été/x"}) {
		t.Fatalf("after rename: Folders = %q", got)
	}
	if _, err := m.RenameFolder("Été/x", "Z/Y"); !errors.Is(err, ErrFolderExists) {
		t.Errorf("rename onto an existing directory: %v, want ErrFolderExists", err)
	}
	if err := m.RemoveFolder("Z/Y/B/C"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "Z", "Y", "B", "C")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a folder without subfolders leaves its directory: %v", err)
	}
	if err := m.RemoveFolder("INBOX"); err == nil {
		t.Error("INBOX removed")
	}
	// A subfolder that is a symbolic link is a subfolder: removing its
	// parent keeps the link.
	elsewhere := t.TempDir()
	mkMaildir(t, elsewhere, "linked")
	if _, err := m.CreateFolder("P"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(elsewhere, "linked"), filepath.Join(root, "P", "L")); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveFolder("P"); err != nil {
		t.Fatal(err)
	}
	if got := folders(); !slices.Contains(got, "P/L") || slices.Contains(got, "P") {
		t.Errorf("after removing P with a symlinked subfolder: Folders = %q", got)
	}
	for _, e := range mustReadDir(t, root) {
		if strings.HasPrefix(e.Name(), "..mailsync-removing") {
			t.Errorf("left %s behind", e.Name())
		}
	}
}

func mustReadDir(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ents
}

func TestFSConfined(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	mkMaildir(t, root, "INBOX")
	mkMaildir(t, outside, "x")
	os.MkdirAll(filepath.Join(root, "A"), 0o700)
	if err := os.Symlink(filepath.Join(outside, "x"), filepath.Join(root, "A", "Evil")); err != nil {
		t.Fatal(err)
	}
	m := openFS(t, root)
	got, _ := m.Folders()
	if !slices.Contains(got, "A/Evil") {
		t.Fatalf("symlinked folder not listed: %q", got)
	}
	f, _ := m.Folder("A/Evil")
	if err := m.Confined(f); err == nil {
		t.Error("a folder leading out of the root is confined")
	}
	in, _ := m.Folder("INBOX")
	if err := m.Confined(in); err != nil {
		t.Error(err)
	}
}

func TestOpenLayoutDetects(t *testing.T) {
	nested := t.TempDir()
	mkMaildir(t, nested, "INBOX")
	mkMaildir(t, nested, "Archive/2002")
	_, err := OpenLayout(nested, "")
	if !errors.Is(err, ErrLayoutMismatch) || !strings.Contains(err.Error(), `layout = "fs"`) {
		t.Errorf("nested tree opened without a layout: %v, want ErrLayoutMismatch saying layout = \"fs\"", err)
	}
	if m, err := OpenLayout(nested, LayoutMaildirPP); err != nil || m.Layout() != LayoutMaildirPP {
		t.Errorf("explicit maildir++: %v", err)
	}
	// Only deeper nesting, as mbsync with the root as INBOX makes it.
	deep := t.TempDir()
	mkMaildir(t, deep, ".")
	mkMaildir(t, deep, "Lists/go/nuts")
	if _, err := OpenLayout(deep, ""); !errors.Is(err, ErrLayoutMismatch) {
		t.Errorf("root INBOX plus Lists/go/nuts: %v, want ErrLayoutMismatch", err)
	}

	pp := t.TempDir()
	mkMaildir(t, pp, ".")
	mkMaildir(t, pp, ".Sent")
	if _, err := OpenLayout(pp, LayoutFS); !errors.Is(err, ErrLayoutMismatch) {
		t.Errorf("Maildir++ tree opened as fs: %v, want ErrLayoutMismatch", err)
	}
	if _, err := OpenLayout(pp, ""); err != nil {
		t.Error(err)
	}
	// Empty, missing and INBOX-only trees are fine either way.
	for _, root := range []string{t.TempDir(), filepath.Join(t.TempDir(), "new")} {
		for _, l := range []Layout{"", LayoutFS} {
			if _, err := OpenLayout(root, l); err != nil {
				t.Errorf("OpenLayout(%s, %q): %v", root, l, err)
			}
		}
	}
	if _, err := OpenLayout(pp, "mbox"); err == nil || !strings.Contains(err.Error(), `"mbox"`) {
		t.Errorf("unknown layout: %v", err)
	}
}
