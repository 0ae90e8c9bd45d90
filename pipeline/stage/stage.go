package stage

import (
	"context"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// Clock is the time a stage reads. Production passes SystemClock; the
// deterministic simulations pass a clock they move by hand.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// Crash is nodeshare's one crash-injection mechanism: a stage calls
// Crash.At(point) at each step where a kill -9 must be survivable, and the
// kill tests and the deterministic simulations arm it for one point. In
// production it is nil and costs a nil check. cmd/nodeshare arms it from
// NODESHARE_CRASH_AT=point[:n] (the n-th time the point is reached the
// process kills itself with SIGKILL: no deferred cleanup, no commit).
type Crash func(point string)

// At fires the hook for point, if one is set.
func (c Crash) At(point string) {
	if c != nil {
		c(point)
	}
}

// Publisher is the port to the event log (Kafka) that stages publish
// facts through.
type Publisher interface {
	// PublishOnce publishes each fact whose key is not yet on its topic.
	// A key already present with the same content is skipped (a re-run
	// never duplicates a fact); a key present with other content is never
	// overwritten: the fact is left out and reported in the error (a
	// *schemas.ConflictError), the other facts are still published. It
	// returns once the broker acknowledged every record it sent.
	PublishOnce(ctx context.Context, facts []schemas.Fact) (schemas.PublishStats, error)
}
