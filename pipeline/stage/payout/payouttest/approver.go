package payouttest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"

	rules "github.com/nodeshare/nodeshare/pipeline/payout"
)

// ed25519SPKI is the DER SubjectPublicKeyInfo header of an Ed25519 key, as
// the IC and dfx write it.
var ed25519SPKI = []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}

// Approver is an approver's Ed25519 key derived from its name: the same
// key on every run, so tests can configure the set and sign with it.
type Approver struct {
	Name string
	priv ed25519.PrivateKey
}

// NewApprover is name's key.
func NewApprover(name string) *Approver {
	seed := sha256.Sum256([]byte("payouttest approver " + name))
	return &Approver{Name: name, priv: ed25519.NewKeyFromSeed(seed[:])}
}

// PublicKeyDER is the key's DER SubjectPublicKeyInfo.
func (a *Approver) PublicKeyDER() []byte {
	return append(append([]byte{}, ed25519SPKI...), a.priv.Public().(ed25519.PublicKey)...)
}

// Sign signs message.
func (a *Approver) Sign(_ context.Context, message []byte) ([]byte, error) {
	return ed25519.Sign(a.priv, message), nil
}

// Approval is the set of approvers with threshold.
func Approval(threshold int, approvers ...*Approver) rules.Approval {
	set := make([]rules.Approver, len(approvers))
	for i, a := range approvers {
		set[i] = rules.Approver{Name: a.Name, PublicKeyDER: a.PublicKeyDER()}
	}
	return rules.Approval{Approvers: set, Threshold: threshold}
}
