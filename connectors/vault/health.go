package vault

import (
	"context"
	"fmt"

	vapi "github.com/hashicorp/vault/api"
)

// Health asks the Vault server at addr whether it is initialised and
// unsealed (sys/health, no token needed): nil when it can sign.
func Health(ctx context.Context, addr string) error {
	vc := vapi.DefaultConfig()
	if vc.Error != nil {
		return fmt.Errorf("vault: default config: %w", vc.Error)
	}
	vc.Address, vc.MaxRetries = addr, 0
	c, err := vapi.NewClient(vc)
	if err != nil {
		return fmt.Errorf("vault %s: %w", addr, err)
	}
	c.ClearToken()
	h, err := c.Sys().HealthWithContext(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("vault %s: health: %w", addr, err)
	case !h.Initialized:
		return fmt.Errorf("vault %s is not initialised", addr)
	case h.Sealed:
		return fmt.Errorf("vault %s is sealed: unseal it (ops/vault/README.md)", addr)
	}
	return nil
}
