package main

import (
	"os"
	"runtime"
	"runtime/pprof"
)

// profile writes a CPU profile to $MAILSYNC_CPUPROFILE and, at the end,
// a heap profile (allocations and what was live at the last GC) to
// $MAILSYNC_MEMPROFILE, for bench/compare.sh work (README "Speed"): set
// neither and it does nothing. It returns the function that stops and
// writes them.
func profile() func() {
	var stops []func()
	if p := os.Getenv("MAILSYNC_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil && pprof.StartCPUProfile(f) == nil {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		}
	}
	if p := os.Getenv("MAILSYNC_MEMPROFILE"); p != "" {
		runtime.MemProfileRate = 4096
		stops = append(stops, func() {
			if f, err := os.Create(p); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		})
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}
