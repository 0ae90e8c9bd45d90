package ic

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal"
)

type pemIdentity interface {
	identity.Identity
	ToPEM() ([]byte, error)
}

func TestPEMIdentitiesSignAndVerify(t *testing.T) {
	ed, err := identity.NewRandomEd25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	k1, err := identity.NewRandomSecp256k1Identity()
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]pemIdentity{"ed25519": ed, "secp256k1": k1} {
		t.Run(name, func(t *testing.T) {
			pem, err := id.ToPEM()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "identity.pem")
			if err := os.WriteFile(path, pem, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := LoadPEMIdentity(path)
			if err != nil {
				t.Fatal(err)
			}
			if s.Principal().String() != principal.NewSelfAuthenticating(id.PublicKey()).String() {
				t.Fatalf("principal %s, want the identity's own", s.Principal())
			}
			msg := []byte("approve manifest ab12")
			sig, err := s.Sign(context.Background(), msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifySignature(s.PublicKeyDER(), msg, sig); err != nil {
				t.Fatalf("own signature: %v", err)
			}
			if err := VerifySignature(s.PublicKeyDER(), []byte("approve manifest ab13"), sig); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("other message: err = %v, want ErrBadSignature", err)
			}
			bad := append([]byte(nil), sig...)
			bad[10] ^= 1
			if err := VerifySignature(s.PublicKeyDER(), msg, bad); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("flipped bit: err = %v, want ErrBadSignature", err)
			}
			if err := VerifySignature(s.PublicKeyDER(), msg, sig[:63]); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("short signature: err = %v, want ErrBadSignature", err)
			}
		})
	}
	// A signature by one key does not verify under the other.
	msg := []byte("m")
	sig, _ := ed.Sign(msg)
	other, _ := identity.NewRandomEd25519Identity()
	if err := VerifySignature(other.PublicKey(), msg, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other key: err = %v", err)
	}
}

func TestVerifySignatureRefusesUnknownKeys(t *testing.T) {
	for name, der := range map[string][]byte{
		"empty":   nil,
		"garbage": []byte("not a key at all"),
		"p256":    p256DER(t),
	} {
		if err := VerifySignature(der, []byte("m"), make([]byte, 64)); err == nil || errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: err = %v, want a key error", name, err)
		}
	}
	if _, err := LoadPEMIdentity(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Error("a missing identity file loaded")
	}
	junk := filepath.Join(t.TempDir(), "junk.pem")
	os.WriteFile(junk, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
	if _, err := LoadPEMIdentity(junk); err == nil {
		t.Error("a junk identity file loaded")
	}
}

func p256DER(t *testing.T) []byte {
	id, err := identity.NewRandomPrime256v1Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.PublicKey()
}
