package vault

import (
	"context"
	"errors"
	"fmt"

	"github.com/aviate-labs/agent-go/identity"
)

// KVIdentity reads an Ed25519 PEM private key from a KV v2 secret (field
// "pem") and returns an agent-go identity. This is the alternative key mode
// (policy ops/vault/signer-kv-policy.hcl): the key is in the signer's
// memory, so prefer transit. The key is never logged or returned in an
// error.
func KVIdentity(ctx context.Context, c *Client, mount, path string) (*identity.Ed25519Identity, error) {
	if mount == "" {
		mount = "secret"
	}
	s, err := c.api.KVv2(mount).Get(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("vault: read %s/data/%s: %w: %w", mount, path, ErrSigning, err)
	}
	if s == nil || s.Data == nil {
		return nil, fmt.Errorf("vault: %s/data/%s: %w: no data", mount, path, ErrSigning)
	}
	pem, _ := s.Data["pem"].(string)
	if pem == "" {
		return nil, fmt.Errorf("vault: %s/data/%s has no string field \"pem\"", mount, path)
	}
	id, err := identity.NewEd25519IdentityFromPEM([]byte(pem))
	if err != nil {
		// The parser's error could quote key bytes: say only what failed.
		return nil, errors.New("vault: the \"pem\" field is not an Ed25519 private key in PEM")
	}
	return id, nil
}
