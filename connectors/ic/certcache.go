package ic

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync"

	"github.com/aviate-labs/agent-go/certification"
	"github.com/aviate-labs/agent-go/principal"
	"github.com/fxamacker/cbor/v2"
)

// certCacheSize bounds the verified-certificate cache. One entry is one
// certification round, so a few thousand cover minutes of calls.
const certCacheSize = 4096

// certCache remembers certificates whose signature already verified. The
// IC certifies its state once per round, and every reply of a round carries
// the same root hash and signature with a differently pruned tree, so the
// BLS check (a pairing, plus parsing and subgroup-checking the root key) is
// the same computation for all of them: do it once per round.
//
// The key covers everything VerifyCertificate's answer depends on: the root
// key, the canister id (delegation range check), the delegation, the
// signature and the tree's root digest. A tampered tree or signature is a
// different key, so a good certificate in the cache never lets a bad one
// pass. Only successes are stored. Freshness (VerifyTime) and the
// request_status lookup are not cached: callers run them on every reply.
type certCache struct {
	verify func(certification.Certificate, principal.Principal, []byte) error

	mu       sync.Mutex
	seen     map[[32]byte]struct{}
	inflight map[[32]byte]*certFlight // verifications under way
	ring     [][32]byte               // keys in insertion order; ring[next] goes first when full
	next     int
	size     int
}

// newCertCache caches up to size certificates that verify accepted.
func newCertCache(size int, verify func(certification.Certificate, principal.Principal, []byte) error) *certCache {
	size = max(size, 1)
	return &certCache{verify: verify, seen: make(map[[32]byte]struct{}, size), inflight: map[[32]byte]*certFlight{}, size: size}
}

// certFlight is one verification that callers with the same key wait for:
// the replies of a round arrive together, and without it each would run
// the same pairing at the same time.
type certFlight struct {
	done    chan struct{}
	err     error
	waiters int // callers waiting on done (tests read it)
}

// Verify is certification.VerifyCertificate, answered from the cache for a
// certificate verified before.
func (c *certCache) Verify(cert certification.Certificate, canister principal.Principal, rootKeyDER []byte) error {
	if cert.Tree.Root == nil {
		// agent-go would panic computing the digest of a missing tree.
		return errors.New("certificate has no tree")
	}
	key, ok := certCacheKey(cert, canister, rootKeyDER)
	if !ok {
		return c.verify(cert, canister, rootKeyDER)
	}
	c.mu.Lock()
	if _, hit := c.seen[key]; hit {
		c.mu.Unlock()
		return nil
	}
	if f, ok := c.inflight[key]; ok {
		f.waiters++
		c.mu.Unlock()
		<-f.done
		return f.err // the same inputs: the same answer
	}
	f := &certFlight{done: make(chan struct{})}
	c.inflight[key] = f
	c.mu.Unlock()
	f.err = c.verify(cert, canister, rootKeyDER)
	c.mu.Lock()
	delete(c.inflight, key)
	if f.err == nil {
		c.addLocked(key)
	}
	c.mu.Unlock()
	close(f.done)
	return f.err
}

// addLocked stores key; callers hold c.mu.
func (c *certCache) addLocked(key [32]byte) {
	if _, ok := c.seen[key]; ok {
		return
	}
	if len(c.ring) < c.size {
		c.ring = append(c.ring, key)
	} else {
		delete(c.seen, c.ring[c.next])
		c.ring[c.next] = key
		c.next = (c.next + 1) % c.size
	}
	c.seen[key] = struct{}{}
}

// len is the number of cached certificates.
func (c *certCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// certCacheKey is SHA-256 over the length-prefixed root key, canister id,
// delegation CBOR (empty without one), signature and root digest. The
// length prefixes keep two different field splits from hashing alike. ok
// is false when the delegation cannot be encoded: then nothing is cached.
func certCacheKey(cert certification.Certificate, canister principal.Principal, rootKeyDER []byte) (key [32]byte, ok bool) {
	var delegation []byte
	if cert.Delegation != nil {
		var err error
		if delegation, err = cbor.Marshal(cert.Delegation); err != nil {
			return key, false
		}
	}
	digest := cert.Tree.Digest()
	h := sha256.New()
	for _, f := range [][]byte{rootKeyDER, canister.Raw, delegation, cert.Signature, digest[:]} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write(f)
	}
	h.Sum(key[:0])
	return key, true
}
