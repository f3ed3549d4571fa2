package redact

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	var s Set
	s.Add("hunter2", "")
	b64 := base64.StdEncoding.EncodeToString([]byte("hunter2"))
	got := s.String("pw hunter2 b64 " + b64 + " end")
	if strings.Contains(got, "hunter2") || strings.Contains(got, b64) || got != "pw <redacted> b64 <redacted> end" {
		t.Errorf("got %q", got)
	}
	var nilSet *Set
	if nilSet.String("x") != "x" {
		t.Error("nil set changed text")
	}
}

func TestErr(t *testing.T) {
	var s Set
	s.Add("hunter2")
	base := errors.New("server said hunter2")
	err := s.Err(base)
	if strings.Contains(err.Error(), "hunter2") || !errors.Is(err, base) {
		t.Errorf("err = %v", err)
	}
	if s.Err(nil) != nil {
		t.Error("nil error wrapped")
	}
}

func TestWriterSplitSecret(t *testing.T) {
	var s Set
	s.Add("hunter2")
	var out bytes.Buffer
	w := s.Writer(&out)
	io.WriteString(w, "a hun")
	io.WriteString(w, "ter2 b\nlast hunter2")
	w.Close()
	if strings.Contains(out.String(), "hunter2") || out.String() != "a <redacted> b\nlast <redacted>" {
		t.Errorf("got %q", out.String())
	}
}

func TestIMAPWriter(t *testing.T) {
	var s Set
	var out bytes.Buffer
	w := s.IMAPWriter(&out)
	io.WriteString(w, "* OK hi\r\na1 LOGIN user \"pass word\"\r\na1 OK done\r\n"+
		"a2 AUTHENTICATE PLAIN\r\n+ \r\nAHVzZXIAcGFzcw==\r\na2 OK yes\r\na3 SELECT INBOX\r\n")
	w.Close()
	want := "* OK hi\r\na1 LOGIN <redacted>\r\na1 OK done\r\n" +
		"a2 AUTHENTICATE PLAIN <redacted>\r\n+ \r\n<redacted>\r\na2 OK yes\r\na3 SELECT INBOX\r\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}
