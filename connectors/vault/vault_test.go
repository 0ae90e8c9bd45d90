package vault

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Addr: "http://127.0.0.1:1", Token: "s.secret", TransitKey: "k"}
	if err := ok.Validate(); err != nil || ok.Auth != "token" || ok.TransitMount != "transit" {
		t.Fatalf("defaults: %v %+v", err, ok)
	}
	ar := Config{Addr: "http://127.0.0.1:1", Auth: "approle", RoleID: "r", SecretID: "s", TransitKey: "k"}
	if err := ar.Validate(); err != nil || ar.AppRoleMount != "approle" {
		t.Fatalf("approle: %v", err)
	}
	for name, c := range map[string]Config{
		"no token":       {Addr: "http://x", TransitKey: "k"},
		"approle no id":  {Addr: "http://x", Auth: "approle", SecretID: "s", TransitKey: "k"},
		"bad auth":       {Addr: "http://x", Auth: "ldap", Token: "t", TransitKey: "k"},
		"no scheme":      {Addr: "127.0.0.1:8200", Token: "t", TransitKey: "k"},
		"no transit key": {Addr: "http://x", Token: "t"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A signature that cannot be made wraps ErrSigning and never shows the token.
func TestSignFailureWrapsErrSigningWithoutToken(t *testing.T) {
	const token = "s.very-secret-token-value"
	c, err := New(Config{Addr: "http://127.0.0.1:1", Token: token, TransitKey: "k", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.API().SetMaxRetries(0)
	_, err = c.Sign(context.Background(), []byte("m"), 1)
	if !errors.Is(err, ErrSigning) {
		t.Fatalf("want ErrSigning, got %v", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Fatal("the error shows the token")
	}
}

// Against the stack's Vault: the transit identity signs with pure Ed25519
// over the exact bytes, and the signature verifies with its public key.
func TestTransitIdentity(t *testing.T) {
	if os.Getenv("NODESHARE_VAULT_TOKEN") == "" {
		if os.Getenv("NODESHARE_REQUIRE_SERVICES") == "1" {
			t.Fatal("NODESHARE_REQUIRE_SERVICES=1 but NODESHARE_VAULT_TOKEN is unset")
		}
		t.Skip("integration test: needs Vault (eval \"$(ops/stack env)\")")
	}
	c, err := New(Config{Addr: os.Getenv("NODESHARE_VAULT_ADDR"), Token: os.Getenv("NODESHARE_VAULT_TOKEN"),
		TransitMount: os.Getenv("NODESHARE_VAULT_TRANSIT_MOUNT"), TransitKey: os.Getenv("NODESHARE_VAULT_TRANSIT_KEY")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Login(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := NewTransitIdentity(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("\x0aic-request 0123456789abcdef0123456789abcdef")
	sig, err := id.Sign(msg)
	if err != nil || !ed25519.Verify(id.pub, msg, sig) || len(id.PublicKey()) != 44 {
		t.Fatalf("sign: %v", err)
	}
	if _, err := id.ToPEM(); err == nil {
		t.Fatal("a transit key was exported")
	}
	// One batch request: every signature verifies, in order.
	msgs := [][]byte{[]byte("a"), []byte("b"), msg}
	sigs, errs, err := c.SignBatch(ctx, msgs, id.KeyVersion())
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if errs[i] != nil || !ed25519.Verify(id.pub, m, sigs[i]) {
			t.Fatalf("batch item %d: %v", i, errs[i])
		}
	}
	// A key version that does not exist fails every item with ErrSigning.
	_, errs, err = c.SignBatch(ctx, msgs[:2], id.KeyVersion()+100)
	if err != nil || len(errs) != 2 || !errors.Is(errs[0], ErrSigning) || !errors.Is(errs[1], ErrSigning) {
		t.Fatalf("unknown key version: %v, %v", err, errs)
	}
}
