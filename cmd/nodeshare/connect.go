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
	"github.com/nodeshare/nodeshare/pipeline/rates"
	"github.com/nodeshare/nodeshare/pipeline/stage/connect"
	"github.com/nodeshare/nodeshare/schemas"
)

// connectConfig is `nodeshare connect`'s configuration (docs/connectors.md):
// the services, how to reach the IC and the dashboard, and the stage's own
// settings.
type connectConfig struct {
	config
	Stage        connect.Config
	Identity     string // anonymous | pem | vault
	IdentityPEM  string
	DashboardURL string // "off" disables the dashboard
	NRCOff       bool
	// IngressExpiry is the IC requests' expiry and the oldest certificate
	// accepted.
	IngressExpiry time.Duration
}

func (c *connectConfig) validate() error {
	var errs []error
	if err := c.config.validate("kafka", "ic"); err != nil {
		errs = append(errs, err)
	}
	if err := c.Stage.Validate(); err != nil {
		errs = append(errs, err)
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
	if c.IngressExpiry <= 0 || c.IngressExpiry > 5*time.Minute {
		errs = append(errs, fmt.Errorf("ingress-expiry must be in (0, 5m], got %s", c.IngressExpiry))
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
	st := &cc.Stage
	cc.register(fs, "kafka", "ic", "vault")
	fs.DurationVar(&st.Interval, "interval", connectEnvDuration("NODESHARE_CONNECT_INTERVAL", 10*time.Minute), "time between polls (NODESHARE_CONNECT_INTERVAL)")
	fs.BoolVar(&st.Once, "once", false, "poll once, publish, and exit (exit 1 if any source failed)")
	since := fs.Int64("since-seconds", int64(connectEnvInt("NODESHARE_CONNECT_SINCE_SECONDS", 0)), "first poll: reward history starts at this Unix time (NODESHARE_CONNECT_SINCE_SECONDS)")
	fs.StringVar(&cc.Identity, "identity", envOr("NODESHARE_IC_IDENTITY", "anonymous"), "IC identity: anonymous, pem (--identity-pem) or vault (transit key) (NODESHARE_IC_IDENTITY)")
	fs.StringVar(&cc.IdentityPEM, "identity-pem", os.Getenv("NODESHARE_IC_IDENTITY_PEM"), "Ed25519 PEM file for --identity pem, development only (NODESHARE_IC_IDENTITY_PEM)")
	dash := fs.String("dashboard-url", os.Getenv("NODESHARE_DASHBOARD_URL"), "dashboard API root, or off (default: the public API for mainnet, the simulator's /dashboard/api/v3 otherwise) (NODESHARE_DASHBOARD_URL)")
	fs.Int64Var(&st.Tolerance.MaxDiffBps, "rate-tolerance-bps", int64(connectEnvInt("NODESHARE_RATE_TOLERANCE_BPS", int(rates.DefaultTolerance.MaxDiffBps))), "alarm when the dashboard rate differs from the CMC's by more than this many basis points (NODESHARE_RATE_TOLERANCE_BPS)")
	fs.DurationVar(&st.Tolerance.MaxSkew, "rate-max-skew", connectEnvDuration("NODESHARE_RATE_MAX_SKEW", rates.DefaultTolerance.MaxSkew), "compare rates only when their timestamps are this close (NODESHARE_RATE_MAX_SKEW)")
	nrcProviders := fs.String("nrc-providers", os.Getenv("NODESHARE_NRC_PROVIDERS"), "node provider principals whose per-node NRC data is published, comma separated; empty = all (NODESHARE_NRC_PROVIDERS)")
	fs.BoolVar(&cc.NRCOff, "nrc-off", os.Getenv("NODESHARE_NRC_OFF") == "true", "do not poll the Node Rewards Canister (NODESHARE_NRC_OFF)")
	fs.IntVar(&st.NRCRecentDays, "nrc-recent-days", connectEnvInt("NODESHARE_NRC_RECENT_DAYS", 2), "also poll the NRC for the last N complete UTC days (NODESHARE_NRC_RECENT_DAYS)")
	fs.DurationVar(&cc.IngressExpiry, "ingress-expiry", connectEnvDuration("NODESHARE_IC_INGRESS_EXPIRY", 5*time.Minute), "request expiry and maximum certificate age, at most 5m (NODESHARE_IC_INGRESS_EXPIRY)")
	fs.DurationVar(&st.CallTimeout, "call-timeout", connectEnvDuration("NODESHARE_IC_CALL_TIMEOUT", time.Minute), "timeout of one IC or dashboard call (NODESHARE_IC_CALL_TIMEOUT)")
	fs.IntVar(&st.Attempts, "attempts", connectEnvInt("NODESHARE_CONNECT_ATTEMPTS", 4), "tries per call for transient failures, with doubling backoff (NODESHARE_CONNECT_ATTEMPTS)")
	fs.StringVar(&st.TopicPrefix, "topic-prefix", os.Getenv("NODESHARE_TOPIC_PREFIX"), "prefix of every topic written (tests only) (NODESHARE_TOPIC_PREFIX)")
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
	st.SinceSeconds = uint64(*since)
	cc.DashboardURL = *dash
	if cc.DashboardURL == "" {
		cc.DashboardURL = defaultDashboardURL(cc.ICURL)
	}
	for _, p := range strings.Split(*nrcProviders, ",") {
		if p = strings.TrimSpace(p); p != "" {
			st.NRCProviders = append(st.NRCProviders, p)
		}
	}
	if err := cc.validate(); err != nil {
		fmt.Fprintf(stderr, "connect: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	st.Logger = log
	// Ends the Vault token keep-alive (identity vault) when connect returns.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ports, closePorts, err := connectPorts(ctx, cc, log)
	if err != nil {
		fmt.Fprintf(stderr, "connect: %v\n", err)
		return 1
	}
	defer closePorts()
	c, err := connect.New(cc.Stage, ports)
	if err != nil {
		fmt.Fprintf(stderr, "connect: %v\n", err)
		return 1
	}
	if err := c.Run(ctx); err != nil {
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

// connectPorts builds the connect stage's ports: the IC client (signing
// with the configured identity) for Governance, the CMC and the NRC, the
// dashboard client, and the event log, after creating the stage's topics.
// closePorts releases the Kafka producer.
func connectPorts(ctx context.Context, cc connectConfig, log *slog.Logger) (p connect.Ports, closePorts func(), err error) {
	id, err := connectIdentity(ctx, cc, log)
	if err != nil {
		return p, nil, err
	}
	icc, err := ic.New(ic.Config{URL: cc.ICURL, Identity: id, FetchRootKey: cc.ICFetchRootKey, IngressExpiry: cc.IngressExpiry, Logger: log})
	if err != nil {
		return p, nil, err
	}
	src := ic.ConnectSource{Client: icc}
	p.Governance, p.CMC = src, src
	if !cc.NRCOff {
		p.NRC = src
	}
	if cc.DashboardURL != "off" {
		dc, err := dashboard.New(dashboard.Config{BaseURL: cc.DashboardURL, RequestTimeout: cc.Stage.CallTimeout, MaxAttempts: cc.Stage.Attempts, Logger: log})
		if err != nil {
			return p, nil, err
		}
		p.Dashboard = dashboard.ConnectSource{Client: dc}
	}
	brokers := cc.brokers()
	want := map[string]bool{}
	for _, t := range connect.Topics() {
		want[t] = true
	}
	var topics []schemas.TopicSpec
	for _, t := range schemas.Topics() {
		if want[t.Name] {
			t.Name = cc.Stage.TopicPrefix + t.Name
			topics = append(topics, t)
		}
	}
	if err := kafka.EnsureTopics(ctx, brokers, topics, 1); err != nil {
		return p, nil, err
	}
	prod := kafka.NewProducer(brokers)
	p.Log = &kafka.Log{Brokers: brokers, Producer: prod}
	log.Info("connector started", "ic_url", cc.ICURL, "sender", icc.Sender().String(), "identity", cc.Identity, "dashboard_url", cc.DashboardURL,
		"interval", cc.Stage.Interval.String(), "once", cc.Stage.Once, "topic_prefix", cc.Stage.TopicPrefix)
	return p, func() { _ = prod.Close() }, nil
}
