package main

import (
	"os"
	"testing"
)

// requireServices skips an integration test when the local stack is not
// configured, saying why; under ops/test (NODESHARE_REQUIRE_SERVICES=1) a
// missing stack is a failure, never a silent skip.
func requireServices(t *testing.T) config {
	t.Helper()
	if os.Getenv("NODESHARE_KAFKA_BROKERS") == "" {
		if os.Getenv("NODESHARE_REQUIRE_SERVICES") == "1" {
			t.Fatal("NODESHARE_REQUIRE_SERVICES=1 but NODESHARE_KAFKA_BROKERS is unset: run through ops/test")
		}
		t.Skip("integration test: needs the local stack (ops/stack up; eval \"$(ops/stack env)\"), or run ops/test")
	}
	var c config
	c.KafkaBrokers = envOr("NODESHARE_KAFKA_BROKERS", "")
	c.ClickHouse.Addr = envOr("NODESHARE_CLICKHOUSE_ADDR", "127.0.0.1:19000")
	c.ClickHouse.Database = envOr("NODESHARE_CLICKHOUSE_DATABASE", "nodeshare")
	c.Vault.Addr = envOr("NODESHARE_VAULT_ADDR", "http://127.0.0.1:18200")
	c.Vault.Token = os.Getenv("NODESHARE_VAULT_TOKEN")
	c.Vault.TransitMount = envOr("NODESHARE_VAULT_TRANSIT_MOUNT", "transit")
	c.Vault.TransitKey = envOr("NODESHARE_VAULT_TRANSIT_KEY", "nodeshare-treasury")
	c.ICURL = envOr("NODESHARE_IC_URL", "http://127.0.0.1:18080")
	c.ICFetchRootKey = true
	c.LocalDir = t.TempDir()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	return c
}
