package icsim

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Certification rounds (group commit). The IC certifies its state once per
// round, and every reply of that round carries the same root hash and the
// same signature; only the pruned part of the tree differs. Synchronous call
// replies work the same way here, so a burst of calls costs one BLS
// signature instead of one each.
//
// A call joins the open round. If no round is being signed, the caller
// closes the round and signs it at once, so a lone call waits for nothing.
// Calls that arrive while a round is being signed gather in the next round,
// which is signed as soon as the current one is done. That next round is
// signed by a goroutine, never by one of its waiters: a waiter whose request
// is cancelled can leave without stalling the others.

// certRounds is the round currently collecting calls. Its zero value is
// ready to use.
type certRounds struct {
	mu      sync.Mutex
	open    *certRound // collecting members; nil when nobody waits
	signing bool       // a round is being signed; new calls join open
	last    time.Time  // when the last round was closed for signing
}

// certRound is one round: its state tree, its members, and once done is
// closed, one certificate per member (or err for all of them).
type certRound struct {
	tree  *stateTree
	rids  [][32]byte // member i asked for request_status/rids[i]
	certs [][]byte
	err   error
	done  chan struct{}
}

// certifyInRound returns a certificate for request_status/<rid>, whose
// subtree is status, signed in a round shared with concurrent calls.
// status is not modified and must not be modified later.
func (s *Server) certifyInRound(ctx context.Context, rid [32]byte, status *stateTree) ([]byte, error) {
	if status == nil {
		return nil, fmt.Errorf("icsim: no status to certify for request %x", rid)
	}
	c := &s.rounds
	c.mu.Lock()
	if c.open == nil {
		c.open = &certRound{tree: newStateTree(), done: make(chan struct{})}
	}
	r := c.open
	i := len(r.rids)
	r.rids = append(r.rids, rid)
	r.tree.graft(status, []byte("request_status"), rid[:])
	if c.signing {
		c.mu.Unlock()
		select {
		case <-r.done:
			return r.result(i)
		case <-ctx.Done():
			// The round goes on without us; its signer does not wait.
			return nil, fmt.Errorf("icsim: waiting for certification round: %w", ctx.Err())
		}
	}
	c.signing = true
	c.mu.Unlock()
	s.roundPace()
	if got := c.take(); got != r {
		// Only the holder of signing takes rounds: ours is still open.
		panic("icsim: certification round taken by another signer")
	}
	s.signRound(r)
	s.nextRounds()
	return r.result(i)
}

// roundPace waits until RoundInterval has passed since the last round was
// closed; the open round keeps collecting calls meanwhile.
func (s *Server) roundPace() {
	if s.opts.RoundInterval <= 0 {
		return
	}
	s.rounds.mu.Lock()
	wait := time.Until(s.rounds.last.Add(s.opts.RoundInterval))
	s.rounds.mu.Unlock()
	if wait > 0 {
		time.Sleep(wait)
	}
}

// result is member i's certificate; only after done is closed.
func (r *certRound) result(i int) ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	return r.certs[i], nil
}

// nextRounds is called when a round has been signed: the rounds that filled
// up meanwhile are signed one after the other by a goroutine, so the caller
// that signed the first one can answer now. The goroutine ends when no call
// is waiting.
func (s *Server) nextRounds() {
	if !s.rounds.pending() {
		return
	}
	go func() {
		for s.rounds.pending() {
			s.roundPace()
			s.signRound(s.rounds.take())
		}
	}()
}

// pending reports whether calls wait in the open round; when none do, it
// records that signing has stopped.
func (c *certRounds) pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.signing = c.open != nil
	return c.signing
}

// take closes the open round for signing (signing stays set).
func (c *certRounds) take() *certRound {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.open
	c.open = nil
	c.last = time.Now()
	return r
}

// signRound adds /time, signs the round's root once and cuts each member a
// certificate pruned to its own request_status/<rid> and /time. Every
// pruned tree has the round's root digest, so the one signature fits all.
func (s *Server) signRound(r *certRound) {
	defer close(r.done)
	r.tree.set(leb(uint64(s.wall().UnixNano())), []byte("time"))
	root := newDigestTree(r.tree.node())
	sig, err := s.signRoot(root.digest)
	if err != nil {
		r.err = err
		return
	}
	certs := make([][]byte, len(r.rids))
	for i, rid := range r.rids {
		w := root.witness([][][]byte{{[]byte("request_status"), rid[:]}, {[]byte("time")}})
		if certs[i], err = encodeCertificate(w, sig); err != nil {
			r.err = err
			return
		}
	}
	r.certs = certs
}

// CertSignatures is the number of BLS signatures made so far (rounds,
// read_state and certified data): with Calls, what the rounds saved.
func (s *Server) CertSignatures() uint64 { return s.certSignatures.Load() }
