package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/nodeshare/nodeshare/pipeline/stage"
)

// crashFromEnv arms the one crash hook (stage.Crash) from
// NODESHARE_CRASH_AT=<point>[:<n>]: at the n-th time a stage reaches point
// (default the first) the process kills itself with SIGKILL, as kill -9
// would (no deferred cleanup, no offset commit). The kill tests use it to
// stop a processor, a sink or a payout run at an exact step. Unset in
// production: nil, which costs a nil check per point.
func crashFromEnv() stage.Crash {
	spec := os.Getenv("NODESHARE_CRASH_AT")
	if spec == "" {
		return nil
	}
	point, nStr, _ := strings.Cut(spec, ":")
	n := 1
	if v, err := strconv.Atoi(nStr); err == nil && v > 0 {
		n = v
	}
	var hits atomic.Int64
	return func(p string) {
		if p == point && hits.Add(1) == int64(n) {
			fmt.Fprintf(os.Stderr, "nodeshare: NODESHARE_CRASH_AT=%s: killing myself\n", spec)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
}
