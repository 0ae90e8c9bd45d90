package vault

import (
	"context"
	"sync"
	"time"
)

// signBatcher coalesces concurrent signatures into transit batch requests
// (group commit). A payout signs one request per transfer from many
// goroutines at once; one Vault request per signature spends most of
// Vault's CPU on HTTP, auth and audit per request, not on Ed25519. A
// caller whose request finds a free flusher slot is sent at once (no added
// latency when alone); callers that arrive while maxInflight batches are in
// flight queue up and leave together in the next one.
type signBatcher struct {
	sign        func(ctx context.Context, msgs [][]byte) ([][]byte, []error, error)
	timeout     time.Duration
	maxBatch    int
	maxInflight int

	mu      sync.Mutex
	queue   []*signCall
	running int
}

type signCall struct {
	msg  []byte
	sig  []byte
	err  error
	done chan struct{}
}

// do signs msg, in a batch with whatever else is waiting.
func (b *signBatcher) do(msg []byte) ([]byte, error) {
	c := &signCall{msg: msg, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if b.running < b.maxInflight {
		b.running++
		go b.drain()
	}
	b.mu.Unlock()
	<-c.done
	return c.sig, c.err
}

// drain sends batches until the queue is empty; it holds one flusher slot.
func (b *signBatcher) drain() {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		n := min(len(b.queue), b.maxBatch)
		batch := b.queue[:n:n]
		b.queue = append([]*signCall(nil), b.queue[n:]...)
		b.mu.Unlock()
		b.send(batch)
	}
}

func (b *signBatcher) send(batch []*signCall) {
	msgs := make([][]byte, len(batch))
	for i, c := range batch {
		msgs[i] = c.msg
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	sigs, errs, err := b.sign(ctx, msgs)
	cancel()
	for i, c := range batch {
		if err != nil {
			c.err = err
		} else {
			c.sig, c.err = sigs[i], errs[i]
		}
		close(c.done)
	}
}
