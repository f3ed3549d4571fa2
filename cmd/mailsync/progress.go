package main

import (
	"io"
	"strconv"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressBar draws the engine's progress (sync.Progress) on a terminal:
// bytes with ETA, and messages in the description.
type progressBar struct {
	mu         gosync.Mutex
	bar        *progressbar.ProgressBar
	name       string
	totalMsgs  atomic.Int64
	doneMsgs   atomic.Int64
	totalBytes int64
}

func newProgressBar(w io.Writer, name string) *progressBar {
	p := &progressBar{name: name}
	p.bar = progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription(name),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSpinnerType(14),
	)
	return p
}

func (p *progressBar) Plan(msgs int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.totalMsgs.Add(int64(msgs))
	p.totalBytes += bytes
	if p.totalBytes > 0 {
		p.bar.ChangeMax64(p.totalBytes)
	}
	p.describe()
}

func (p *progressBar) Done(msgs int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.doneMsgs.Add(int64(msgs))
	p.describe()
	p.bar.Add64(bytes)
}

func (p *progressBar) describe() {
	p.bar.Describe(p.name + " " + strconv.FormatInt(p.doneMsgs.Load(), 10) + "/" + strconv.FormatInt(p.totalMsgs.Load(), 10) + " msgs")
}

func (p *progressBar) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar.Finish()
	p.bar.Clear()
}

// Clear erases the bar so that a line can be printed; it is drawn again
// on the next update.
func (p *progressBar) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar.Clear()
}
