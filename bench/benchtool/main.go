// Command benchtool is the helper of bench/compare.sh, the comparison of
// mailsync with mbsync (isync) on one Dovecot. It is not part of mailsync
// and is never run by the tests.
//
//	benchtool freeport
//	benchtool seed -addr HOST:PORT -user U -pass P -n N [-seed S]
//	benchtool server-delta -addr HOST:PORT -user U -pass P [-pct 1] [-seed S]
//	benchtool local-delta -maildir DIR [-pct 1] [-seed S]
//	benchtool measure -label STEP/TOOL -out FILE -log FILE -- COMMAND ARGS...
//	benchtool report FILE
//
// seed fills an account with a corpus that looks like real mail: five
// folders, sizes from 1 KiB to 5 MiB (80% text of 1-8 KiB, 15% of 8-64
// KiB, 4.5% with a 64-512 KiB attachment, 0.5% with a 1-5 MiB one),
// most messages \Seen, a few \Flagged or \Answered. The corpus depends
// only on -n and -seed. server-delta plays another client: on pct/2 % of
// the messages of every folder it changes flags, and it appends pct/2 %
// new messages; with the same seed on two accounts holding the same
// mailbox (same UIDs) it makes the same changes. local-delta plays a
// mail reader on a Maildir: it toggles \Seen on pct/2 % of the files of
// every folder (renaming them) and writes pct/2 % new files into new/.
// measure runs a command and appends "label wall-seconds cpu-seconds
// max-rss-KiB" to FILE (CPU is user+system of the child, from
// getrusage); report prints those lines as a Markdown table, the median
// of repeated labels.
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/model"
)

// folders and their share of the corpus (percent).
var folders = []struct {
	name  string
	share int
}{{"INBOX", 35}, {"Archive", 30}, {"Sent", 10}, {"Lists/golang", 15}, {"Lists/debian", 10}}

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: benchtool freeport|seed|server-delta|local-delta|measure|report ..."))
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "freeport":
		err = freePort()
	case "seed":
		err = seed(args)
	case "server-delta":
		err = serverDelta(args)
	case "local-delta":
		err = localDelta(args)
	case "measure":
		err = measure(args)
	case "report":
		err = report(args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "benchtool: %v\n", err)
	os.Exit(1)
}

func freePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

type server struct{ addr, user, pass string }

func (s *server) flags(fs *flag.FlagSet) {
	fs.StringVar(&s.addr, "addr", "", "IMAP server HOST:PORT (no TLS)")
	fs.StringVar(&s.user, "user", "", "login")
	fs.StringVar(&s.pass, "pass", "", "password")
}

func (s *server) dial(ctx context.Context) (*imapconn.Conn, error) {
	host, port, err := net.SplitHostPort(s.addr)
	if err != nil {
		return nil, fmt.Errorf("-addr %q: %v", s.addr, err)
	}
	p, _ := strconv.Atoi(port)
	return imapconn.Dial(ctx, imapconn.Options{Host: host, Port: p, TLS: "none", User: s.user, Password: s.pass, DialTimeout: 10 * time.Second})
}

// message returns message number i of a corpus: headers, and a text body
// or a multipart one with a base64 attachment, of the size class drawn
// from r. Text bodies are made of words so that they compress and look
// like mail.
func message(r *rand.Rand, tag string, i int, small bool) []byte {
	var size int
	attach := false
	switch x := r.IntN(1000); {
	case x < 800 || small:
		size = 1<<10 + r.IntN(7<<10)
	case x < 950:
		size = 8<<10 + r.IntN(56<<10)
	case x < 995:
		size, attach = 64<<10+r.IntN(448<<10), true
	default:
		size, attach = 1<<20+r.IntN(4<<20), true
	}
	var b strings.Builder
	date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 7 * time.Minute)
	fmt.Fprintf(&b, "From: Sender %d <sender%d@example.org>\r\nTo: me@example.org\r\nSubject: %s message %d\r\n", i%97, i%97, tag, i)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <%s.%d@bench.example.org>\r\nMIME-Version: 1.0\r\n", date.Format(time.RFC1123Z), tag, i)
	text := func(n int) {
		words := []string{"lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do", "eiusmod", "tempor", "mail", "sync", "folder"}
		line := 0
		for n > 0 {
			w := words[r.IntN(len(words))]
			b.WriteString(w)
			n -= len(w) + 1
			line += len(w) + 1
			if line > 70 {
				b.WriteString("\r\n")
				line = 0
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString("\r\n")
	}
	if !attach {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
		text(size - b.Len())
		return []byte(b.String())
	}
	boundary := fmt.Sprintf("=_bench_%s_%d", tag, i)
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", boundary, boundary)
	text(1<<10 + r.IntN(3<<10))
	fmt.Fprintf(&b, "--%s\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"doc%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", boundary, i)
	raw := make([]byte, size*3/4)
	for j := range raw {
		raw[j] = byte(r.Uint32())
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return []byte(b.String())
}

func flagsFor(r *rand.Rand) model.Flags {
	var f model.Flags
	if r.IntN(100) < 85 {
		f |= model.FlagSeen
	}
	if r.IntN(100) < 5 {
		f |= model.FlagFlagged
	}
	if r.IntN(100) < 2 {
		f |= model.FlagReplied
	}
	return f
}

// appender batches APPENDs of one folder, at most 32 MiB per batch.
type appender struct {
	ctx    context.Context
	c      *imapconn.Conn
	folder string
	reqs   []imapconn.AppendReq
	bytes  int
}

func (a *appender) add(req imapconn.AppendReq) error {
	a.reqs = append(a.reqs, req)
	a.bytes += len(req.Body)
	if a.bytes > 32<<20 || len(a.reqs) >= 500 {
		return a.flush()
	}
	return nil
}

func (a *appender) flush() error {
	if len(a.reqs) == 0 {
		return nil
	}
	err := a.c.AppendBatch(a.ctx, a.folder, a.reqs, func(int, imapconn.AppendResult) error { return nil })
	a.reqs, a.bytes = nil, 0
	return err
}

func seed(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	var s server
	s.flags(fs)
	n := fs.Int("n", 6000, "number of messages")
	sd := fs.Uint64("seed", 1, "random seed")
	fs.Parse(args)
	ctx := context.Background()
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	existing, _, err := c.ListFolders(ctx)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, f := range existing {
		have[f.Name] = true
	}
	apps := make([]*appender, len(folders))
	for i, f := range folders {
		if !have[f.name] {
			if err := c.CreateFolder(ctx, f.name); err != nil {
				return err
			}
		}
		apps[i] = &appender{ctx: ctx, c: c, folder: f.name}
	}
	r := rand.New(rand.NewPCG(*sd, 1))
	var total int64
	for i := 0; i < *n; i++ {
		x, fi := r.IntN(100), 0
		for x >= folders[fi].share {
			x -= folders[fi].share
			fi++
		}
		body := message(r, "seed", i, false)
		total += int64(len(body))
		if err := apps[fi].add(imapconn.AppendReq{Flags: flagsFor(r), Body: body}); err != nil {
			return err
		}
	}
	for _, a := range apps {
		if err := a.flush(); err != nil {
			return err
		}
	}
	fmt.Printf("seeded %s: %d messages, %.1f MiB\n", s.user, *n, float64(total)/(1<<20))
	return nil
}

func serverDelta(args []string) error {
	fs := flag.NewFlagSet("server-delta", flag.ExitOnError)
	var s server
	s.flags(fs)
	pct := fs.Float64("pct", 1, "percent of the messages changed (half flags, half new)")
	sd := fs.Uint64("seed", 2, "random seed")
	fs.Parse(args)
	ctx := context.Background()
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	r := rand.New(rand.NewPCG(*sd, 2))
	changed, added := 0, 0
	for _, f := range folders {
		if _, err := c.Select(ctx, f.name, false); err != nil {
			return err
		}
		uids, err := c.UIDs(ctx)
		if err != nil {
			return err
		}
		k := int(float64(len(uids))**pct/200 + 0.5)
		if k == 0 {
			k = 1
		}
		var flag, unseen []model.UID
		for j := 0; j < k && len(uids) > 0; j++ {
			u := uids[(j*len(uids))/k]
			if j%2 == 0 {
				flag = append(flag, u)
			} else {
				unseen = append(unseen, u)
			}
		}
		if err := c.StoreFlags(ctx, flag, true, model.FlagFlagged); err != nil {
			return err
		}
		if err := c.StoreFlags(ctx, unseen, false, model.FlagSeen); err != nil {
			return err
		}
		changed += len(flag) + len(unseen)
		a := &appender{ctx: ctx, c: c, folder: f.name}
		for j := 0; j < k; j++ {
			if err := a.add(imapconn.AppendReq{Body: message(r, "delta", j, true)}); err != nil {
				return err
			}
		}
		if err := a.flush(); err != nil {
			return err
		}
		added += k
	}
	fmt.Printf("server delta on %s: %d messages' flags changed, %d new\n", s.user, changed, added)
	return nil
}

func localDelta(args []string) error {
	fs := flag.NewFlagSet("local-delta", flag.ExitOnError)
	dir := fs.String("maildir", "", "Maildir root")
	pct := fs.Float64("pct", 1, "percent of the messages changed (half renamed, half new)")
	sd := fs.Uint64("seed", 3, "random seed")
	fs.Parse(args)
	r := rand.New(rand.NewPCG(*sd, 3))
	var dirs []string
	err := filepath.WalkDir(*dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "cur" {
			dirs = append(dirs, filepath.Dir(p))
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(dirs)
	renamed, added := 0, 0
	for di, d := range dirs {
		ents, err := os.ReadDir(filepath.Join(d, "cur"))
		if err != nil {
			return err
		}
		var names []string
		for _, e := range ents {
			if strings.Contains(e.Name(), ":2,") {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		k := int(float64(len(names))**pct/200 + 0.5)
		if k == 0 {
			k = 1
		}
		for j := 0; j < k && len(names) > 0; j++ {
			old := names[(j*len(names))/k]
			i := strings.LastIndex(old, ":2,")
			fl := old[i+3:]
			if strings.Contains(fl, "S") {
				fl = strings.ReplaceAll(fl, "S", "")
			} else {
				fl = sortedFlags(fl + "S")
			}
			if err := os.Rename(filepath.Join(d, "cur", old), filepath.Join(d, "cur", old[:i+3]+fl)); err != nil {
				return err
			}
			renamed++
		}
		for j := 0; j < k; j++ {
			name := fmt.Sprintf("%d.M%dP%dQ%d.benchhost", time.Now().Unix(), r.Uint32(), os.Getpid(), di*100000+j)
			if err := os.WriteFile(filepath.Join(d, "new", name), message(r, "local", j, true), 0o600); err != nil {
				return err
			}
			added++
		}
	}
	fmt.Printf("local delta in %s: %d files renamed, %d new\n", *dir, renamed, added)
	return nil
}

func sortedFlags(s string) string {
	b := []byte(s)
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	return string(b)
}

func measure(args []string) error {
	fs := flag.NewFlagSet("measure", flag.ExitOnError)
	label := fs.String("label", "", "STEP/TOOL")
	out := fs.String("out", "", "file the result line is appended to")
	logPath := fs.String("log", "", "file the command's output is appended to")
	fs.Parse(args)
	cmdArgs := fs.Args()
	if len(cmdArgs) == 0 || *label == "" || *out == "" {
		return errors.New("measure: -label, -out and a command are required")
	}
	logf, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "== %s: %s\n", *label, strings.Join(cmdArgs, " "))
	cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	runErr := cmd.Run()
	wall := time.Since(start)
	if runErr != nil {
		return fmt.Errorf("%s: %s: %v (output in %s)", *label, cmdArgs[0], runErr, *logPath)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	f, err := os.OpenFile(*out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "%s %.3f %.3f %d\n", *label, wall.Seconds(), cpu.Seconds(), ru.Maxrss)
	fmt.Printf("%-24s wall %7.2fs  cpu %7.2fs  max RSS %6.1f MiB\n", *label, wall.Seconds(), cpu.Seconds(), float64(ru.Maxrss)/1024)
	return err
}

type sample struct{ wall, cpu, rss []float64 }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: benchtool report FILE")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	data := map[string]*sample{}
	var steps []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 {
			continue
		}
		i := strings.LastIndex(fields[0], "/")
		if i < 0 {
			continue
		}
		step, tool := fields[0][:i], fields[0][i+1:]
		if data[step+"/mailsync"] == nil {
			data[step+"/mailsync"], data[step+"/mbsync"] = &sample{}, &sample{}
			steps = append(steps, step)
		}
		s := data[fields[0]]
		if s == nil {
			return fmt.Errorf("%s: unknown tool %q", args[0], tool)
		}
		w, _ := strconv.ParseFloat(fields[1], 64)
		c, _ := strconv.ParseFloat(fields[2], 64)
		r, _ := strconv.ParseFloat(fields[3], 64)
		s.wall, s.cpu, s.rss = append(s.wall, w), append(s.cpu, c), append(s.rss, r/1024)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	ratio := func(a, b float64) string {
		if b == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	fmt.Println("| step | runs | wall mailsync | wall mbsync | wall ratio | CPU mailsync | CPU mbsync | CPU ratio | max RSS mailsync | max RSS mbsync |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, step := range steps {
		a, b := data[step+"/mailsync"], data[step+"/mbsync"]
		aw, bw, ac, bc := median(a.wall), median(b.wall), median(a.cpu), median(b.cpu)
		ar, br := 0.0, 0.0
		for _, v := range a.rss {
			ar = max(ar, v)
		}
		for _, v := range b.rss {
			br = max(br, v)
		}
		fmt.Printf("| %s | %d | %.2f s | %.2f s | %s | %.2f s | %.2f s | %s | %.0f MiB | %.0f MiB |\n",
			step, len(a.wall), aw, bw, ratio(aw, bw), ac, bc, ratio(ac, bc), ar, br)
	}
	return nil
}
