// Package demo is `mailsync demo`: it writes a small sample archive,
// serves it over IMAP on loopback, syncs a second Maildir from it both
// ways, and tells the user how to browse it. It needs no account and no
// setup, and touches nothing outside the directory it is given.
package demo

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
)

type sampleMsg struct {
	folder string
	flags  model.Flags
	date   time.Time
	body   string
}

var base = time.Date(2024, 5, 6, 9, 30, 0, 0, time.UTC)

func day(n int) time.Time { return base.Add(time.Duration(n) * 24 * time.Hour) }

func header(from, to, subject string, date time.Time, id string, extra ...string) string {
	h := fmt.Sprintf("From: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s@demo.mailsync.invalid>\nMIME-Version: 1.0\n",
		from, to, subject, date.Format(time.RFC1123Z), id)
	for _, e := range extra {
		h += e + "\n"
	}
	return h
}

// A small PDF so that the attachment is a real file a client can open.
const tinyPDF = "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>endobj\n4 0 obj<</Length 44>>stream\nBT /F1 18 Tf 20 40 Td (mailsync demo) Tj ET\nendstream endobj\n5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"

func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

func samples() []sampleMsg {
	ana := "Ana Lima <ana@example.org>"
	you := "You <you@example.org>"
	jorg := "=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>"
	var out []sampleMsg
	out = append(out, sampleMsg{"INBOX", model.FlagSeen, day(0),
		header(ana, you, "Welcome to your offline archive", day(0), "welcome",
			"Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit") +
			"\nHi,\n\nThis archive is a plain Maildir that mailsync keeps in sync with an IMAP\nserver, and `mailsync serve` publishes it over IMAP so any mail client can\nread it offline.\n\nAna\n"})
	out = append(out, sampleMsg{"INBOX", model.FlagSeen | model.FlagReplied, day(1),
		header(jorg, you, "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=", day(1), "koeln",
			"Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit") +
			"\nHallo!\n\nViele Grüße aus Köln – die Straßenbahn fährt wieder pünktlich.\n日本語も大丈夫です。\n\nJörg\n"})
	boundary := "demo-alt-42"
	out = append(out, sampleMsg{"INBOX", model.FlagFlagged, day(2),
		header("Newsletter <news@example.com>", you, "Your monthly digest", day(2), "digest",
			fmt.Sprintf("Content-Type: multipart/alternative; boundary=%q", boundary)) +
			"\n--" + boundary + "\nContent-Type: text/plain; charset=utf-8\n\nThis month: three new features and one fixed bug.\n" +
			"\n--" + boundary + "\nContent-Type: text/html; charset=utf-8\n\n<html><body><h1>Monthly digest</h1><p>This month: <b>three</b> new features and one fixed bug.</p></body></html>\n" +
			"\n--" + boundary + "--\n"})
	mixed := "demo-mixed-7"
	out = append(out, sampleMsg{"INBOX", 0, day(3),
		header(ana, you, "Invoice May 2024 (PDF attached)", day(3), "invoice",
			fmt.Sprintf("Content-Type: multipart/mixed; boundary=%q", mixed)) +
			"\n--" + mixed + "\nContent-Type: text/plain; charset=utf-8\n\nPlease find the invoice attached.\n" +
			"\n--" + mixed + "\nContent-Type: application/pdf; name=\"invoice-2024-05.pdf\"\nContent-Disposition: attachment; filename=\"invoice-2024-05.pdf\"\nContent-Transfer-Encoding: base64\n\n" +
			wrap76(base64.StdEncoding.EncodeToString([]byte(tinyPDF))) +
			"\n--" + mixed + "--\n"})
	out = append(out, sampleMsg{"INBOX", 0, day(4),
		header(you, ana, "Re: Welcome to your offline archive", day(4), "re-welcome",
			"In-Reply-To: <welcome@demo.mailsync.invalid>", "References: <welcome@demo.mailsync.invalid>",
			"Content-Type: text/plain; charset=us-ascii") +
			"\nThanks! Replying from the archive.\n\n> This archive is a plain Maildir\n"})
	out = append(out, sampleMsg{"Sent", model.FlagSeen, day(1),
		header(you, jorg, "Re: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=", day(1).Add(time.Hour), "sent-koeln",
			"Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit") +
			"\nDanke, Jörg! Bis bald.\n"})
	out = append(out, sampleMsg{"Sent", model.FlagSeen | model.FlagPassed, day(5),
		header(you, "team@example.org", "Fwd: Your monthly digest", day(5), "fwd-digest",
			"Content-Type: text/plain; charset=us-ascii") + "\nFYI, see below.\n"})
	out = append(out, sampleMsg{"Drafts", model.FlagDraft, day(6),
		header(you, ana, "Plans for June", day(6), "draft-june", "Content-Type: text/plain; charset=us-ascii") +
			"\nIdeas so far:\n- a trip to the coast\n- finish the report\n"})
	for i := 1; i <= 4; i++ {
		out = append(out, sampleMsg{"Archive/2023", model.FlagSeen, day(-300 + i*30),
			header(ana, you, fmt.Sprintf("Quarterly report Q%d 2023", i), day(-300+i*30), fmt.Sprintf("q%d-2023", i),
				"Content-Type: text/plain; charset=us-ascii") +
				fmt.Sprintf("\nQuarter %d numbers are in: all green.\n", i)})
	}
	out = append(out, sampleMsg{"Reisen/Zürich", model.FlagSeen | model.FlagFlagged, day(-20),
		header("SBB <noreply@example.ch>", you, "=?UTF-8?Q?Ihr_Billett_Z=C3=BCrich_HB?=", day(-20), "billett",
			"Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit") +
			"\nGültig am 16. April, 2. Klasse, Zürich HB → Genève.\n"})
	return out
}

// WriteSample writes the sample archive into a new Maildir at root and
// returns how many messages and folders it wrote.
func WriteSample(root string) (msgs, folders int, err error) {
	md, err := maildir.Open(root)
	if err != nil {
		return 0, 0, err
	}
	seen := map[string]bool{}
	for _, name := range []string{"INBOX", "Sent", "Drafts", "Trash", "Archive/2023", "Reisen/Zürich"} {
		if _, err := md.CreateFolder(name); err != nil {
			return 0, 0, err
		}
		seen[name] = true
	}
	for _, m := range samples() {
		f, err := md.Folder(m.folder)
		if err != nil {
			return 0, 0, err
		}
		if _, err := f.DeliverSync([]byte(m.body), m.flags, m.date); err != nil {
			return 0, 0, err
		}
		msgs++
	}
	return msgs, len(seen), nil
}
