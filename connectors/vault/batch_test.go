package vault

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTransit answers batches by echoing "sig:"+msg, counts requests and
// their sizes, and fails the items or batches it is told to.
type fakeTransit struct {
	requests atomic.Int64
	largest  atomic.Int64
	hold     chan struct{} // when set, every request waits for it
	failItem string
	failAll  error
}

func (f *fakeTransit) sign(_ context.Context, msgs [][]byte) ([][]byte, []error, error) {
	f.requests.Add(1)
	for {
		l := f.largest.Load()
		if int64(len(msgs)) <= l || f.largest.CompareAndSwap(l, int64(len(msgs))) {
			break
		}
	}
	if f.hold != nil {
		<-f.hold
	}
	if f.failAll != nil {
		return nil, nil, f.failAll
	}
	sigs, errs := make([][]byte, len(msgs)), make([]error, len(msgs))
	for i, m := range msgs {
		if string(m) == f.failItem {
			errs[i] = fmt.Errorf("%w: item %q refused", ErrSigning, m)
			continue
		}
		sigs[i] = append([]byte("sig:"), m...)
	}
	return sigs, errs, nil
}

func newTestBatcher(f *fakeTransit) *signBatcher {
	return &signBatcher{sign: f.sign, timeout: time.Second, maxBatch: 8, maxInflight: 1}
}

// A lone signature is sent at once, alone.
func TestSignBatcherAlone(t *testing.T) {
	f := &fakeTransit{}
	b := newTestBatcher(f)
	sig, err := b.do([]byte("m1"))
	if err != nil || string(sig) != "sig:m1" {
		t.Fatalf("got %q, %v", sig, err)
	}
	if f.requests.Load() != 1 || f.largest.Load() != 1 {
		t.Fatalf("requests %d, largest batch %d; want 1 and 1", f.requests.Load(), f.largest.Load())
	}
}

// Signatures asked for while a request is in flight leave together, each
// caller gets its own signature, and batches respect maxBatch.
func TestSignBatcherCoalesces(t *testing.T) {
	f := &fakeTransit{hold: make(chan struct{})}
	b := newTestBatcher(f)
	const n = 20
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	start := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sig []byte
			sig, errs[i] = b.do([]byte(fmt.Sprintf("m%d", i)))
			got[i] = string(sig)
		}()
	}
	start(0)
	waitFor(t, func() bool { return f.requests.Load() == 1 }) // the first is in flight, held
	for i := 1; i < n; i++ {
		start(i)
	}
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.queue) == n-1 })
	close(f.hold)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != fmt.Sprintf("sig:m%d", i) {
			t.Fatalf("call %d: %q, %v", i, got[i], errs[i])
		}
	}
	// 1 + ceil(19/8) = 4 requests, the largest 8.
	if f.requests.Load() != 4 || f.largest.Load() != 8 {
		t.Fatalf("requests %d, largest batch %d; want 4 and 8", f.requests.Load(), f.largest.Load())
	}
	// The flusher gives its slot back just after the last reply.
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.running == 0 })
}

// A refused item fails only its caller; a failed request fails every caller
// of the batch with ErrSigning.
func TestSignBatcherErrors(t *testing.T) {
	f := &fakeTransit{failItem: "bad"}
	b := newTestBatcher(f)
	if _, err := b.do([]byte("bad")); !errors.Is(err, ErrSigning) {
		t.Fatalf("refused item: %v", err)
	}
	if sig, err := b.do([]byte("good")); err != nil || string(sig) != "sig:good" {
		t.Fatalf("good item after a refused one: %q, %v", sig, err)
	}
	f.failAll = fmt.Errorf("vault: sign: %w: sealed", ErrSigning)
	if _, err := b.do([]byte("good")); !errors.Is(err, ErrSigning) {
		t.Fatalf("failed request: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
