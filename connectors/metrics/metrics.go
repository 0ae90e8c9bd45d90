package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry holds one process's metrics.
type Registry struct {
	reg *prometheus.Registry

	recordsIn     *prometheus.CounterVec
	deadLetters   *prometheus.CounterVec
	lag           *prometheus.GaugeVec
	sinkRows      *prometheus.CounterVec
	sinkInsert    *prometheus.HistogramVec
	alarms        *prometheus.CounterVec
	certFailed    *prometheus.CounterVec
	transfers     *prometheus.CounterVec
	transferE8s   *prometheus.CounterVec
	payoutE8s     *prometheus.GaugeVec
	payoutIntents *prometheus.GaugeVec
	oldestPending *prometheus.GaugeVec
	signing       prometheus.Histogram
	passes        *prometheus.CounterVec
	lastGoodPass  prometheus.Gauge
	differences   *prometheus.GaugeVec
}

// New returns a registry with every nodeshare metric, the Go runtime's
// and the process's, and nodeshare_build_info{version}.
func New(version string) *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "nodeshare_build_info", Help: "Always 1: the running nodeshare's version."}, []string{"version"})
	build.WithLabelValues(version).Set(1)
	latency := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	r.recordsIn = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nodeshare_records_in_total",
		Help: "Records a stream stage took in (committed by its consumer group), by stage and topic."}, []string{"stage", "topic"})
	r.deadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nodeshare_dead_letters_total",
		Help: "Records a stage dead-lettered (durably), by stage, source topic and reason (undecodable, invalid, refused)."}, []string{"stage", "topic", "reason"})
	r.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "nodeshare_consumer_lag_records",
		Help: "Records on a topic the consumer group has not committed yet (high-water mark minus committed offset, summed over partitions), read from the brokers."}, []string{"group", "topic"})
	r.sinkRows = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nodeshare_sink_rows_total",
		Help: "Rows the sink inserted into ClickHouse, by table."}, []string{"table"})
	r.sinkInsert = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "nodeshare_sink_insert_seconds",
		Help: "Time of one sink insert into ClickHouse (retries included), by table.", Buckets: latency}, []string{"table"})
	r.alarms = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nodeshare_source_alarms_total",
		Help: "Source mismatches found by connect (the dashboard's rate against the certified CMC rate), by rate kind."}, []string{"kind"})
	r.certFailed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nodeshare_ic_certificate_checks_failed_total",
		Help: "IC certificates that did not verify (the reply was refused), by check."}, []string{"check"})
	r.transfers = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nodeshare_payout_transfers_total",
		Help: "Transfer outcomes recorded by this process, by status (paid, pending: sent but not verified, failed)."}, []string{"status"})
	r.transferE8s = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nodeshare_payout_transfers_e8s_total",
		Help: "Amounts (e8s) of the transfer outcomes recorded by this process, by status."}, []string{"status"})
	r.payoutE8s = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "nodeshare_payout_e8s",
		Help: "A DAO's planned payouts in e8s after the signer's last pass, by status (paid; pending: not paid yet, failed ones included; failed)."}, []string{"dao", "status"})
	r.payoutIntents = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "nodeshare_payout_intents",
		Help: "A DAO's planned transfer intents after the signer's last pass, by status (paid, pending, failed)."}, []string{"dao", "status"})
	r.oldestPending = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "nodeshare_payout_oldest_pending_intent_created_timestamp_seconds",
		Help: "Unix time at which the DAO's oldest unpaid intent was planned (its created_at_time), after the signer's last pass; 0 when none is pending."}, []string{"dao"})
	r.signing = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "nodeshare_signing_seconds",
		Help: "Time to sign one ledger request with the treasury key (Vault transit or KV).", Buckets: latency})
	r.passes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nodeshare_signer_passes_total",
		Help: "Signer passes, by outcome (ok: every period handled; incomplete)."}, []string{"outcome"})
	r.lastGoodPass = prometheus.NewGauge(prometheus.GaugeOpts{Name: "nodeshare_signer_last_good_pass_timestamp_seconds",
		Help: "Unix time of the signer's last complete pass (from its slot file at start; the start time when it never completed one)."})
	r.differences = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "nodeshare_reconcile_differences",
		Help: "Differences found by the last reconciliation of each period the signer ran, summed, by DAO and kind (paid_twice: one intent in more than one ledger block)."}, []string{"dao", "kind"})
	r.reg.MustRegister(build, r.recordsIn, r.deadLetters, r.lag, r.sinkRows, r.sinkInsert, r.alarms, r.certFailed, r.transfers, r.transferE8s,
		r.payoutE8s, r.payoutIntents, r.oldestPending, r.signing, r.passes, r.lastGoodPass, r.differences)
	for _, s := range []string{"paid", "pending", "failed"} {
		r.transfers.WithLabelValues(s)
		r.transferE8s.WithLabelValues(s)
	}
	return r
}

// Gatherer is the registry, for a test or another exporter.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Stream is a stream stage's view of the registry: records in and dead
// letters labelled with the stage (process, lifecycle, sink).
type Stream struct {
	r     *Registry
	stage string
}

// Stream returns stage's view, with its series for topics and reasons
// created at zero.
func (r *Registry) Stream(stage string, topics, reasons []string) *Stream {
	for _, t := range topics {
		r.recordsIn.WithLabelValues(stage, t)
		for _, why := range reasons {
			r.deadLetters.WithLabelValues(stage, t, why)
		}
	}
	return &Stream{r: r, stage: stage}
}

// RecordsIn counts records of topic the stage took in.
func (s *Stream) RecordsIn(topic string, n int) {
	s.r.recordsIn.WithLabelValues(s.stage, topic).Add(float64(n))
}

// DeadLettered counts n records of topic dead-lettered for reason
// (stage.DeadLetterObserver).
func (s *Stream) DeadLettered(topic, reason string, n int) {
	s.r.deadLetters.WithLabelValues(s.stage, topic, reason).Add(float64(n))
}

// Stored counts one sink insert of rows into table (the sink's Observer).
func (s *Stream) Stored(table string, rows int, took time.Duration) {
	s.r.sinkRows.WithLabelValues(table).Add(float64(rows))
	s.r.sinkInsert.WithLabelValues(table).Observe(took.Seconds())
}

// Lag sets the consumer group's lag on topic.
func (r *Registry) Lag(group, topic string, records int64) {
	r.lag.WithLabelValues(group, topic).Set(float64(records))
}

// InitAlarms creates the source-alarm series of kinds at zero.
func (r *Registry) InitAlarms(kinds []string) {
	for _, k := range kinds {
		r.alarms.WithLabelValues(k)
	}
}

// SourceAlarm counts one source mismatch of kind (connect's Observer).
func (r *Registry) SourceAlarm(kind string) { r.alarms.WithLabelValues(kind).Inc() }

// InitCertificateChecks creates the failed-check series of checks at zero.
func (r *Registry) InitCertificateChecks(checks []string) {
	for _, c := range checks {
		r.certFailed.WithLabelValues(c)
	}
}

// CertificateFailed counts one certificate check that failed.
func (r *Registry) CertificateFailed(check string) { r.certFailed.WithLabelValues(check).Inc() }

// TransferSettled counts one transfer outcome (the payout engine's
// Observer).
func (r *Registry) TransferSettled(status string, amountE8s int64) {
	r.transfers.WithLabelValues(status).Inc()
	r.transferE8s.WithLabelValues(status).Add(float64(amountE8s))
}

// Signed observes one signature's latency.
func (r *Registry) Signed(took time.Duration) { r.signing.Observe(took.Seconds()) }

// LastGoodPass sets the time of the signer's last complete pass.
func (r *Registry) LastGoodPass(at time.Time) { r.lastGoodPass.Set(float64(at.Unix())) }

// PassDone counts a signer pass; a complete one moves the last good pass.
func (r *Registry) PassDone(ok bool, at time.Time) {
	if ok {
		r.passes.WithLabelValues("ok").Inc()
		r.LastGoodPass(at)
		return
	}
	r.passes.WithLabelValues("incomplete").Inc()
}

// Payouts are a DAO's totals after a signer pass.
type Payouts struct {
	PaidIntents, PendingIntents, FailedIntents int64
	PaidE8s, PendingE8s, FailedE8s             int64
	// OldestPendingCreated is zero when nothing is pending.
	OldestPendingCreated time.Time
}

// SetPayouts sets dao's payout gauges.
func (r *Registry) SetPayouts(dao string, p Payouts) {
	r.payoutIntents.WithLabelValues(dao, "paid").Set(float64(p.PaidIntents))
	r.payoutIntents.WithLabelValues(dao, "pending").Set(float64(p.PendingIntents))
	r.payoutIntents.WithLabelValues(dao, "failed").Set(float64(p.FailedIntents))
	r.payoutE8s.WithLabelValues(dao, "paid").Set(float64(p.PaidE8s))
	r.payoutE8s.WithLabelValues(dao, "pending").Set(float64(p.PendingE8s))
	r.payoutE8s.WithLabelValues(dao, "failed").Set(float64(p.FailedE8s))
	oldest := 0.0
	if !p.OldestPendingCreated.IsZero() {
		oldest = float64(p.OldestPendingCreated.Unix())
	}
	r.oldestPending.WithLabelValues(dao).Set(oldest)
}

// Differences keeps, per DAO, the differences of each period's last
// reconciliation by kind, and exposes their sums.
type Differences struct {
	r        *Registry
	dao      string
	kinds    []string
	byPeriod map[string]map[string]int
}

// Differences returns dao's reconciliation gauges, every kind at zero.
func (r *Registry) Differences(dao string, kinds []string) *Differences {
	for _, k := range kinds {
		r.differences.WithLabelValues(dao, k).Set(0)
	}
	return &Differences{r: r, dao: dao, kinds: kinds, byPeriod: map[string]map[string]int{}}
}

// Reconciled records period's last reconciliation: its differences by
// kind (a kind absent counts 0). Not safe for concurrent use (the signer's
// passes never overlap).
func (d *Differences) Reconciled(period string, counts map[string]int) {
	d.byPeriod[period] = counts
	sums := map[string]int{}
	for _, c := range d.byPeriod {
		for k, n := range c {
			sums[k] += n
		}
	}
	for _, k := range d.kinds {
		d.r.differences.WithLabelValues(d.dao, k).Set(float64(sums[k]))
	}
	for k, n := range sums {
		d.r.differences.WithLabelValues(d.dao, k).Set(float64(n))
	}
}
