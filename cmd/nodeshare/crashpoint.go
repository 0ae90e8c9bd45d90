package main

import (
	"os"
	"syscall"
)

// crashpoint kills the process with SIGKILL when NODESHARE_CRASHPOINT names
// this point: the crash tests use it to stop a processor, a sink or a
// payout run at an exact step, as kill -9 would (no deferred cleanup, no
// offset commit). Unset in production, it costs one getenv per call.
func crashpoint(name string) {
	if os.Getenv("NODESHARE_CRASHPOINT") == name {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
