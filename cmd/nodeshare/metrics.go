package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/connectors/metrics"
	"github.com/nodeshare/nodeshare/connectors/vault"
	"github.com/nodeshare/nodeshare/pipeline/reconcile"
	"github.com/nodeshare/nodeshare/pipeline/stage/signer"
)

// The default metrics address of each long-running command: loopback, one
// port each, so the daemons of one machine never collide (docs/operations.md
// "Metrics, health and alerts").
const (
	metricsConnect = "127.0.0.1:18091"
	metricsProcess = "127.0.0.1:18092"
	metricsSink    = "127.0.0.1:18093"
	metricsSigner  = "127.0.0.1:18094"
	metricsServe   = "127.0.0.1:18095"
)

// metricsFlags is where a long-running command serves /metrics, /healthz
// and /readyz.
type metricsFlags struct {
	MetricsAddr string `name:"metrics-addr" env:"NODESHARE_METRICS_ADDR" placeholder:"HOST:PORT|off" help:"Serve /metrics, /healthz and /readyz on host:port, or off. Default: loopback, one port per command (connect 18091, process 18092, sink 18093, signer 18094, serve 18095); off for a one-shot run (--once, --drain) unless set."`
}

func (m metricsFlags) Validate() error {
	if m.MetricsAddr == "" || m.MetricsAddr == "off" {
		return nil
	}
	_, port, err := net.SplitHostPort(m.MetricsAddr)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		return fmt.Errorf("--metrics-addr must be host:port or off, got %q (NODESHARE_METRICS_ADDR)", m.MetricsAddr)
	}
	return nil
}

// addr is the address to serve on: the flag, else def; "" when off (the
// flag says off, or the run is one-shot and the flag is not set).
func (m metricsFlags) addr(def string, oneShot bool) string {
	switch {
	case m.MetricsAddr == "off":
		return ""
	case m.MetricsAddr != "":
		return m.MetricsAddr
	case oneShot:
		return ""
	}
	return def
}

// serveMetrics binds addr and serves reg with checks until ctx ends; the
// returned wait blocks until the server stopped. With addr "" it serves
// nothing.
func serveMetrics(ctx context.Context, addr string, reg *metrics.Registry, checks []metrics.Check, log *slog.Logger) (wait func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	srv, err := metrics.Listen(addr, reg, checks, log)
	if err != nil {
		return nil, fmt.Errorf("%w (--metrics-addr, NODESHARE_METRICS_ADDR; off turns it off)", err)
	}
	log.Info("metrics serving", "metrics_addr", srv.Addr().String(), "paths", "/metrics /healthz /readyz")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx); err != nil {
			log.Error("metrics server stopped", "error", err.Error())
		}
	}()
	return func() { <-done }, nil
}

// The readiness checks: each dependency answers.

func kafkaCheck(brokers kafka.Brokers) metrics.Check {
	return metrics.Check{Name: "kafka", Do: func(ctx context.Context) error { return kafka.Ping(ctx, brokers) }}
}

func clickhouseCheck(store *clickhouse.Store) metrics.Check {
	return metrics.Check{Name: "clickhouse", Do: func(ctx context.Context) error { return store.Conn().Ping(ctx) }}
}

func vaultCheck(addr string) metrics.Check {
	return metrics.Check{Name: "vault", Do: func(ctx context.Context) error { return vault.Health(ctx, addr) }}
}

// watchLag reads the group's lag on topics every 15 s into reg until ctx
// ends (nil reg: nothing).
func watchLag(ctx context.Context, reg *metrics.Registry, cc kafka.ConsumerConfig) {
	if reg == nil {
		return
	}
	go kafka.WatchLag(ctx, cc, 15*time.Second, func(topic string, n int64) { reg.Lag(cc.GroupID, topic, n) })
}

// signerMetrics adapts the registry to the signer's Observer.
type signerMetrics struct{ *metrics.Registry }

func (s signerMetrics) Payouts(dao string, t signer.Totals) {
	s.SetPayouts(dao, metrics.Payouts{PaidIntents: t.PaidIntents, PendingIntents: t.PendingIntents, FailedIntents: t.FailedIntents,
		PaidE8s: t.PaidE8s, PendingE8s: t.PendingE8s, FailedE8s: t.FailedE8s, OldestPendingCreated: t.OldestPendingCreated})
}

// reconcileKinds are every difference kind, for the gauges at zero.
func reconcileKinds() []string {
	var out []string
	for _, k := range reconcile.Kinds() {
		out = append(out, string(k))
	}
	return out
}

// timedIdentity observes how long each signature takes.
type timedIdentity struct {
	identity.Identity
	reg *metrics.Registry
}

func (t timedIdentity) Sign(msg []byte) ([]byte, error) {
	start := time.Now()
	sig, err := t.Identity.Sign(msg)
	if err == nil {
		t.reg.Signed(time.Since(start))
	}
	return sig, err
}
