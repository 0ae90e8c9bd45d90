package stage

import (
	"context"
	"runtime"
	"sync"

	"github.com/nodeshare/nodeshare/schemas"
)

// BatchHandler is what a stream stage (process, sink) hands the consume
// loop: the loop fetches a batch, calls Handle, and commits the batch's
// offsets only once Handle returned nil. Prepare is pure (it decodes and
// validates, with no outputs and no shared state), so the loop prepares
// the next batch while the current one is handled. Handle must make its
// outputs durable before it returns nil; an error stops the loop without a
// commit and the batch is delivered again: Handle is idempotent.
//
// It has the fields of connectors/kafka.Stage, so cmd/nodeshare hands it to
// the Kafka loop as kafka.Stage(h) and the stage never imports the loop.
type BatchHandler struct {
	Prepare func(batch []schemas.Message) any
	Handle  func(ctx context.Context, batch []schemas.Message, prepared any) error
}

// Parallel applies f to every element of in on every core and returns the
// results in the order of in. f must be pure (a stage's Prepare work:
// decoding, validating, hashing). Below 256 elements, or on one core, it
// runs in the caller's goroutine.
func Parallel[T, R any](in []T, f func(T) R) []R {
	out := make([]R, len(in))
	workers := runtime.GOMAXPROCS(0)
	if len(in) < 256 || workers < 2 {
		for i, x := range in {
			out[i] = f(x)
		}
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(in) + workers - 1) / workers
	for lo := 0; lo < len(in); lo += chunk {
		hi := min(lo+chunk, len(in))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				out[i] = f(in[i])
			}
		}()
	}
	wg.Wait()
	return out
}
