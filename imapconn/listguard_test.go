package imapconn

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
)

func TestValidMUTF7(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"INBOX", true},
		{"Archive/2024", true},
		{"Z&APw-rich", true},            // Zürich
		{"&ZeVnLIqe-", true},            // 日本語
		{"Tom &- Jerry", true},          // "&" escaped
		{"&2D3eAA-", true},              // a surrogate pair (U+1F600)
		{"Z&APw!rich", false},           // shift never ends
		{"&AGE-", false},                // "a" must not be shifted
		{"&APw-&APw-", false},           // two shifts in a row
		{"&APw=-", false},               // padding
		{"&AP-", false},                 // odd number of bytes
		{"&2D0-", false},                // lone surrogate
		{"tab\there", false},            // control character
		{"bad\xffutf8", false},          // not UTF-8
		{"Grüße", true},                 // raw UTF-8 is accepted by go-imap
		{"a&APw-b&AOQ-c", true},         // two shifts with ASCII between
		{"&AOQA9gD8-", true},            // äöü in one shift
		{"&AOQA9gD8AN8-x", true},        // äöüß
		{"&\r-", false},                 // CR inside a shift
		{"", true},                      // the LIST "" "" root
		{"&-&APw-", true},               // "&" then a shift
		{"&APw-&-", true},               // a shift then "&"
		{"&APwA-", false},               // 3 bytes
		{"&AGEAYg-", false},             // ASCII in a shift
		{"&2D3eAA-&2D3eAA-", false},     // two shifts in a row
		{"x&2D3eAA-y&2D3eAA-z", true},   // separated by ASCII
		{"&2D3eAA-x", true},             // shift then ASCII
		{"\x7f", false},                 // DEL
		{"~", true},                     // printable ASCII edge
		{" ", true},                     // space
		{"&AAA-", true},                 // NUL shifted: go-imap accepts it
		{"&AB8-", true},                 // U+001F control, allowed shifted
		{"&AH8-", true},                 // DEL shifted
		{"&AH4-", false},                // "~" shifted
		{"&ACA-", false},                // space shifted
		{"&ABk-", true},                 // U+0019
		{"&2D3eAA", false},              // unterminated
		{"&", false},                    // unterminated
		{"&-", true},                    // just "&"
		{"a-b", true},                   // "-" outside a shift
		{"&2D3eAA--", true},             // shift then "-"
		{"&2D3eAA-&-", true},            // shift then "&"
		{"&ZeVnLIqe-/&ZeVnLIqe-", true}, // "/" between shifts
	}
	for _, tt := range tests {
		if got := validMUTF7(tt.name); got != tt.ok {
			t.Errorf("validMUTF7(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestListedName(t *testing.T) {
	tests := []struct {
		line, name string
		ok         bool
	}{
		{"* LIST (\\HasNoChildren) \"/\" INBOX\r\n", "INBOX", true},
		{"* LIST () \"/\" \"Z&APw!rich\"\r\n", "Z&APw!rich", true},
		{"* lsub () \".\" \"a \\\"q\\\" b\"\r\n", `a "q" b`, true},
		{"* 3 FETCH (FLAGS ())\r\n", "", false},
		{"a1 OK LIST done\r\n", "", false},
	}
	for _, tt := range tests {
		name, ok := listedName([]byte(tt.line))
		if name != tt.name || ok != tt.ok {
			t.Errorf("listedName(%q) = %q %v", tt.line, name, ok)
		}
	}
}

// TestListGuardStream feeds a server stream in one-byte reads: the bad
// LIST line goes, everything else (a literal that looks like a bad LIST
// line included) arrives exactly.
func TestListGuardStream(t *testing.T) {
	body := "* LIST () \"/\" \"&bad\"\r\n"
	stream := "* LIST () \"/\" INBOX\r\n" +
		"* LIST () \"/\" \"Z&APw!rich\"\r\n" +
		"* 1 FETCH (BODY[] {" + itoa(len(body)) + "}\r\n" + body + " UID 7)\r\n" +
		"* LIST () \"/\" \"Z&APw-rich\"\r\n" +
		"a1 OK done\r\n"
	want := "* LIST () \"/\" INBOX\r\n" +
		"* 1 FETCH (BODY[] {" + itoa(len(body)) + "}\r\n" + body + " UID 7)\r\n" +
		"* LIST () \"/\" \"Z&APw-rich\"\r\n" +
		"a1 OK done\r\n"
	client, server := net.Pipe()
	go func() {
		for i := 0; i < len(stream); i++ {
			server.Write([]byte{stream[i]})
		}
		server.Close()
	}()
	g := &listGuard{Conn: client}
	got, err := io.ReadAll(g)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if !bytes.Equal(got, []byte(want)) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if d := g.takeDropped(); len(d) != 1 || d[0] != "Z&APw!rich" {
		t.Fatalf("dropped %q", d)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// goImapAccepts reports whether go-imap's client takes name in a LIST
// response, by feeding it one over a pipe.
func goImapAccepts(t *testing.T, name string) bool {
	t.Helper()
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		// A minimal server: every command gets OK, LIST gets the name.
		server.Write([]byte("* OK [CAPABILITY IMAP4rev1] ready\r\n"))
		r := bufio.NewReader(server)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			if strings.EqualFold(f[1], "LIST") {
				fmt.Fprintf(server, "* LIST () \"/\" \"%s\"\r\n", name)
			}
			fmt.Fprintf(server, "%s OK done\r\n", f[0])
		}
	}()
	c := imapclient.New(client, nil)
	defer c.Close()
	if err := c.WaitGreeting(); err != nil {
		t.Fatal(err)
	}
	_, err := c.List("", "*", nil).Collect()
	return err == nil
}

// TestValidMUTF7AgreesWithGoImap: the guard drops exactly what go-imap
// would choke on.
func TestValidMUTF7AgreesWithGoImap(t *testing.T) {
	names := []string{"INBOX", "Z&APw-rich", "&ZeVnLIqe-", "Tom &- Jerry", "&2D3eAA-", "Z&APw!rich", "&AGE-",
		"&APw-&APw-", "&APw=-", "&AP-", "&2D0-", "Grüße", "a&APw-b&AOQ-c", "&AOQA9gD8-", "&-&APw-", "&APwA-",
		"&AGEAYg-", "x&2D3eAA-y&2D3eAA-z", "&AAA-", "&AB8-", "&AH4-", "&ACA-", "&2D3eAA", "&", "&-", "a-b",
		"&2D3eAA--", "&ZeVnLIqe-/&ZeVnLIqe-", "&2D3eAA-&2D3eAA-", "tab\there", "~", "&3gA-", "&2D3cAA-"}
	for _, name := range names {
		if got, want := validMUTF7(name), goImapAccepts(t, name); got != want {
			t.Errorf("%q: guard says valid=%v, go-imap accepts=%v", name, got, want)
		}
	}
}

// A LIST name sent as a literal that go-imap cannot take (NUL, CRLF, bad
// modified UTF-7) costs that folder only: the guard drops the response
// (line, literal and the rest of the line) and go-imap lists the rest
// (issue 8, case 14). A good literal name passes as it came.
func TestListGuardLiteralNames(t *testing.T) {
	lit := func(name string) string {
		return "* LIST () \"/\" {" + itoa(len(name)) + "}\r\n" + name + "\r\n"
	}
	stream := "* LIST () \"/\" INBOX\r\n" +
		lit("a\x00b") +
		lit("two\r\nlines") +
		lit("Z&APw!rich") +
		lit("Lit name") +
		"* LIST (\\HasNoChildren) \"/\" {4}\r\nExt1 (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n" +
		"* LIST () \"/\" Work\r\n" +
		"a1 OK done\r\n"
	want := "* LIST () \"/\" INBOX\r\n" +
		lit("Lit name") +
		"* LIST (\\HasNoChildren) \"/\" {4}\r\nExt1 (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n" +
		"* LIST () \"/\" Work\r\n" +
		"a1 OK done\r\n"
	for _, chunk := range []int{1, 7, len(stream)} {
		g := &listGuard{Conn: &byteConn{in: []byte(stream), n: chunk}}
		got, err := io.ReadAll(g)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("chunk %d: got\n%q\nwant\n%q", chunk, got, want)
		}
		if d := g.takeDropped(); len(d) != 3 {
			t.Fatalf("chunk %d: dropped %q, want the three bad names", chunk, d)
		}
	}

	// End to end: go-imap's client, reading through the guard, lists
	// the good folders instead of failing the connection.
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		server.Write([]byte("* OK [CAPABILITY IMAP4rev1] ready\r\n"))
		r := bufio.NewReader(server)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			if strings.EqualFold(f[1], "LIST") {
				server.Write([]byte(lit("a\x00b") + lit("two\r\nlines") + lit("Good") + "* LIST () \"/\" INBOX\r\n"))
			}
			fmt.Fprintf(server, "%s OK done\r\n", f[0])
		}
	}()
	c := imapclient.New(&listGuard{Conn: client}, nil)
	defer c.Close()
	if err := c.WaitGreeting(); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("LIST through the guard: %v", err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Mailbox)
	}
	if strings.Join(names, ",") != "Good,INBOX" {
		t.Fatalf("listed %q, want Good and INBOX", names)
	}
}

// Only LIST/LSUB responses are held: a short line that announces a large
// literal (a body) streams through as before.
func TestListGuardShortLiteralLinePasses(t *testing.T) {
	body := strings.Repeat("x", 100000)
	stream := "* {" + itoa(len(body)) + "}\r\n" + body + "\r\na1 OK done\r\n"
	g := &listGuard{Conn: &byteConn{in: []byte(stream), n: 4096}}
	got, err := io.ReadAll(g)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if string(got) != stream {
		t.Fatalf("a short line with a literal was changed (%d bytes of %d)", len(got), len(stream))
	}
}
