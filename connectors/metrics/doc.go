// Package metrics is nodeshare's door to Prometheus: the one place that
// links github.com/prometheus/client_golang. It owns every metric's name,
// help text and labels (docs/operations.md lists them), implements the
// observer ports the stages declare (stage.DeadLetterObserver, the sink's,
// the connector's, the payout engine's; cmd/nodeshare adapts the signer's),
// and serves /metrics, /healthz and /readyz for a long-running command.
//
// It never decides anything: it counts what the stages tell it. Label
// values come from small fixed sets (stages, topics, tables, reasons,
// statuses, DAOs), never from a record's content, so a flood of bad input
// cannot blow up the number of series. Every series an alert reads is
// created at zero when its command starts (Stream, InitAlarms, ...): an
// increase() over a counter that appears with its first event would miss
// that event.
package metrics
