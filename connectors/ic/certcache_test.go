package ic

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/certification"
	"github.com/aviate-labs/agent-go/certification/bls"
	"github.com/aviate-labs/agent-go/certification/hashtree"
	"github.com/aviate-labs/agent-go/principal"
	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
)

// roundCerts signs one tree with a fresh root key and returns two
// certificates of that round, each pruned to one branch (same root digest,
// same signature), and the root key DER.
func roundCerts(t *testing.T) (a, b certification.Certificate, rootKeyDER []byte) {
	t.Helper()
	left := hashtree.Labeled{Label: []byte("a"), Tree: hashtree.Leaf("reply a")}
	right := hashtree.Labeled{Label: []byte("b"), Tree: hashtree.Leaf("reply b")}
	full := hashtree.Fork{LeftTree: left, RightTree: right}
	sk := bls.NewSecretKeyByCSPRNG()
	digest := full.Reconstruct()
	sig, err := sk.Sign(append(hashtree.DomainSeparator("ic-state-root"), digest[:]...))
	if err != nil {
		t.Fatal(err)
	}
	sig48 := (*bls12381.G1Affine)(sig).Bytes()
	pk := (*bls12381.G2Affine)(sk.PublicKey()).Bytes()
	rootKeyDER, err = certification.PublicBLSKeyToDER(pk[:])
	if err != nil {
		t.Fatal(err)
	}
	a = certification.Certificate{
		Tree:      hashtree.NewHashTree(hashtree.Fork{LeftTree: left, RightTree: hashtree.Pruned(right.Reconstruct())}),
		Signature: sig48[:],
	}
	b = certification.Certificate{
		Tree:      hashtree.NewHashTree(hashtree.Fork{LeftTree: hashtree.Pruned(left.Reconstruct()), RightTree: right}),
		Signature: append([]byte{}, sig48[:]...),
	}
	return a, b, rootKeyDER
}

// countingCache is a cache around the real VerifyCertificate that counts
// how often the expensive check runs.
func countingCache(size int) (*certCache, *atomic.Int64) {
	var n atomic.Int64
	return newCertCache(size, func(c certification.Certificate, id principal.Principal, der []byte) error {
		n.Add(1)
		return certification.VerifyCertificate(c, id, der)
	}), &n
}

func TestCertCacheHitSkipsVerification(t *testing.T) {
	a, b, der := roundCerts(t)
	c, n := countingCache(16)
	if err := c.Verify(a, LedgerCanisterID, der); err != nil {
		t.Fatal(err)
	}
	// Same certificate again, and the other reply of the same round.
	for _, cert := range []certification.Certificate{a, b} {
		if err := c.Verify(cert, LedgerCanisterID, der); err != nil {
			t.Fatal(err)
		}
	}
	if got := n.Load(); got != 1 {
		t.Fatalf("%d verifications for one round, want 1", got)
	}
	// Another canister id is another key (delegation ranges depend on it).
	if err := c.Verify(a, GovernanceCanisterID, der); err != nil {
		t.Fatal(err)
	}
	if got := n.Load(); got != 2 {
		t.Fatalf("%d verifications, want 2", got)
	}
}

func TestCertCacheTamperedMissesAndFails(t *testing.T) {
	a, _, der := roundCerts(t)
	_, _, otherDER := roundCerts(t)
	c, n := countingCache(16)
	if err := c.Verify(a, LedgerCanisterID, der); err != nil {
		t.Fatal(err)
	}
	tamperedTree := a
	tamperedTree.Tree = hashtree.NewHashTree(hashtree.Fork{
		LeftTree:  hashtree.Labeled{Label: []byte("a"), Tree: hashtree.Leaf("forged reply")},
		RightTree: a.Tree.Root.(hashtree.Fork).RightTree,
	})
	tamperedSig := a
	tamperedSig.Signature = append([]byte{}, a.Signature...)
	tamperedSig.Signature[len(tamperedSig.Signature)-1] ^= 0x01
	cases := []struct {
		name string
		cert certification.Certificate
		der  []byte
	}{
		{"tampered tree", tamperedTree, der},
		{"tampered signature", tamperedSig, der},
		{"wrong root key", a, otherDER},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Twice: a failure is never cached, so both run the check.
			for range 2 {
				before := n.Load()
				if err := c.Verify(tc.cert, LedgerCanisterID, tc.der); err == nil {
					t.Fatal("verified")
				}
				if n.Load() != before+1 {
					t.Fatal("answered from the cache")
				}
			}
		})
	}
	if got := c.len(); got != 1 {
		t.Fatalf("%d cached, want only the good one", got)
	}
	if err := c.Verify(certification.Certificate{}, LedgerCanisterID, der); err == nil {
		t.Fatal("a certificate without a tree verified")
	}
}

// TestCertCacheKeyCoversDelegation: the delegation decides which key checks
// the signature, so certificates that differ only there never share an entry.
func TestCertCacheKeyCoversDelegation(t *testing.T) {
	a, _, der := roundCerts(t)
	withDelegation := func(subnet string) certification.Certificate {
		d := a
		d.Delegation = &certification.Delegation{SubnetId: principal.MustDecode(subnet), Certificate: a}
		return d
	}
	key := func(cert certification.Certificate) [32]byte {
		k, ok := certCacheKey(cert, LedgerCanisterID, der)
		if !ok {
			t.Fatal("no key")
		}
		return k
	}
	none, root, other := key(a), key(withDelegation(certification.RootSubnetID)), key(withDelegation("aaaaa-aa"))
	if none == root || none == other || root == other {
		t.Fatal("certificates that differ in their delegation share a key")
	}
	if key(withDelegation(certification.RootSubnetID)) != root {
		t.Fatal("the same delegation gave two keys")
	}
}

func TestCertCacheEvictsOldest(t *testing.T) {
	const size = 4
	var n atomic.Int64
	c := newCertCache(size, func(certification.Certificate, principal.Principal, []byte) error {
		n.Add(1)
		return nil
	})
	cert := func(i int) certification.Certificate {
		return certification.Certificate{Tree: hashtree.NewHashTree(hashtree.Leaf{byte(i)}), Signature: []byte{byte(i)}}
	}
	for i := range 10 {
		if err := c.Verify(cert(i), LedgerCanisterID, nil); err != nil {
			t.Fatal(err)
		}
		if got := c.len(); got > size {
			t.Fatalf("%d cached, bound is %d", got, size)
		}
	}
	if c.len() != size || len(c.ring) != size {
		t.Fatalf("%d cached in a ring of %d, want %d", c.len(), len(c.ring), size)
	}
	before := n.Load()
	_ = c.Verify(cert(9), LedgerCanisterID, nil) // newest: cached
	if n.Load() != before {
		t.Fatal("newest entry was evicted")
	}
	_ = c.Verify(cert(0), LedgerCanisterID, nil) // oldest: evicted
	if n.Load() != before+1 {
		t.Fatal("oldest entry was kept beyond the bound")
	}
}

func TestCertCacheConcurrent(t *testing.T) {
	a, b, der := roundCerts(t)
	bad := a
	bad.Signature = append([]byte{}, a.Signature...)
	bad.Signature[0] ^= 0x01
	c, n := countingCache(2)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Go(func() {
			for range 4 {
				if err := c.Verify(a, LedgerCanisterID, der); err != nil {
					errs <- err
				}
				if err := c.Verify(b, LedgerCanisterID, der); err != nil {
					errs <- err
				}
				if i%4 == 0 {
					if c.Verify(bad, LedgerCanisterID, der) == nil {
						errs <- errors.New("tampered signature verified")
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if c.len() > 2 {
		t.Fatalf("%d cached, bound is 2", c.len())
	}
	t.Logf("%d verifications for %d calls", n.Load(), 16*4*2+4*4)
}

// TestCertCacheConcurrentMissesVerifyOnce: the replies of one round arrive
// together; the first miss verifies and the others wait for its answer
// instead of running the same pairing, good or bad.
func TestCertCacheConcurrentMissesVerifyOnce(t *testing.T) {
	a, b, der := roundCerts(t)
	for _, tc := range []struct {
		name string
		fail error
	}{{"good", nil}, {"bad", errors.New("bad signature")}} {
		var n atomic.Int64
		gate := make(chan struct{})
		c := newCertCache(16, func(certification.Certificate, principal.Principal, []byte) error {
			n.Add(1)
			<-gate // hold the first verification until every caller is waiting
			return tc.fail
		})
		const callers = 8
		errs := make(chan error, callers)
		for i := range callers {
			cert := a
			if i%2 == 1 {
				cert = b // the other reply of the same round: same key
			}
			go func() { errs <- c.Verify(cert, LedgerCanisterID, der) }()
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			c.mu.Lock()
			waiters := 0
			for _, f := range c.inflight {
				waiters += f.waiters
			}
			c.mu.Unlock()
			if waiters == callers-1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d callers waiting on the flight, want %d", tc.name, waiters, callers-1)
			}
			runtime.Gosched()
		}
		close(gate)
		for range callers {
			if err := <-errs; !errors.Is(err, tc.fail) {
				t.Fatalf("%s: got %v, want %v", tc.name, err, tc.fail)
			}
		}
		if n.Load() != 1 {
			t.Fatalf("%s: %d verifications for %d concurrent callers of one round, want 1", tc.name, n.Load(), callers)
		}
		if got := c.len(); (tc.fail == nil) != (got == 1) {
			t.Fatalf("%s: %d cached", tc.name, got)
		}
	}
}
