//go:build !linux

package maildir

// watch is inotify's (watch_linux.go); elsewhere a folder is never
// watched, and Unchanged reads its directories.
type watch struct{ listed bool }

func startWatch(path string) *watch                      { return nil }
func (w *watch) expect(dir string, in bool, name string) {}
func (w *watch) drain(path string) bool                  { return false }
func (w *watch) close()                                  {}
