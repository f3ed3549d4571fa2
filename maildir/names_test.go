package maildir

import (
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/mailsync/mailsync/model"
)

func TestParseName(t *testing.T) {
	tests := []struct {
		name, key, info string
		flags           model.Flags
	}{
		{"1700000000.M1P2R3Q4.host", "1700000000.M1P2R3Q4.host", "", 0},
		{"k:2,", "k", "", 0},
		{"k:2,S", "k", "S", model.FlagSeen},
		{"k:2,DFPRST", "k", "DFPRST", model.AllFlags},
		{"k:2,FSab", "k", "FSab", model.FlagFlagged | model.FlagSeen},
		{"k:2,Sa,b", "k", "Sa,b", model.FlagSeen},
		{"k,S=123,W=130:2,RS", "k,S=123,W=130", "RS", model.FlagReplied | model.FlagSeen},
		{"k:1,S", "k:1,S", "", 0},
		{"host\\072x:2,T", "host\\072x", "T", model.FlagTrashed},
		{"", "", "", 0},
	}
	for _, tt := range tests {
		key, info, flags := ParseName(tt.name)
		if key != tt.key || info != tt.info || flags != tt.flags {
			t.Errorf("ParseName(%q) = %q, %q, %v; want %q, %q, %v", tt.name, key, info, flags, tt.key, tt.info, tt.flags)
		}
	}
}

func TestMergeInfo(t *testing.T) {
	tests := []struct {
		old   string
		flags model.Flags
		want  string
	}{
		{"", 0, ""},
		{"", model.FlagSeen | model.FlagDraft, "DS"},
		{"Sab", model.FlagFlagged, "Fab"},
		{"baS", model.FlagSeen, "Sab"},
		{"aaS", 0, "a"},
		{"DFPRST", 0, ""},
		{"Zc", model.FlagReplied, "RZc"},
	}
	for _, tt := range tests {
		if got := mergeInfo(tt.old, tt.flags); got != tt.want {
			t.Errorf("mergeInfo(%q, %v) = %q, want %q", tt.old, tt.flags, got, tt.want)
		}
	}
}

func TestDirName(t *testing.T) {
	tests := []struct{ name, dir string }{
		{"INBOX", ""},
		{"inbox", ""},
		{"A", ".A"},
		{"A/B", ".A.B"},
		{"INBOX/Sub", ".INBOX.Sub"},
		{"inbox/Sub", ".inbox.Sub"}, // only INBOX itself is case-insensitive
		{"Inbox/sub", ".Inbox.sub"},
		{"a.b/c", ".a%2Eb.c"},
		{"100%", ".100%25"},
		{"%2E", ".%252E"},
		{"..x", ".%2E%2Ex"},
		{"Entwürfe/Ärger", ".Entwürfe.Ärger"},
		{"日本語", ".日本語"},
		{"with space", ".with space"},
	}
	for _, tt := range tests {
		if got := DirName(tt.name); got != tt.dir {
			t.Errorf("DirName(%q) = %q, want %q", tt.name, got, tt.dir)
		}
		if tt.dir == "" {
			continue
		}
		clean, _ := model.CleanFolderName(tt.name)
		if got, ok := FolderName(tt.dir); !ok || got != clean {
			t.Errorf("FolderName(%q) = %q, %v; want %q, true", tt.dir, got, ok, clean)
		}
	}
}

func TestFolderNameRejects(t *testing.T) {
	for _, dir := range []string{
		"", ".", "..", "A", "cur", ".A.", ".A..B", "..A",
		".INBOX", ".inbox", ".Inbox", // non-canonical spellings
		".%2e", ".a%2eb", ".%", ".%2", ".%41", // unknown or lowercase escapes
		".%2E", ".%2E%2E", // "." and ".." levels
		".a\x01b", ".\xff",
	} {
		if name, ok := FolderName(dir); ok {
			t.Errorf("FolderName(%q) = %q, true; want false", dir, name)
		}
	}
}

var keyRE = regexp.MustCompile(`^[0-9]+\.M[0-9]+P[0-9]+R[0-9a-f]{16}Q[0-9]+\.[^/:]+$`)

func TestNewKey(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		k := NewKey()
		if !keyRE.MatchString(k) {
			t.Fatalf("NewKey() = %q, does not match %v", k, keyRE)
		}
		if seen[k] {
			t.Fatalf("NewKey() repeated %q", k)
		}
		seen[k] = true
		if key, info, _ := ParseName(k); key != k || info != "" {
			t.Fatalf("ParseName(NewKey()) = %q, %q", key, info)
		}
	}
}

func TestEscapedHostname(t *testing.T) {
	h := escapedHostname()
	if h == "" || strings.ContainsAny(h, "/:") {
		t.Fatalf("escapedHostname() = %q", h)
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"k", "k:2,S", "k:2,", "a:2,b:2,c", "k,S=1:2,FSab"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		key, info, flags := ParseName(name)
		if strings.Contains(key, infoSep) {
			t.Fatalf("key %q contains %q", key, infoSep)
		}
		if key != name && key+infoSep+info != name {
			t.Fatalf("ParseName(%q) = %q, %q: does not rebuild the name", name, key, info)
		}
		if flags != model.FlagsFromLetters(info) {
			t.Fatalf("flags %v do not match info %q", flags, info)
		}
		// Setting the same flags again keeps the info up to letter order.
		merged := mergeInfo(info, flags)
		if model.FlagsFromLetters(merged) != flags {
			t.Fatalf("mergeInfo(%q, %v) = %q changes the flags", info, flags, merged)
		}
		if mergeInfo(merged, flags) != merged {
			t.Fatalf("mergeInfo is not idempotent on %q", merged)
		}
	})
}

func FuzzDirName(f *testing.F) {
	for _, s := range []string{"INBOX", "A/B", "a.b", "100%", "%2E", "Ärger/x.y", ".x", "inbox/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		clean, err := model.CleanFolderName(name)
		if err != nil {
			return
		}
		dir := DirName(clean)
		if clean == model.Inbox {
			if dir != "" {
				t.Fatalf("DirName(INBOX) = %q", dir)
			}
			return
		}
		if strings.Contains(dir, "/") {
			t.Fatalf("DirName(%q) = %q contains '/'", clean, dir)
		}
		got, ok := FolderName(dir)
		if !ok || got != clean {
			t.Fatalf("FolderName(DirName(%q)) = %q, %v via %q", clean, got, ok, dir)
		}
	})
}

func FuzzFolderName(f *testing.F) {
	for _, s := range []string{".A.B", ".a%2Eb", ".%25", ".INBOX", "..", ".x%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dir string) {
		name, ok := FolderName(dir)
		if !ok {
			return
		}
		if back := DirName(name); back != dir {
			t.Fatalf("DirName(FolderName(%q)) = %q via %q", dir, back, name)
		}
	})
}

// TestNewKeyConcurrent makes keys from many goroutines at once, so that
// many fall within the same microsecond: all must differ.
func TestNewKeyConcurrent(t *testing.T) {
	const workers, each = 8, 5000
	out := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				out[w] = append(out[w], NewKey())
			}
		}()
	}
	wg.Wait()
	seen := make(map[string]bool, workers*each)
	sameUsec := make(map[string]int)
	for _, ks := range out {
		for _, k := range ks {
			if seen[k] {
				t.Fatalf("key %q made twice", k)
			}
			seen[k] = true
			sameUsec[k[:strings.IndexByte(k, 'P')]]++
		}
	}
	t.Logf("%d keys in %d distinct microseconds", len(seen), len(sameUsec))
}
