package main

import (
	"errors"
	"os"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/connectors/vault"
)

// config is every service address and credential a command connects
// with, filled from the flag groups it embeds (services in flags.go).
type config struct {
	KafkaBrokers string        // the --kafka-brokers text
	Kafka        kafka.Brokers // the brokers with their security (TLS, SASL)
	// KafkaTopics are the durability settings of the topics created.
	KafkaTopics kafka.TopicOptions
	ClickHouse  clickhouse.Config
	Vault       vault.Config
	ICURL       string
	// ICFetchRootKey trusts the root key the replica reports; only for the
	// local simulator (never on mainnet, docs/ic-interfaces.md §7).
	ICFetchRootKey bool
	LocalDir       string
}

// brokers is the Kafka cluster: Kafka with the addresses of KafkaBrokers.
func (c *config) brokers() kafka.Brokers {
	b := c.Kafka
	b.Addrs = splitList(c.KafkaBrokers)
	return b
}

// validate checks the services a test needs (the commands validate their
// flag groups).
func (c *config) validate() error {
	var errs []error
	if len(c.brokers().Addrs) == 0 {
		errs = append(errs, errors.New("kafka brokers are empty (NODESHARE_KAFKA_BROKERS)"))
	}
	if err := c.ClickHouse.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Vault.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := (icFlags{ICURL: c.ICURL}).Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// envOr is the environment variable name, or def when it is unset or
// empty (secrets and the user name, which are never flags).
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
