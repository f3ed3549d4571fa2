package serve

import (
	"bytes"
	"io"
	"math/rand"
	"testing"
	"testing/iotest"

	"github.com/mailsync/mailsync/model"
)

// lfReader gives what model.FromCRLF gives, whatever the read sizes
// (a CR at the end of one read, a CRLF split across reads).
func TestLFReaderMatchesFromCRLF(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	alphabet := []byte("ab\r\n\x00")
	for i := 0; i < 500; i++ {
		in := make([]byte, r.Intn(200))
		for j := range in {
			in[j] = alphabet[r.Intn(len(alphabet))]
		}
		want := model.FromCRLF(in)
		for _, src := range []io.Reader{bytes.NewReader(in), iotest.OneByteReader(bytes.NewReader(in)), iotest.HalfReader(bytes.NewReader(in))} {
			got, err := io.ReadAll(newLFReader(src))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%q: got %q (%v), want %q", in, got, err, want)
			}
		}
	}
}

func TestParseAddressList(t *testing.T) {
	for in, want := range map[string]string{
		`"Doe, John" <john@x.org>`:                 `Doe, John|john|x.org`,
		`=?utf-8?q?Ren=C3=A9?= <r@x.org>, s@y.org`: `René|r|x.org;|s|y.org`,
		`"quoted local"@x.org`:                     `|quoted local|x.org`,
		`<@a.org,@b.org:u@c.org>`:                  `|u|c.org`,
		`Team: ;`:                                  `|Team|;||`,
		`john (the man) @ (home) x.org (end)`:      `|john|x.org`,
		`undisclosed-recipients:;`:                 `|undisclosed-recipients|;||`,
		`A: a@x.org, "B b" <b@y.org>;, c@z.org`:    `|A|;|a|x.org;B b|b|y.org;||;|c|z.org`,
	} {
		var parts []string
		for _, a := range parseAddressList(in) {
			parts = append(parts, a.Name+"|"+a.Mailbox+"|"+a.Host)
		}
		if got := join(parts); got != want {
			t.Errorf("%s:\n got %s\nwant %s", in, got, want)
		}
	}
}

func join(p []string) string {
	var b bytes.Buffer
	for i, s := range p {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(s)
	}
	return b.String()
}
