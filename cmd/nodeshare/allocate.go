package main

import (
	"context"
	"fmt"
	"io"
)

// runAllocate is a placeholder; the allocation engine replaces it.
func runAllocate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "allocate: not implemented yet")
	return 1
}
