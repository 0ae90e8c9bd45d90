package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/vault"
)

// config is every service address and credential, from flags with
// NODESHARE_* environment fallbacks (ops/stack env prints the local ones).
type config struct {
	KafkaBrokers string
	ClickHouse   clickhouse.Config
	Vault        vault.Config
	ICURL        string
	// ICFetchRootKey trusts the root key the replica reports; only for the
	// local simulator (never on mainnet, IC_INTERFACES §7).
	ICFetchRootKey bool
	LocalDir       string
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// register adds the service flags to fs; which selects the groups needed.
func (c *config) register(fs *flag.FlagSet, which ...string) {
	for _, w := range which {
		switch w {
		case "kafka":
			fs.StringVar(&c.KafkaBrokers, "kafka-brokers", envOr("NODESHARE_KAFKA_BROKERS", "127.0.0.1:19092"), "Kafka bootstrap brokers, comma separated (NODESHARE_KAFKA_BROKERS)")
		case "clickhouse":
			fs.StringVar(&c.ClickHouse.Addr, "clickhouse-addr", envOr("NODESHARE_CLICKHOUSE_ADDR", "127.0.0.1:19000"), "ClickHouse native host:port (NODESHARE_CLICKHOUSE_ADDR)")
			fs.StringVar(&c.ClickHouse.Database, "clickhouse-database", envOr("NODESHARE_CLICKHOUSE_DATABASE", "nodeshare"), "ClickHouse database (NODESHARE_CLICKHOUSE_DATABASE)")
			c.ClickHouse.Username = envOr("NODESHARE_CLICKHOUSE_USER", "default")
			c.ClickHouse.Password = os.Getenv("NODESHARE_CLICKHOUSE_PASSWORD")
		case "vault":
			fs.StringVar(&c.Vault.Addr, "vault-addr", envOr("NODESHARE_VAULT_ADDR", "http://127.0.0.1:18200"), "Vault/OpenBao address (NODESHARE_VAULT_ADDR)")
			fs.StringVar(&c.Vault.TransitMount, "vault-transit-mount", envOr("NODESHARE_VAULT_TRANSIT_MOUNT", "transit"), "transit mount (NODESHARE_VAULT_TRANSIT_MOUNT)")
			fs.StringVar(&c.Vault.TransitKey, "vault-transit-key", envOr("NODESHARE_VAULT_TRANSIT_KEY", "nodeshare-treasury"), "transit Ed25519 key of the DAO treasury (NODESHARE_VAULT_TRANSIT_KEY)")
			// The token is read from the environment only, never a flag: flags
			// show up in process listings.
			c.Vault.Token = os.Getenv("NODESHARE_VAULT_TOKEN")
		case "ic":
			fs.StringVar(&c.ICURL, "ic-url", envOr("NODESHARE_IC_URL", "http://127.0.0.1:18080"), "IC HTTP endpoint (NODESHARE_IC_URL)")
			fs.BoolVar(&c.ICFetchRootKey, "ic-fetch-root-key", envOr("NODESHARE_IC_FETCH_ROOT_KEY", "true") == "true", "trust the root key the replica reports: local simulator only (NODESHARE_IC_FETCH_ROOT_KEY)")
		case "local":
			fs.StringVar(&c.LocalDir, "local-dir", envOr("NODESHARE_LOCAL_DIR", ".local"), "folder for reports (NODESHARE_LOCAL_DIR)")
		}
	}
}

func (c *config) brokers() []string {
	var out []string
	for _, b := range strings.Split(c.KafkaBrokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// validate checks the groups that were registered.
func (c *config) validate(which ...string) error {
	var errs []error
	for _, w := range which {
		switch w {
		case "kafka":
			if len(c.brokers()) == 0 {
				errs = append(errs, errors.New("kafka-brokers is empty (NODESHARE_KAFKA_BROKERS)"))
			}
		case "clickhouse":
			if err := c.ClickHouse.Validate(); err != nil {
				errs = append(errs, err)
			}
		case "vault":
			if err := c.Vault.Validate(); err != nil {
				errs = append(errs, err)
			}
		case "ic":
			if !strings.HasPrefix(c.ICURL, "http://") && !strings.HasPrefix(c.ICURL, "https://") {
				errs = append(errs, fmt.Errorf("ic-url must be an http(s) URL, got %q (NODESHARE_IC_URL)", c.ICURL))
			}
		}
	}
	return errors.Join(errs...)
}

// parseFlags parses a subcommand's flags. ok is false when the command must
// stop with code: 0 after --help (usage already printed), 2 on a bad flag.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}
