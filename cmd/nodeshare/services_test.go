package main

import (
	"os"
	"testing"

	"github.com/alecthomas/kong"
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
	c := servicesFromEnv(t)
	c.ICFetchRootKey = true
	c.LocalDir = t.TempDir()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// servicesFromEnv is the config the commands would build from the
// environment alone: the flag groups parsed with no arguments, so every
// NODESHARE_* variable applies as it does for the commands, the secure
// connections' included (TLS, SASL, the ClickHouse user and password).
func servicesFromEnv(t testing.TB) config {
	t.Helper()
	var groups struct {
		kafkaFlags
		clickhouseFlags
		vaultFlags
		icFlags
	}
	parser, err := kong.New(&groups, kong.Exit(func(int) { t.Fatal("kong exited") }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(nil); err != nil {
		t.Fatalf("the services' environment: %v", err)
	}
	return services(&groups.kafkaFlags, &groups.clickhouseFlags, &groups.vaultFlags, &groups.icFlags, nil, nil)
}
