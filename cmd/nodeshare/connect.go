package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/dashboard"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/connectors/metrics"
	"github.com/nodeshare/nodeshare/connectors/prices"
	"github.com/nodeshare/nodeshare/pipeline/rates"
	"github.com/nodeshare/nodeshare/pipeline/stage/connect"
	"github.com/nodeshare/nodeshare/schemas"
)

// connectCmd is `nodeshare connect` (docs/connectors.md): it polls NNS
// Governance (node-provider rewards, the pools' proposals), the CMC
// (certified ICP/XDR spot and 30-day average), the Node Rewards Canister
// (per-node daily rewards and period weights, the pools' nodes), the ICP
// ledger (the pools' deposit and bond blocks), the public dashboard
// (rates, cross-checked against the CMC) and a public price API (ICP's
// fiat price, for reports), and publishes every new fact to Kafka once,
// under a deterministic key, with provenance (pipeline/stage/connect).
type connectCmd struct {
	kafkaFlags
	icFlags
	vaultFlags
	metricsFlags
	Interval      time.Duration `name:"interval" env:"NODESHARE_CONNECT_INTERVAL" default:"10m" help:"Time between polls."`
	Once          bool          `name:"once" help:"Poll once, publish, and exit (exit 1 if any source failed)."`
	SinceSeconds  uint64        `name:"since-seconds" env:"NODESHARE_CONNECT_SINCE_SECONDS" default:"0" help:"First poll: reward history starts at this Unix time."`
	Identity      string        `name:"identity" env:"NODESHARE_IC_IDENTITY" default:"anonymous" enum:"anonymous,pem,vault" help:"IC identity: anonymous, pem (--identity-pem) or vault (the transit key)."`
	IdentityPEM   string        `name:"identity-pem" env:"NODESHARE_IC_IDENTITY_PEM" help:"Ed25519 PEM file for --identity pem, development only."`
	DashboardURL  string        `name:"dashboard-url" env:"NODESHARE_DASHBOARD_URL" help:"Dashboard API root, or off (default: the public API for mainnet, the simulator's /dashboard/api/v3 otherwise)."`
	ToleranceBps  int64         `name:"rate-tolerance-bps" env:"NODESHARE_RATE_TOLERANCE_BPS" default:"${rate_tolerance_bps}" help:"Alarm when the dashboard rate differs from the CMC's by more than this many basis points."`
	MaxSkew       time.Duration `name:"rate-max-skew" env:"NODESHARE_RATE_MAX_SKEW" default:"${rate_max_skew}" help:"Compare rates only when their timestamps are this close."`
	NRCProviders  string        `name:"nrc-providers" env:"NODESHARE_NRC_PROVIDERS" help:"Node provider principals whose per-node NRC data is published, comma separated; empty = all."`
	NRCOff        bool          `name:"nrc-off" env:"NODESHARE_NRC_OFF" help:"Do not poll the Node Rewards Canister."`
	NRCRecentDays int           `name:"nrc-recent-days" env:"NODESHARE_NRC_RECENT_DAYS" default:"2" help:"Also poll the NRC for the last N complete UTC days."`
	LedgerOff     bool          `name:"ledger-off" env:"NODESHARE_LEDGER_OFF" help:"Do not read the ICP ledger (the pools' deposit and bond blocks)."`
	LedgerSince   string        `name:"ledger-since-block" env:"NODESHARE_LEDGER_SINCE_BLOCK" default:"tip" placeholder:"INDEX|tip" help:"First ledger block read while ic.ledger-blocks.v1 holds no cursor yet: a block index, or tip (the chain's length at that first poll). The cursor on the topic wins once there."`
	LedgerWindow  int           `name:"ledger-window" env:"NODESHARE_LEDGER_WINDOW" default:"2000" help:"Most ledger blocks published under one cursor record."`
	PriceURL      string        `name:"price-url" env:"NODESHARE_PRICE_URL" help:"CoinGecko-compatible price API root for ICP's fiat price, or off (default: https://api.coingecko.com for mainnet, the simulator's /coingecko otherwise). An API key goes in NODESHARE_PRICE_API_KEY (environment only)."`
	PriceCurrency string        `name:"price-currency" env:"NODESHARE_PRICE_CURRENCY" default:"usd" help:"Fiat currency of the prices: 3 lower-case letters (ISO 4217)."`
	PriceDays     int           `name:"price-days" env:"NODESHARE_PRICE_DAYS" default:"30" help:"First poll: read this many days of prices when ext.icp-fiat-prices.v1 holds none of the source and currency yet."`
	PoolsOff      bool          `name:"pools-off" env:"NODESHARE_POOLS_OFF" help:"Do not watch the pools' NNS proposals and nodes (proposal_decided, node_up, node_down)."`
	IngressExpiry time.Duration `name:"ingress-expiry" env:"NODESHARE_IC_INGRESS_EXPIRY" default:"5m" help:"Request expiry and maximum certificate age, at most 5m."`
	CallTimeout   time.Duration `name:"call-timeout" env:"NODESHARE_IC_CALL_TIMEOUT" default:"1m" help:"Timeout of one IC, dashboard or price call."`
	Attempts      int           `name:"attempts" env:"NODESHARE_CONNECT_ATTEMPTS" default:"4" help:"Tries per call for transient failures, with backoff."`
	TopicPrefix   string        `name:"topic-prefix" env:"NODESHARE_TOPIC_PREFIX" help:"Prefix of every topic written (tests only)."`
}

// stageConfig is the connect stage's own configuration.
func (c *connectCmd) stageConfig() connect.Config {
	since, _ := c.ledgerSinceBlock()
	return connect.Config{Interval: c.Interval, Once: c.Once, SinceSeconds: c.SinceSeconds,
		Tolerance: rates.Tolerance{MaxDiffBps: c.ToleranceBps, MaxSkew: c.MaxSkew}, NRCProviders: splitList(c.NRCProviders),
		NRCRecentDays: c.NRCRecentDays, LedgerSinceBlock: since, LedgerWindow: c.LedgerWindow, PriceDays: c.PriceDays,
		CallTimeout: c.CallTimeout, Attempts: c.Attempts, TopicPrefix: c.TopicPrefix}
}

// ledgerSinceBlock is --ledger-since-block: nil for tip.
func (c *connectCmd) ledgerSinceBlock() (*uint64, error) {
	if c.LedgerSince == "tip" {
		return nil, nil
	}
	n, err := strconv.ParseUint(c.LedgerSince, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("--ledger-since-block must be a block index or tip, got %q (NODESHARE_LEDGER_SINCE_BLOCK)", c.LedgerSince)
	}
	return &n, nil
}

func (c *connectCmd) dashboardURL() string {
	if c.DashboardURL == "" {
		return dashboard.DefaultURLFor(c.ICURL)
	}
	return c.DashboardURL
}

// priceURL is --price-url, or its default: the public CoinGecko API for a
// mainnet IC, the simulator's copy (<ic url>/coingecko) otherwise, as the
// dashboard's default is decided.
func (c *connectCmd) priceURL() string {
	if c.PriceURL != "" {
		return c.PriceURL
	}
	if dashboard.IsMainnet(c.ICURL) {
		return prices.DefaultBaseURL
	}
	return strings.TrimSuffix(c.ICURL, "/") + "/coingecko"
}

func (c *connectCmd) Validate() error {
	var errs []error
	if err := validateAll(c.kafkaFlags, c.icFlags, c.metricsFlags, c.stageConfig()); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.ledgerSinceBlock(); err != nil {
		errs = append(errs, err)
	}
	if c.LedgerWindow < 1 {
		errs = append(errs, fmt.Errorf("--ledger-window must be >= 1, got %d (NODESHARE_LEDGER_WINDOW)", c.LedgerWindow))
	}
	switch c.Identity {
	case "pem":
		if c.IdentityPEM == "" {
			errs = append(errs, errors.New("--identity pem needs --identity-pem FILE (NODESHARE_IC_IDENTITY_PEM)"))
		}
	case "vault":
		cfg := services(nil, nil, &c.vaultFlags, nil, nil, nil)
		if err := cfg.Vault.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if d := c.dashboardURL(); d != "off" {
		if u, err := url.Parse(d); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, fmt.Errorf("--dashboard-url must be an http(s) URL or off, got %q (NODESHARE_DASHBOARD_URL)", d))
		}
	}
	if d := c.priceURL(); d != "off" {
		if u, err := url.Parse(d); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--price-url must be an http(s) URL or off, got %q (NODESHARE_PRICE_URL)", d))
		}
	}
	if err := schemas.ValidateCurrency(c.PriceCurrency); err != nil {
		errs = append(errs, fmt.Errorf("--price-currency: %w (NODESHARE_PRICE_CURRENCY)", err))
	}
	if c.PriceDays < 1 {
		errs = append(errs, fmt.Errorf("--price-days must be >= 1, got %d (NODESHARE_PRICE_DAYS)", c.PriceDays))
	}
	if c.IngressExpiry <= 0 || c.IngressExpiry > 5*time.Minute {
		errs = append(errs, fmt.Errorf("--ingress-expiry must be in (0, 5m], got %s (NODESHARE_IC_INGRESS_EXPIRY)", c.IngressExpiry))
	}
	if c.ICFetchRootKey && dashboard.IsMainnet(c.ICURL) {
		errs = append(errs, fmt.Errorf("--ic-fetch-root-key must be false for mainnet %s: the compiled-in root key is used (NODESHARE_IC_FETCH_ROOT_KEY=false)", c.ICURL))
	}
	return errors.Join(errs...)
}

func (c *connectCmd) Run(e env) error {
	log := slog.New(slog.NewJSONHandler(e.stderr, nil))
	st := c.stageConfig()
	st.Logger = log
	// Ends the Vault token keep-alive (identity vault) when connect returns.
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	// Metrics: source alarms and failed certificate checks. Ready: Kafka
	// answers (the IC, the dashboard and the price API are polled on the
	// schedule; a failing one shows in the poll's log line).
	var reg *metrics.Registry
	if addr := c.addr(metricsConnect, c.Once); addr != "" {
		reg = metrics.New(versionString())
		reg.InitAlarms(connect.AlarmKinds())
		reg.InitCertificateChecks(ic.CertificateChecks())
		st.Observer = reg
		wait, err := serveMetrics(ctx, addr, reg, []metrics.Check{kafkaCheck(c.kafkaFlags.brokers())}, log)
		if err != nil {
			return err
		}
		defer wait()
		defer cancel()
	}
	ports, closePorts, err := connectPorts(ctx, c, st, log, reg)
	if err != nil {
		return err
	}
	defer closePorts()
	conn, err := connect.New(st, ports)
	if err != nil {
		return err
	}
	return conn.Run(ctx)
}

// connectIdentity builds the identity requests are signed with.
func connectIdentity(ctx context.Context, cc *connectCmd, log *slog.Logger) (identity.Identity, error) {
	switch cc.Identity {
	case "pem":
		b, err := os.ReadFile(cc.IdentityPEM)
		if err != nil {
			return nil, fmt.Errorf("identity pem: %w", err)
		}
		id, err := identity.NewEd25519IdentityFromPEM(b)
		if err != nil {
			return nil, fmt.Errorf("identity pem %s: not an Ed25519 PEM key: %w", cc.IdentityPEM, err)
		}
		return id, nil
	case "vault":
		return openSigner(ctx, services(nil, nil, &cc.vaultFlags, nil, nil, nil).Vault, signerConfig{KeyMode: "transit"}, log)
	}
	return new(identity.AnonymousIdentity), nil
}

// connectPorts builds the connect stage's ports: the IC client (signing
// with the configured identity) for Governance, the CMC and the NRC, the
// dashboard client, and the event log, after creating the stage's topics.
// closePorts releases the Kafka producer.
// reg, when set, counts the certificate checks that fail.
func connectPorts(ctx context.Context, cc *connectCmd, st connect.Config, log *slog.Logger, reg *metrics.Registry) (p connect.Ports, closePorts func(), err error) {
	id, err := connectIdentity(ctx, cc, log)
	if err != nil {
		return p, nil, err
	}
	icfg := ic.Config{URL: cc.ICURL, Identity: id, FetchRootKey: cc.ICFetchRootKey, IngressExpiry: cc.IngressExpiry, Logger: log}
	if reg != nil {
		icfg.CertificateFailed = reg.CertificateFailed
	}
	icc, err := ic.New(icfg)
	if err != nil {
		return p, nil, err
	}
	src := ic.ConnectSource{Client: icc}
	p.Governance, p.CMC = src, src
	if !cc.NRCOff {
		p.NRC = src
	}
	if !cc.LedgerOff {
		p.Ledger = ic.LedgerSource{Client: icc}
	}
	if !cc.PoolsOff {
		p.Proposals = src
	}
	if d := cc.dashboardURL(); d != "off" {
		dc, err := dashboard.New(dashboard.Config{BaseURL: d, RequestTimeout: st.CallTimeout, MaxAttempts: st.Attempts, Logger: log})
		if err != nil {
			return p, nil, err
		}
		p.Dashboard = dashboard.ConnectSource{Client: dc}
	}
	if u := cc.priceURL(); u != "off" {
		pc, err := prices.New(prices.Config{BaseURL: u, Currency: cc.PriceCurrency, APIKey: os.Getenv("NODESHARE_PRICE_API_KEY"),
			RequestTimeout: st.CallTimeout, MaxAttempts: st.Attempts, Logger: log})
		if err != nil {
			return p, nil, err
		}
		p.Prices = prices.ConnectSource{Client: pc}
	}
	brokers := cc.brokers()
	want := map[string]bool{}
	for _, t := range connect.Topics() {
		want[t] = true
	}
	var topics []schemas.TopicSpec
	// Every topic the stage reads or writes, dao.pools.v1 included (so a
	// first run with no pool reads an empty topic).
	for _, t := range schemas.Topics() {
		if want[t.Name] {
			t.Name = st.TopicPrefix + t.Name
			topics = append(topics, t)
		}
	}
	if err := kafka.EnsureTopicsWith(ctx, brokers, topics, cc.topicOptions()); err != nil {
		return p, nil, err
	}
	prod := kafka.NewProducer(brokers)
	p.Log = &kafka.Log{Brokers: brokers, Producer: prod}
	log.Info("connector started", "ic_url", cc.ICURL, "sender", icc.Sender().String(), "identity", cc.Identity, "dashboard_url", cc.dashboardURL(),
		"price_url", cc.priceURL(), "price_currency", cc.PriceCurrency,
		"interval", st.Interval.String(), "once", st.Once, "topic_prefix", st.TopicPrefix,
		"ledger", !cc.LedgerOff, "ledger_since_block", cc.LedgerSince, "pools", !cc.PoolsOff)
	return p, func() { _ = prod.Close() }, nil
}
