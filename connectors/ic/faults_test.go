package ic_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
)

// TestRetryAfterLostResponse is the payout retry contract: the call was
// committed but the response lost; resending the same request (same
// created_at_time and memo) yields Duplicate of the original block.
func TestRetryAfterLostResponse(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []icsim.CallMode{icsim.CallModeSync, icsim.CallModeAsync} {
		t.Run(string(mode), func(t *testing.T) {
			s, hs := startSim(t, mode)
			c := funded(t, s, hs, 1_000_000)
			req := ic.TransferRequest{To: dest(t), AmountE8s: 5000, Memo: []byte("intent-9"), CreatedAtNanos: uint64(time.Now().UnixNano())}

			s.SetFaults(icsim.Faults{FailAfterExecuteNext: 1})
			_, err := c.Transfer(ctx, req)
			if !ic.IsTransient(err) || !ic.IsOutcomeUnknown(err) {
				t.Fatalf("lost response: want transient outcome-unknown, got %v", err)
			}
			_, err = c.Transfer(ctx, req)
			blk, dup := ic.IsDuplicate(err)
			if !dup || blk != 1 {
				t.Fatalf("retry: want Duplicate of block 1, got %v", err)
			}
			if d := s.Ledger(); d.ChainLen != 2 {
				t.Fatalf("%d blocks, want 2 (mint + one transfer)", d.ChainLen)
			}
		})
	}
}

func TestFailBeforeExecuteAndReject(t *testing.T) {
	ctx := context.Background()
	s, hs := startSim(t, icsim.CallModeSync)
	c := funded(t, s, hs, 1_000_000)
	req := ic.TransferRequest{To: dest(t), AmountE8s: 5000, CreatedAtNanos: uint64(time.Now().UnixNano())}

	s.SetFaults(icsim.Faults{FailBeforeExecuteNext: 1})
	if _, err := c.Transfer(ctx, req); !ic.IsTransient(err) {
		t.Fatalf("want transient, got %v", err)
	}
	s.SetFaults(icsim.Faults{RejectNext: 1})
	_, err := c.Transfer(ctx, req)
	var e *ic.Error
	if !errors.As(err, &e) || e.RejectCode != 2 || !ic.IsTransient(err) {
		t.Fatalf("want transient reject code 2, got %v", err)
	}
	blk, err := c.Transfer(ctx, req)
	if err != nil || blk != 1 {
		t.Fatalf("after faults: block %d, %v", blk, err)
	}
}

func TestSlowReplicaHitsContextDeadline(t *testing.T) {
	s, hs := startSim(t, icsim.CallModeSync)
	c := funded(t, s, hs, 1_000_000)
	s.SetFaults(icsim.Faults{DelayMillis: 500})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Transfer(ctx, ic.TransferRequest{To: dest(t), AmountE8s: 1, CreatedAtNanos: uint64(time.Now().UnixNano())})
	if !ic.IsTransient(err) || !ic.IsOutcomeUnknown(err) {
		t.Fatalf("want transient outcome-unknown, got %v", err)
	}
}

// TestConcurrentResendsExecuteOnce: many concurrent sends of one transfer
// (same created_at_time and memo) move the money exactly once.
func TestConcurrentResendsExecuteOnce(t *testing.T) {
	ctx := context.Background()
	s, hs := startSim(t, icsim.CallModeAsync)
	c := funded(t, s, hs, 1_000_000)
	req := ic.TransferRequest{To: dest(t), AmountE8s: 100_000, Memo: []byte("once"), CreatedAtNanos: uint64(time.Now().UnixNano())}
	const n = 8
	type result struct {
		blk uint64
		err error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			blk, err := c.Transfer(ctx, req)
			results <- result{blk, err}
		}()
	}
	oks, dups := 0, 0
	for range n {
		r := <-results
		switch b, dup := ic.IsDuplicate(r.err); {
		case r.err == nil && r.blk == 1:
			oks++
		case dup && b == 1:
			dups++
		default:
			t.Fatalf("unexpected result %d, %v", r.blk, r.err)
		}
	}
	if oks != 1 || dups != n-1 {
		t.Fatalf("%d Ok, %d Duplicate", oks, dups)
	}
	if bal, err := c.BalanceOf(ctx, ic.Account{Owner: c.Sender()}); err != nil || bal != 1_000_000-100_000-10_000 {
		t.Fatalf("balance %d %v", bal, err)
	}
}

// TestProcessingThenReplied: a sync call that is still processing answers
// 202; the client polls through "processing" to the certified reply.
func TestProcessingThenReplied(t *testing.T) {
	ctx := context.Background()
	s, hs := startSim(t, icsim.CallModeSync)
	c := funded(t, s, hs, 1_000_000)
	s.SetFaults(icsim.Faults{ProcessingMillis: 150})
	start := time.Now()
	blk, err := c.Transfer(ctx, ic.TransferRequest{To: dest(t), AmountE8s: 1, CreatedAtNanos: uint64(time.Now().UnixNano())})
	if err != nil || blk != 1 {
		t.Fatalf("block %d, %v", blk, err)
	}
	if time.Since(start) < 150*time.Millisecond {
		t.Fatal("reply arrived before processing finished")
	}
}
