package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
	"github.com/nodeshare/nodeshare/schemas"
)

// connectConfig is `nodeshare connect`'s configuration (docs/connectors.md).
type connectConfig struct {
	config
	Interval time.Duration
	Once     bool
	// SinceSeconds is where the reward history starts on the first poll.
	SinceSeconds uint64
	Identity     string // anonymous | pem | vault
	IdentityPEM  string
	DashboardURL string // "off" disables the dashboard
	Tolerance    dashboard.Tolerance
	NRCProviders []string // empty: every provider
	NRCOff       bool
	// NRCRecentDays also polls the NRC for the last N complete days.
	NRCRecentDays int
	IngressExpiry time.Duration
	CallTimeout   time.Duration
	Attempts      int
	// TopicPrefix isolates a run's topics (tests); empty in production.
	TopicPrefix string
}

func (c connectConfig) topic(name string) string { return c.TopicPrefix + name }

func (c *connectConfig) validate() error {
	var errs []error
	if err := c.config.validate("kafka", "ic"); err != nil {
		errs = append(errs, err)
	}
	if !c.Once && c.Interval < time.Second {
		errs = append(errs, fmt.Errorf("interval must be >= 1s, got %s (NODESHARE_CONNECT_INTERVAL)", c.Interval))
	}
	switch c.Identity {
	case "anonymous":
	case "pem":
		if c.IdentityPEM == "" {
			errs = append(errs, errors.New("identity pem needs --identity-pem FILE (NODESHARE_IC_IDENTITY_PEM)"))
		}
	case "vault":
		if err := c.Vault.Validate(); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("identity must be anonymous, pem or vault, got %q (NODESHARE_IC_IDENTITY)", c.Identity))
	}
	if c.DashboardURL != "off" {
		if u, err := url.Parse(c.DashboardURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, fmt.Errorf("dashboard-url must be an http(s) URL or off, got %q (NODESHARE_DASHBOARD_URL)", c.DashboardURL))
		}
	}
	if c.Tolerance.MaxDiffBps < 0 || c.Tolerance.MaxSkew < 0 {
		errs = append(errs, errors.New("rate-tolerance-bps and rate-max-skew must be >= 0"))
	}
	if c.IngressExpiry <= 0 || c.IngressExpiry > 5*time.Minute {
		errs = append(errs, fmt.Errorf("ingress-expiry must be in (0, 5m], got %s", c.IngressExpiry))
	}
	if c.CallTimeout <= 0 || c.Attempts < 1 || c.NRCRecentDays < 0 {
		errs = append(errs, errors.New("call-timeout must be > 0, attempts >= 1, nrc-recent-days >= 0"))
	}
	if c.ICFetchRootKey && isMainnet(c.ICURL) {
		errs = append(errs, fmt.Errorf("ic-fetch-root-key must be false for mainnet %s: the compiled-in root key is used (NODESHARE_IC_FETCH_ROOT_KEY=false)", c.ICURL))
	}
	return errors.Join(errs...)
}

func isMainnet(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	for _, m := range []string{"icp0.io", "ic0.app", "icp-api.io", "internetcomputer.org"} {
		if h == m || strings.HasSuffix(h, "."+m) {
			return true
		}
	}
	return false
}

// defaultDashboardURL: the public API for mainnet, the simulator's
// endpoint otherwise.
func defaultDashboardURL(icURL string) string {
	if isMainnet(icURL) {
		return dashboard.DefaultBaseURL
	}
	return strings.TrimSuffix(icURL, "/") + "/dashboard/api/v3"
}

func connectEnvDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func connectEnvInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

func runConnect(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cc connectConfig
	cc.register(fs, "kafka", "ic", "vault")
	fs.DurationVar(&cc.Interval, "interval", connectEnvDuration("NODESHARE_CONNECT_INTERVAL", 10*time.Minute), "time between polls (NODESHARE_CONNECT_INTERVAL)")
	fs.BoolVar(&cc.Once, "once", false, "poll once, publish, and exit (exit 1 if any source failed)")
	since := fs.Int64("since-seconds", int64(connectEnvInt("NODESHARE_CONNECT_SINCE_SECONDS", 0)), "first poll: reward history starts at this Unix time (NODESHARE_CONNECT_SINCE_SECONDS)")
	fs.StringVar(&cc.Identity, "identity", envOr("NODESHARE_IC_IDENTITY", "anonymous"), "IC identity: anonymous, pem (--identity-pem) or vault (transit key) (NODESHARE_IC_IDENTITY)")
	fs.StringVar(&cc.IdentityPEM, "identity-pem", os.Getenv("NODESHARE_IC_IDENTITY_PEM"), "Ed25519 PEM file for --identity pem, development only (NODESHARE_IC_IDENTITY_PEM)")
	dash := fs.String("dashboard-url", os.Getenv("NODESHARE_DASHBOARD_URL"), "dashboard API root, or off (default: the public API for mainnet, the simulator's /dashboard/api/v3 otherwise) (NODESHARE_DASHBOARD_URL)")
	fs.Int64Var(&cc.Tolerance.MaxDiffBps, "rate-tolerance-bps", int64(connectEnvInt("NODESHARE_RATE_TOLERANCE_BPS", int(dashboard.DefaultTolerance.MaxDiffBps))), "alarm when the dashboard rate differs from the CMC's by more than this many basis points (NODESHARE_RATE_TOLERANCE_BPS)")
	fs.DurationVar(&cc.Tolerance.MaxSkew, "rate-max-skew", connectEnvDuration("NODESHARE_RATE_MAX_SKEW", dashboard.DefaultTolerance.MaxSkew), "compare rates only when their timestamps are this close (NODESHARE_RATE_MAX_SKEW)")
	nrcProviders := fs.String("nrc-providers", os.Getenv("NODESHARE_NRC_PROVIDERS"), "node provider principals whose per-node NRC data is published, comma separated; empty = all (NODESHARE_NRC_PROVIDERS)")
	fs.BoolVar(&cc.NRCOff, "nrc-off", os.Getenv("NODESHARE_NRC_OFF") == "true", "do not poll the Node Rewards Canister (NODESHARE_NRC_OFF)")
	fs.IntVar(&cc.NRCRecentDays, "nrc-recent-days", connectEnvInt("NODESHARE_NRC_RECENT_DAYS", 2), "also poll the NRC for the last N complete UTC days (NODESHARE_NRC_RECENT_DAYS)")
	fs.DurationVar(&cc.IngressExpiry, "ingress-expiry", connectEnvDuration("NODESHARE_IC_INGRESS_EXPIRY", 5*time.Minute), "request expiry and maximum certificate age, at most 5m (NODESHARE_IC_INGRESS_EXPIRY)")
	fs.DurationVar(&cc.CallTimeout, "call-timeout", connectEnvDuration("NODESHARE_IC_CALL_TIMEOUT", time.Minute), "timeout of one IC or dashboard call (NODESHARE_IC_CALL_TIMEOUT)")
	fs.IntVar(&cc.Attempts, "attempts", connectEnvInt("NODESHARE_CONNECT_ATTEMPTS", 4), "tries per call for transient failures, with doubling backoff (NODESHARE_CONNECT_ATTEMPTS)")
	fs.StringVar(&cc.TopicPrefix, "topic-prefix", os.Getenv("NODESHARE_TOPIC_PREFIX"), "prefix of every topic written (tests only) (NODESHARE_TOPIC_PREFIX)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nodeshare connect [flags]\n\nPolls NNS Governance (node-provider rewards), the CMC (certified ICP/XDR spot and 30-day average),\nthe Node Rewards Canister (per-node daily rewards and period weights) and the public dashboard\n(rates, cross-checked against the CMC), and publishes every new fact to Kafka once, under a\ndeterministic key, with provenance. See docs/connectors.md.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *since < 0 {
		fmt.Fprintf(stderr, "connect: since-seconds must be >= 0, got %d\n", *since)
		return 2
	}
	cc.SinceSeconds = uint64(*since)
	cc.DashboardURL = *dash
	if cc.DashboardURL == "" {
		cc.DashboardURL = defaultDashboardURL(cc.ICURL)
	}
	for _, p := range strings.Split(*nrcProviders, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cc.NRCProviders = append(cc.NRCProviders, p)
		}
	}
	if err := cc.validate(); err != nil {
		fmt.Fprintf(stderr, "connect: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	// Ends the Vault token keep-alive (identity vault) when connect returns.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c, err := newConnector(ctx, cc, log)
	if err != nil {
		fmt.Fprintf(stderr, "connect: %v\n", err)
		return 1
	}
	defer c.close()
	if err := c.run(ctx); err != nil {
		fmt.Fprintf(stderr, "connect: %v\n", err)
		return 1
	}
	return 0
}

// connectIdentity builds the identity requests are signed with.
func connectIdentity(ctx context.Context, cc connectConfig, log *slog.Logger) (identity.Identity, error) {
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
		return openSigner(ctx, cc.Vault, signerConfig{KeyMode: "transit"}, log)
	}
	return new(identity.AnonymousIdentity), nil
}

// connector polls the IC sources and publishes new facts.
type connector struct {
	cc      connectConfig
	ic      *ic.Client
	dash    *dashboard.Client // nil: dashboard off
	brokers []string
	prod    *kafka.Producer
	log     *slog.Logger
	now     func() time.Time
	// newestReward is the newest Governance reward timestamp published or
	// seen; 0 before the first poll.
	newestReward uint64
	polled       bool
}

func newConnector(ctx context.Context, cc connectConfig, log *slog.Logger) (*connector, error) {
	id, err := connectIdentity(ctx, cc, log)
	if err != nil {
		return nil, err
	}
	icc, err := ic.New(ic.Config{URL: cc.ICURL, Identity: id, FetchRootKey: cc.ICFetchRootKey, IngressExpiry: cc.IngressExpiry, Logger: log})
	if err != nil {
		return nil, err
	}
	c := &connector{cc: cc, ic: icc, brokers: cc.brokers(), log: log, now: time.Now}
	if cc.DashboardURL != "off" {
		if c.dash, err = dashboard.New(dashboard.Config{BaseURL: cc.DashboardURL, RequestTimeout: cc.CallTimeout, MaxAttempts: cc.Attempts, Logger: log}); err != nil {
			return nil, err
		}
	}
	var topics []schemas.TopicSpec
	for _, t := range schemas.Topics() {
		switch t.Name {
		case schemas.TopicNodeRewards, schemas.TopicRates, schemas.TopicNodeDailyRewards, schemas.TopicNodePeriodWeights, schemas.TopicSourceAlarms:
			t.Name = cc.topic(t.Name)
			topics = append(topics, t)
		}
	}
	if err := kafka.EnsureTopics(ctx, c.brokers, topics, 1); err != nil {
		return nil, err
	}
	c.prod = kafka.NewProducer(c.brokers)
	log.Info("connector started", "ic_url", cc.ICURL, "sender", icc.Sender().String(), "identity", cc.Identity, "dashboard_url", cc.DashboardURL,
		"interval", cc.Interval.String(), "once", cc.Once, "topic_prefix", cc.TopicPrefix)
	return c, nil
}

func (c *connector) close() {
	if c.prod != nil {
		_ = c.prod.Close()
	}
}

// run polls once (--once) or on every tick until ctx ends. A failed poll is
// logged and retried at the next tick; facts from the sources that answered
// are published anyway.
func (c *connector) run(ctx context.Context) error {
	for {
		st, err := c.poll(ctx)
		lvl := slog.LevelInfo
		if err != nil {
			lvl = slog.LevelError
		}
		attrs := []any{"published", st.published, "already_present", st.present, "conflicts", st.conflicts, "nrc_days_queried", st.nrcQueried, "nrc_days_missing", st.nrcMissing, "alarms", st.alarms}
		if err != nil {
			attrs = append(attrs, "error", err.Error())
		}
		c.log.Log(ctx, lvl, "poll done", attrs...)
		if c.cc.Once {
			return err
		}
		t := time.NewTimer(c.cc.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
