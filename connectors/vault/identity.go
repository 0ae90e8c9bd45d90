package vault

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal"
)

// ed25519DERPrefix is the SubjectPublicKeyInfo header of a raw Ed25519 key
// (OID 1.3.101.112), as the IC expects in sender_pubkey.
var ed25519DERPrefix = []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}

// TransitIdentity is an agent-go identity whose private key stays in Vault.
type TransitIdentity struct {
	c       *Client
	pub     ed25519.PublicKey
	der     []byte
	version int
	sender  principal.Principal
	timeout time.Duration
	batch   *signBatcher
}

var _ identity.Identity = (*TransitIdentity)(nil)

// NewTransitIdentity reads the transit key's latest public key and pins that
// version for every signature.
func NewTransitIdentity(ctx context.Context, c *Client) (*TransitIdentity, error) {
	pub, v, err := c.PublicKey(ctx)
	if err != nil {
		return nil, err
	}
	der := append(append([]byte{}, ed25519DERPrefix...), pub...)
	id := &TransitIdentity{c: c, pub: pub, der: der, version: v, sender: principal.NewSelfAuthenticating(der), timeout: c.cfg.Timeout}
	id.batch = &signBatcher{timeout: id.timeout, maxBatch: 64, maxInflight: 1,
		sign: func(ctx context.Context, msgs [][]byte) ([][]byte, []error, error) {
			sigs, errs, err := c.SignBatch(ctx, msgs, v)
			if err != nil {
				return nil, nil, err
			}
			// One signature per batch is checked against the public key:
			// every item is signed by the same key version, so a wrong key
			// or version shows on any of them (the IC checks every one).
			for i := range sigs {
				if errs[i] == nil {
					if !ed25519.Verify(pub, msgs[i], sigs[i]) {
						return nil, nil, fmt.Errorf("vault: %w: transit key %s v%d returned a signature that does not verify", ErrSigning, c.cfg.TransitKey, v)
					}
					break
				}
			}
			return sigs, errs, nil
		}}
	// Prove the pair once: a signature from Vault must verify locally.
	probe := []byte("nodeshare transit identity self-check")
	sig, err := id.Sign(probe)
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(pub, probe, sig) {
		return nil, fmt.Errorf("vault: transit key %s v%d: signature does not verify with its public key", c.cfg.TransitKey, v)
	}
	return id, nil
}

// Sender is the self-authenticating principal of the key.
func (t *TransitIdentity) Sender() principal.Principal { return t.sender }

// PublicKey is the DER-encoded public key.
func (t *TransitIdentity) PublicKey() []byte { return append([]byte{}, t.der...) }

// KeyVersion is the pinned transit key version.
func (t *TransitIdentity) KeyVersion() int { return t.version }

// Sign signs msg inside Vault. agent-go calls it for every request it sends,
// including read_state polls; concurrent calls share transit batch
// requests (see signBatcher).
func (t *TransitIdentity) Sign(msg []byte) ([]byte, error) {
	return t.batch.do(msg)
}

// Verify checks a signature against the public key.
func (t *TransitIdentity) Verify(msg, sig []byte) bool { return ed25519.Verify(t.pub, msg, sig) }

// ToPEM refuses: the private key never leaves Vault.
func (t *TransitIdentity) ToPEM() ([]byte, error) {
	return nil, errors.New("vault: the transit key cannot be exported")
}

// TransitSigner signs messages (a payout approval, a member attestation)
// with a transit key: the signing port of the stages, for a key that never
// leaves Vault.
type TransitSigner struct{ id *TransitIdentity }

// NewTransitSigner opens c's transit key for signing messages.
func NewTransitSigner(ctx context.Context, c *Client) (*TransitSigner, error) {
	id, err := NewTransitIdentity(ctx, c)
	if err != nil {
		return nil, err
	}
	return &TransitSigner{id: id}, nil
}

// PublicKeyDER is the key's DER SubjectPublicKeyInfo (Ed25519).
func (s *TransitSigner) PublicKeyDER() []byte { return s.id.PublicKey() }

// Sign signs message inside Vault.
func (s *TransitSigner) Sign(_ context.Context, message []byte) ([]byte, error) {
	return s.id.Sign(message)
}
