package main

import (
	"context"
	"fmt"
	"io"
)

// runICSim is a placeholder; ops/icsim replaces it.
func runICSim(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "icsim: not implemented yet")
	return 1
}
