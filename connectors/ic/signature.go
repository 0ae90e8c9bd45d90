package ic

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal"
	"github.com/consensys/gnark-crypto/ecc/secp256k1/ecdsa"
)

// The SubjectPublicKeyInfo forms of the keys people sign with, as the IC
// encodes them in sender_pubkey (and a self-authenticating principal hashes):
// Ed25519 (OID 1.3.101.112) and ECDSA on secp256k1 (OIDs 1.2.840.10045.2.1,
// 1.3.132.0.10), the two kinds of key `dfx identity new` makes.
var (
	ed25519SPKIPrefix = []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}
	oidECPublicKey    = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1      = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

// ErrBadSignature is returned by VerifySignature when the signature does
// not verify (as opposed to a key it cannot read).
var ErrBadSignature = errors.New("signature does not verify")

// Verifier checks signatures made with PEM identities or Vault transit keys:
// the stages' signature port.
type Verifier struct{}

// Verify is VerifySignature.
func (Verifier) Verify(publicKeyDER, message, signature []byte) error {
	return VerifySignature(publicKeyDER, message, signature)
}

// VerifySignature checks signature over message under publicKeyDER: an
// Ed25519 key signs the message itself (64-byte signature); a secp256k1 key
// signs its SHA-256 (64 bytes r || s), as the IC and dfx do.
func VerifySignature(publicKeyDER, message, signature []byte) error {
	if bytes.HasPrefix(publicKeyDER, ed25519SPKIPrefix) && len(publicKeyDER) == len(ed25519SPKIPrefix)+ed25519.PublicKeySize {
		if len(signature) != ed25519.SignatureSize {
			return fmt.Errorf("ed25519 signature of %d bytes, want %d: %w", len(signature), ed25519.SignatureSize, ErrBadSignature)
		}
		if !ed25519.Verify(ed25519.PublicKey(publicKeyDER[len(ed25519SPKIPrefix):]), message, signature) {
			return fmt.Errorf("ed25519: %w", ErrBadSignature)
		}
		return nil
	}
	pub, err := secp256k1Public(publicKeyDER)
	if err != nil {
		return err
	}
	if len(signature) != 64 {
		return fmt.Errorf("secp256k1 signature of %d bytes, want 64 (r || s): %w", len(signature), ErrBadSignature)
	}
	ok, err := pub.Verify(signature, message, sha256.New())
	if err != nil || !ok {
		return fmt.Errorf("secp256k1: %w", ErrBadSignature)
	}
	return nil
}

type spki struct {
	Algorithm []asn1.ObjectIdentifier
	PublicKey asn1.BitString
}

// secp256k1Public reads a secp256k1 SubjectPublicKeyInfo with an
// uncompressed point, checking the point is on the curve.
func secp256k1Public(der []byte) (*ecdsa.PublicKey, error) {
	var k spki
	rest, err := asn1.Unmarshal(der, &k)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("public key %x: neither an Ed25519 nor a secp256k1 SubjectPublicKeyInfo", head(der))
	}
	if len(k.Algorithm) != 2 || !k.Algorithm[0].Equal(oidECPublicKey) || !k.Algorithm[1].Equal(oidSecp256k1) {
		return nil, fmt.Errorf("public key algorithm %v: only Ed25519 and secp256k1 keys sign here", k.Algorithm)
	}
	pt := k.PublicKey.Bytes
	if len(pt) != 65 || pt[0] != 0x04 {
		return nil, fmt.Errorf("secp256k1 public key: want an uncompressed point of 65 bytes, got %d", len(pt))
	}
	var pub ecdsa.PublicKey
	if err := pub.A.X.SetBytesCanonical(pt[1:33]); err != nil {
		return nil, fmt.Errorf("secp256k1 public key: x: %v", err)
	}
	if err := pub.A.Y.SetBytesCanonical(pt[33:]); err != nil {
		return nil, fmt.Errorf("secp256k1 public key: y: %v", err)
	}
	if !pub.A.IsOnCurve() {
		return nil, errors.New("secp256k1 public key: the point is not on the curve")
	}
	return &pub, nil
}

func head(b []byte) []byte { return b[:min(len(b), 16)] }

// PEMSigner signs with a dfx identity file (Ed25519 or secp256k1 PEM).
type PEMSigner struct {
	id identity.Identity
}

// LoadPEMIdentity reads a dfx identity.pem: an Ed25519 PKCS#8 key or a
// secp256k1 EC key (with or without its EC PARAMETERS block).
func LoadPEMIdentity(path string) (*PEMSigner, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	if id, err := identity.NewEd25519IdentityFromPEM(data); err == nil {
		return &PEMSigner{id: id}, nil
	}
	if id, err := identity.NewSecp256k1IdentityFromPEM(data); err == nil {
		return &PEMSigner{id: id}, nil
	}
	if id, err := identity.NewSecp256k1IdentityFromPEMWithoutParameters(data); err == nil {
		return &PEMSigner{id: id}, nil
	}
	return nil, fmt.Errorf("identity file %s: neither an Ed25519 nor a secp256k1 PEM key (dfx identity export NAME gives one)", path)
}

// PublicKeyDER is the key's SubjectPublicKeyInfo.
func (s *PEMSigner) PublicKeyDER() []byte { return slices.Clone(s.id.PublicKey()) }

// Principal is the identity's self-authenticating principal (what `dfx
// identity get-principal` prints).
func (s *PEMSigner) Principal() principal.Principal { return s.id.Sender() }

// Sign signs message (the context is not used: the key is local).
func (s *PEMSigner) Sign(_ context.Context, message []byte) ([]byte, error) {
	return s.id.Sign(message)
}

// CreatePEMIdentity loads the identity at path, creating a new random
// Ed25519 identity there first (mode 0600) when there is no file: the
// demo's approver key.
func CreatePEMIdentity(path string) (*PEMSigner, error) {
	if _, err := os.Stat(path); err == nil {
		return LoadPEMIdentity(path)
	}
	id, err := identity.NewRandomEd25519Identity()
	if err != nil {
		return nil, err
	}
	pem, err := id.ToPEM()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	if _, err := f.Write(pem); err != nil {
		f.Close()
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	return LoadPEMIdentity(path)
}
