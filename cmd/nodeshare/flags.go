package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/connectors/vault"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/sanity"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/schemas"
)

// The flag groups commands embed. Each flag's NODESHARE_* variable is its
// fallback; secrets (tokens, passwords, AppRole ids) are read from the
// environment or a file a flag names, never from a flag (flags show up in
// process listings), and never logged.

type kafkaFlags struct {
	KafkaBrokers           string `name:"kafka-brokers" env:"NODESHARE_KAFKA_BROKERS" default:"127.0.0.1:19092" help:"Kafka bootstrap brokers, comma separated."`
	KafkaTLS               bool   `name:"kafka-tls" env:"NODESHARE_KAFKA_TLS" help:"Connect to Kafka over TLS (also on when a CA or client certificate file is set)."`
	KafkaCAFile            string `name:"kafka-ca-file" env:"NODESHARE_KAFKA_CA_FILE" placeholder:"FILE" help:"PEM CA certificates the brokers' certificates are checked against (none: the system's)."`
	KafkaCertFile          string `name:"kafka-cert-file" env:"NODESHARE_KAFKA_CERT_FILE" placeholder:"FILE" help:"PEM client certificate for mutual TLS (with --kafka-key-file)."`
	KafkaKeyFile           string `name:"kafka-key-file" env:"NODESHARE_KAFKA_KEY_FILE" placeholder:"FILE" help:"PEM private key of --kafka-cert-file."`
	KafkaSASLMechanism     string `name:"kafka-sasl-mechanism" env:"NODESHARE_KAFKA_SASL_MECHANISM" default:"none" enum:"none,plain,scram-sha-512" help:"SASL login: none, plain (needs TLS) or scram-sha-512."`
	KafkaSASLUser          string `name:"kafka-sasl-user" env:"NODESHARE_KAFKA_SASL_USER" help:"SASL user name."`
	KafkaSASLPasswordFile  string `name:"kafka-sasl-password-file" env:"NODESHARE_KAFKA_SASL_PASSWORD_FILE" placeholder:"FILE" help:"File holding the SASL password (or NODESHARE_KAFKA_SASL_PASSWORD; never a flag)."`
	KafkaReplicationFactor int    `name:"kafka-replication-factor" env:"NODESHARE_KAFKA_REPLICATION_FACTOR" default:"0" help:"Copies of every partition of a topic this command creates (3 on a three-broker cluster); 0: the brokers' default.replication.factor."`
	KafkaMinInsyncReplicas int    `name:"kafka-min-insync-replicas" env:"NODESHARE_KAFKA_MIN_INSYNC_REPLICAS" default:"0" help:"min.insync.replicas of the topics: copies a record must reach before the brokers acknowledge it (producers use acks=all); set on existing topics too. 0: 2 for topics created with 3 or more copies, else the brokers' default."`
}

func (k kafkaFlags) Validate() error {
	if len(splitList(k.KafkaBrokers)) == 0 {
		return errors.New("--kafka-brokers is empty (NODESHARE_KAFKA_BROKERS)")
	}
	if err := k.topicOptions().Validate(); err != nil {
		return fmt.Errorf("--kafka-replication-factor %d, --kafka-min-insync-replicas %d: %w", k.KafkaReplicationFactor, k.KafkaMinInsyncReplicas, err)
	}
	_, err := k.resolve()
	return err
}

// topicOptions are the durability settings of the topics a command creates.
func (k kafkaFlags) topicOptions() kafka.TopicOptions {
	return kafka.TopicOptions{ReplicationFactor: k.KafkaReplicationFactor, MinInsyncReplicas: k.KafkaMinInsyncReplicas}
}

// brokers is the cluster with its security. Validate has reported any
// error.
func (k kafkaFlags) brokers() kafka.Brokers {
	b, _ := k.resolve()
	return b
}

// resolve is the cluster with its security, the secrets read from the
// environment or their files.
func (k kafkaFlags) resolve() (kafka.Brokers, error) {
	b := kafka.Brokers{Addrs: splitList(k.KafkaBrokers)}
	var errs []error
	tlsOn := k.KafkaTLS || k.KafkaCAFile != "" || k.KafkaCertFile != ""
	if tlsOn {
		cfg, err := clientTLS(tlsFiles{ca: k.KafkaCAFile, cert: k.KafkaCertFile, key: k.KafkaKeyFile}, "kafka", "KAFKA")
		if err != nil {
			errs = append(errs, err)
		}
		b.TLS = cfg
	} else if k.KafkaKeyFile != "" {
		errs = append(errs, fmt.Errorf("--kafka-key-file %s is set without --kafka-cert-file (NODESHARE_KAFKA_CERT_FILE)", k.KafkaKeyFile))
	}
	if k.KafkaSASLMechanism != "" && k.KafkaSASLMechanism != kafka.SASLNone {
		if k.KafkaSASLMechanism == kafka.SASLPlain && !tlsOn {
			errs = append(errs, errors.New("--kafka-sasl-mechanism plain sends the password in clear: also set --kafka-tls (NODESHARE_KAFKA_TLS)"))
		}
		if k.KafkaSASLUser == "" {
			errs = append(errs, fmt.Errorf("--kafka-sasl-mechanism %s needs --kafka-sasl-user (NODESHARE_KAFKA_SASL_USER)", k.KafkaSASLMechanism))
		}
		pw, err := secret("NODESHARE_KAFKA_SASL_PASSWORD", "--kafka-sasl-password-file", "NODESHARE_KAFKA_SASL_PASSWORD_FILE", k.KafkaSASLPasswordFile)
		if err != nil {
			errs = append(errs, err)
		} else if pw == "" {
			errs = append(errs, fmt.Errorf("--kafka-sasl-mechanism %s needs a password: set NODESHARE_KAFKA_SASL_PASSWORD or --kafka-sasl-password-file", k.KafkaSASLMechanism))
		}
		if len(errs) == 0 {
			if b.SASL, err = kafka.SASL(k.KafkaSASLMechanism, k.KafkaSASLUser, pw); err != nil {
				errs = append(errs, err)
			}
		}
	} else if k.KafkaSASLUser != "" || k.KafkaSASLPasswordFile != "" {
		errs = append(errs, errors.New("--kafka-sasl-user or --kafka-sasl-password-file is set but --kafka-sasl-mechanism is none (NODESHARE_KAFKA_SASL_MECHANISM)"))
	}
	return b, errors.Join(errs...)
}

type clickhouseFlags struct {
	ClickHouseAddr         string `name:"clickhouse-addr" env:"NODESHARE_CLICKHOUSE_ADDR" default:"127.0.0.1:19000" help:"ClickHouse native host:port."`
	ClickHouseDatabase     string `name:"clickhouse-database" env:"NODESHARE_CLICKHOUSE_DATABASE" default:"nodeshare" help:"ClickHouse database (created when missing)."`
	ClickHouseUser         string `name:"clickhouse-user" env:"NODESHARE_CLICKHOUSE_USER" default:"default" help:"ClickHouse user (the stack's: a writer for the pipeline, a read-only one for audit verify and serve; docs/operations.md)."`
	ClickHousePasswordFile string `name:"clickhouse-password-file" env:"NODESHARE_CLICKHOUSE_PASSWORD_FILE" placeholder:"FILE" help:"File holding the user's password (or NODESHARE_CLICKHOUSE_PASSWORD; never a flag)."`
	ClickHouseTLS          bool   `name:"clickhouse-tls" env:"NODESHARE_CLICKHOUSE_TLS" help:"Connect to ClickHouse over TLS (the secure native port; also on when --clickhouse-ca-file is set)."`
	ClickHouseCAFile       string `name:"clickhouse-ca-file" env:"NODESHARE_CLICKHOUSE_CA_FILE" placeholder:"FILE" help:"PEM CA certificates ClickHouse's certificate is checked against (none: the system's)."`

	// resolved, when set, is the connection as is (clickhouseFlagsFor).
	resolved *clickhouse.Config
}

// clickhouseFlagsFor are flags that connect with cfg as is (its user,
// password and TLS included): a command run from within another (demo).
func clickhouseFlagsFor(cfg clickhouse.Config) clickhouseFlags {
	return clickhouseFlags{ClickHouseAddr: cfg.Addr, ClickHouseDatabase: cfg.Database, ClickHouseUser: cfg.Username, resolved: &cfg}
}

// config is the ClickHouse connection, the password read from the
// environment or its file. Validate has reported any error.
func (c clickhouseFlags) config() clickhouse.Config {
	cfg, _ := c.resolve()
	return cfg
}

func (c clickhouseFlags) resolve() (clickhouse.Config, error) {
	if c.resolved != nil {
		cfg := *c.resolved
		cfg.Addr, cfg.Database = c.ClickHouseAddr, c.ClickHouseDatabase
		return cfg, nil
	}
	cfg := clickhouse.Config{Addr: c.ClickHouseAddr, Database: c.ClickHouseDatabase, Username: c.ClickHouseUser}
	var errs []error
	pw, err := secret("NODESHARE_CLICKHOUSE_PASSWORD", "--clickhouse-password-file", "NODESHARE_CLICKHOUSE_PASSWORD_FILE", c.ClickHousePasswordFile)
	if err != nil {
		errs = append(errs, err)
	}
	cfg.Password = pw
	if c.ClickHouseTLS || c.ClickHouseCAFile != "" {
		if cfg.TLS, err = clientTLS(tlsFiles{ca: c.ClickHouseCAFile}, "clickhouse", "CLICKHOUSE"); err != nil {
			errs = append(errs, err)
		}
	}
	return cfg, errors.Join(errs...)
}

func (c clickhouseFlags) Validate() error {
	cfg, err := c.resolve()
	if err != nil {
		return err
	}
	return cfg.Validate()
}

type vaultFlags struct {
	VaultAddr         string `name:"vault-addr" env:"NODESHARE_VAULT_ADDR" default:"http://127.0.0.1:18200" help:"Vault/OpenBao address (the token: NODESHARE_VAULT_TOKEN, environment only)."`
	VaultCAFile       string `name:"vault-ca-file" env:"NODESHARE_VAULT_CA_FILE" placeholder:"FILE" help:"PEM CA certificates Vault's certificate is checked against, for an https:// address (none: the system's)."`
	VaultTransitMount string `name:"vault-transit-mount" env:"NODESHARE_VAULT_TRANSIT_MOUNT" default:"transit" help:"Transit mount."`
	VaultTransitKey   string `name:"vault-transit-key" env:"NODESHARE_VAULT_TRANSIT_KEY" default:"nodeshare-treasury" help:"Transit Ed25519 key of the DAO treasury."`
}

func (v vaultFlags) config() vault.Config {
	return vault.Config{Addr: v.VaultAddr, CAFile: v.VaultCAFile, Token: os.Getenv("NODESHARE_VAULT_TOKEN"), TransitMount: v.VaultTransitMount, TransitKey: v.VaultTransitKey}
}

type icFlags struct {
	ICURL          string `name:"ic-url" env:"NODESHARE_IC_URL" default:"http://127.0.0.1:18080" help:"IC HTTP endpoint (mainnet: https://icp-api.io)."`
	ICFetchRootKey bool   `name:"ic-fetch-root-key" env:"NODESHARE_IC_FETCH_ROOT_KEY" default:"true" negatable:"" help:"Trust the root key the replica reports: the local simulator only, never mainnet."`
}

func (i icFlags) Validate() error {
	if !strings.HasPrefix(i.ICURL, "http://") && !strings.HasPrefix(i.ICURL, "https://") {
		return fmt.Errorf("--ic-url must be an http(s) URL, got %q (NODESHARE_IC_URL)", i.ICURL)
	}
	return nil
}

type localFlags struct {
	LocalDir string `name:"local-dir" env:"NODESHARE_LOCAL_DIR" default:".local" help:"Folder for reports, locks and the signer's state."`
}

// signerKeyFlags is how the treasury key is reached: Vault auth and key mode.
type signerKeyFlags struct {
	KeyMode           string `name:"key-mode" env:"NODESHARE_SIGNER_KEY_MODE" default:"transit" enum:"transit,kv" help:"Treasury key: transit (the Ed25519 key stays in Vault) or kv (a PEM key read from KV v2)."`
	VaultKVMount      string `name:"vault-kv-mount" env:"NODESHARE_VAULT_KV_MOUNT" default:"secret" help:"KV v2 mount for --key-mode kv."`
	VaultKVPath       string `name:"vault-kv-path" env:"NODESHARE_VAULT_KV_PATH" default:"nodeshare/signer-key" help:"KV v2 path of the PEM key (field \"pem\")."`
	VaultAuth         string `name:"vault-auth" env:"NODESHARE_VAULT_AUTH" default:"token" enum:"token,approle" help:"Vault auth: token (NODESHARE_VAULT_TOKEN) or approle (NODESHARE_VAULT_ROLE_ID, NODESHARE_VAULT_SECRET_ID)."`
	VaultAppRoleMount string `name:"vault-approle-mount" env:"NODESHARE_VAULT_APPROLE_MOUNT" default:"approle" help:"AppRole auth mount."`
}

func (s signerKeyFlags) signerConfig() signerConfig {
	return signerConfig{KeyMode: s.KeyMode, KVMount: s.VaultKVMount, KVPath: s.VaultKVPath}
}

// periodRe is a period's form: the UTC day of the NNS reward event
// (pipeline/entitle PeriodOf).
var periodRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// daoPeriodFlags name one DAO period.
type daoPeriodFlags struct {
	DAO    string `name:"dao" env:"NODESHARE_DAO" required:"" help:"DAO name."`
	Period string `name:"period" env:"NODESHARE_PERIOD" required:"" placeholder:"YYYY-MM-DD" help:"Period: the UTC day of the NNS reward event, as in the entitlements (e.g. 2026-11-01), or a lifecycle manifest's period (lifecycle:<deposit|bond>:<first seq>:<pool id>, from payout plan-pool)."`
}

func (d daoPeriodFlags) Validate() error {
	if rules.IsLifecyclePeriod(d.Period) {
		return nil
	}
	if strings.HasPrefix(d.Period, "lifecycle:") {
		return fmt.Errorf("--period must be lifecycle:<deposit|bond>:<first seq>:<pool id>, got %q (NODESHARE_PERIOD)", d.Period)
	}
	if !periodRe.MatchString(d.Period) {
		return fmt.Errorf("--period must be YYYY-MM-DD (the UTC day of the NNS reward), got %q (NODESHARE_PERIOD)", d.Period)
	}
	if _, err := time.Parse("2006-01-02", d.Period); err != nil {
		return fmt.Errorf("--period %q is not a calendar day (NODESHARE_PERIOD)", d.Period)
	}
	return nil
}

// approvalFlags are the m-of-n approver set: each member a name and the
// public key whose signature is that member's approval.
type approvalFlags struct {
	Approvers string `name:"approvers" env:"NODESHARE_PAYOUT_APPROVERS" help:"Approver set, comma separated, each name=<public key DER hex> (nodeshare payout approver-key prints it)."`
	Threshold int    `name:"threshold" env:"NODESHARE_PAYOUT_THRESHOLD" help:"Signed approvals needed out of the set."`
}

func (a approvalFlags) approval() (rules.Approval, error) {
	set, err := rules.ParseApprovers(splitList(a.Approvers))
	if err != nil {
		return rules.Approval{}, err
	}
	return rules.Approval{Approvers: set, Threshold: a.Threshold}, nil
}

func (a approvalFlags) Validate() error {
	ap, err := a.approval()
	if err == nil {
		err = ap.Validate()
	}
	if err != nil {
		return fmt.Errorf("%w (--approvers/NODESHARE_PAYOUT_APPROVERS, --threshold/NODESHARE_PAYOUT_THRESHOLD)", err)
	}
	return nil
}

// mustApproval is the validated approver set (Validate ran first).
func (a approvalFlags) mustApproval() rules.Approval {
	ap, err := a.approval()
	if err != nil {
		panic("approvalFlags used before Validate: " + err.Error())
	}
	return ap
}

// approverKeyFlags choose the key an approver signs with: a dfx identity
// file or a Vault transit key (the Vault flags then apply).
type approverKeyFlags struct {
	IdentityPEM string `name:"identity-pem" env:"NODESHARE_APPROVER_IDENTITY_PEM" type:"path" help:"The approver's dfx identity file (Ed25519 or secp256k1 PEM: ~/.config/dfx/identity/NAME/identity.pem)."`
	TransitKey  string `name:"approver-transit-key" env:"NODESHARE_APPROVER_TRANSIT_KEY" help:"Or: the approver's Vault transit key (Ed25519), signed inside Vault (--vault-addr, NODESHARE_VAULT_TOKEN)."`
}

func (k approverKeyFlags) Validate() error {
	switch {
	case k.IdentityPEM == "" && k.TransitKey == "":
		return errors.New("no approver key: give --identity-pem FILE or --approver-transit-key NAME (a name alone approves nothing)")
	case k.IdentityPEM != "" && k.TransitKey != "":
		return fmt.Errorf("--identity-pem %q and --approver-transit-key %q: give one key, not both", k.IdentityPEM, k.TransitKey)
	}
	return nil
}

// open loads the approver's signing key.
func (k approverKeyFlags) open(ctx context.Context, v vaultFlags) (payout.ApprovalSigner, error) {
	if k.IdentityPEM != "" {
		return ic.LoadPEMIdentity(k.IdentityPEM)
	}
	vc := v.config()
	vc.TransitKey = k.TransitKey
	c, err := vault.New(vc)
	if err != nil {
		return nil, err
	}
	return vault.NewTransitSigner(ctx, c)
}

// runFlags bound a payout run.
type runFlags struct {
	MaxRunE8s       int64 `name:"max-run-e8s" env:"NODESHARE_PAYOUT_MAX_RUN_E8S" default:"0" help:"Refuse a run moving more than this (amounts + fees); 0 = no cap."`
	MaxRecipientE8s int64 `name:"max-recipient-e8s" env:"NODESHARE_PAYOUT_MAX_RECIPIENT_E8S" default:"0" help:"Refuse a manifest paying one recipient more than this; 0 = no cap."`
	Concurrency     int   `name:"concurrency" env:"NODESHARE_PAYOUT_CONCURRENCY" default:"4" help:"Transfers in flight (1..64)."`
}

func (r runFlags) Validate() error {
	var errs []error
	if r.Concurrency < 1 || r.Concurrency > 64 {
		errs = append(errs, fmt.Errorf("--concurrency must be in [1, 64], got %d (NODESHARE_PAYOUT_CONCURRENCY)", r.Concurrency))
	}
	if r.MaxRunE8s < 0 {
		errs = append(errs, fmt.Errorf("--max-run-e8s must be >= 0, got %d (NODESHARE_PAYOUT_MAX_RUN_E8S)", r.MaxRunE8s))
	}
	if r.MaxRecipientE8s < 0 {
		errs = append(errs, fmt.Errorf("--max-recipient-e8s must be >= 0, got %d (NODESHARE_PAYOUT_MAX_RECIPIENT_E8S)", r.MaxRecipientE8s))
	}
	return errors.Join(errs...)
}

func (r runFlags) caps() rules.Caps {
	return rules.Caps{MaxRunE8s: r.MaxRunE8s, MaxRecipientE8s: r.MaxRecipientE8s}
}

// services is the one config the connectors are built from (config.go),
// filled from the groups a command embeds.
func services(k *kafkaFlags, c *clickhouseFlags, v *vaultFlags, i *icFlags, l *localFlags, s *signerKeyFlags) config {
	var cfg config
	if k != nil {
		cfg.KafkaBrokers = k.KafkaBrokers
		cfg.Kafka = k.brokers()
		cfg.KafkaTopics = k.topicOptions()
	}
	if c != nil {
		cfg.ClickHouse = c.config()
	}
	if v != nil {
		cfg.Vault = v.config()
		if s != nil {
			cfg.Vault.Auth, cfg.Vault.AppRoleMount = s.VaultAuth, s.VaultAppRoleMount
			cfg.Vault.RoleID, cfg.Vault.SecretID = os.Getenv("NODESHARE_VAULT_ROLE_ID"), os.Getenv("NODESHARE_VAULT_SECRET_ID")
		}
	}
	if i != nil {
		cfg.ICURL, cfg.ICFetchRootKey = i.ICURL, i.ICFetchRootKey
	}
	if l != nil {
		cfg.LocalDir = l.LocalDir
	}
	return cfg
}

func splitList(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// validateAll validates each group and joins the errors.
func validateAll(vs ...interface{ Validate() error }) error {
	var errs []error
	for _, v := range vs {
		if err := v.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// errValidator turns an error found while validating into a Validate.
type errValidator struct{ err error }

func (e errValidator) Validate() error { return e.err }

// sanityFlags configure the sanity checks that hold a period before it is
// planned (pipeline/sanity, docs/payouts.md "Sanity holds").
type sanityFlags struct {
	SanityTreasury      string `name:"sanity-treasury" env:"NODESHARE_TREASURY_PRINCIPAL" help:"The DAO treasury principal: a reward minted to any other account holds its period (empty: not checked)."`
	NodeProviders       string `name:"node-providers" env:"NODESHARE_NODE_PROVIDERS" help:"The node providers the DAO runs, comma separated: a reward of any other holds its period (empty: not checked)."`
	MaxRewardChangeBps  int64  `name:"max-reward-change-bps" env:"NODESHARE_MAX_REWARD_CHANGE_BPS" default:"5000" help:"A reward more than this far (bps) from the node provider's previous one holds its period."`
	MaxRateDeviationBps int64  `name:"max-rate-deviation-bps" env:"NODESHARE_MAX_RATE_DEVIATION_BPS" default:"2000" help:"A reward whose ICP/XDR rate is more than this far (bps) from the 30-day average holds its period."`
}

func (f sanityFlags) Validate() error {
	if f.MaxRewardChangeBps < 1 || f.MaxRateDeviationBps < 1 {
		return fmt.Errorf("--max-reward-change-bps and --max-rate-deviation-bps must be >= 1, got %d and %d", f.MaxRewardChangeBps, f.MaxRateDeviationBps)
	}
	if f.SanityTreasury != "" {
		if _, err := schemas.AccountOf(f.SanityTreasury, [32]byte{}); err != nil {
			return fmt.Errorf("--sanity-treasury: %w (NODESHARE_TREASURY_PRINCIPAL)", err)
		}
	}
	return nil
}

// gate is the sanity gate over store.
func (f sanityFlags) gate(store payout.SanityStore) *payout.Sanity {
	s := &payout.Sanity{Store: store, Bounds: sanity.Bounds{MaxRewardChangeBps: f.MaxRewardChangeBps, MaxRateDeviationBps: f.MaxRateDeviationBps},
		Providers: splitList(f.NodeProviders)}
	if f.SanityTreasury != "" {
		if a, err := schemas.AccountOf(f.SanityTreasury, [32]byte{}); err == nil {
			s.Treasuries = []string{f.SanityTreasury, a.ICRC1, a.ID}
		}
	}
	return s
}
