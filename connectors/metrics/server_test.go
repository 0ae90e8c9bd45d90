package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The server answers /healthz, /readyz by its checks (naming each that
// fails), and /metrics with every series an alert reads created at zero.
func TestServer(t *testing.T) {
	r := New("test")
	r.Stream("process", []string{"dao.pools.v1"}, []string{"undecodable", "invalid"})
	r.InitAlarms([]string{"spot"})
	r.Differences("d", []string{"paid_twice"})
	down := errors.New("connection refused")
	var fail bool
	s, err := Listen("127.0.0.1:0", r, []Check{
		{Name: "kafka", Do: func(context.Context) error { return nil }},
		{Name: "clickhouse", Do: func(context.Context) error {
			if fail {
				return down
			}
			return nil
		}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	base := "http://" + s.Addr().String()
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	fail = true
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "clickhouse: connection refused") || strings.Contains(body, "kafka") {
		t.Errorf("/readyz with clickhouse down: %d %q", code, body)
	}
	_, body := get(t, base+"/metrics")
	for _, want := range []string{
		`nodeshare_build_info{version="test"} 1`,
		`nodeshare_dead_letters_total{reason="undecodable",stage="process",topic="dao.pools.v1"} 0`,
		`nodeshare_records_in_total{stage="process",topic="dao.pools.v1"} 0`,
		`nodeshare_source_alarms_total{kind="spot"} 0`,
		`nodeshare_reconcile_differences{dao="d",kind="paid_twice"} 0`,
		`nodeshare_payout_transfers_total{status="paid"} 0`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
	// A second server on the same port is refused before it starts.
	if _, err := Listen(s.Addr().String(), r, nil, nil); err == nil || !strings.Contains(err.Error(), s.Addr().String()) {
		t.Errorf("listen on a port in use: %v", err)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop")
	}
}

// The ports' implementations move the right series.
func TestObservers(t *testing.T) {
	r := New("test")
	st := r.Stream("sink", []string{"t"}, []string{"undecodable"})
	st.RecordsIn("t", 3)
	st.DeadLettered("t", "undecodable", 2)
	st.Stored("events_raw", 3, 20*time.Millisecond)
	r.TransferSettled("paid", 150)
	r.TransferSettled("paid", 50)
	r.PassDone(true, time.Unix(1700000000, 0))
	r.PassDone(false, time.Unix(1800000000, 0))
	r.SetPayouts("d", Payouts{PaidIntents: 2, PendingIntents: 1, PendingE8s: 70, OldestPendingCreated: time.Unix(1600000000, 0)})
	d := r.Differences("d", []string{"paid_twice", "missing_transfer"})
	d.Reconciled("p1", map[string]int{"paid_twice": 1})
	d.Reconciled("p2", map[string]int{"paid_twice": 2, "missing_transfer": 1})
	d.Reconciled("p1", map[string]int{}) // p1 reconciled again: clean
	r.Lag("g", "t", 12)
	r.CertificateFailed("call_reply")
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			got[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = v
		}
	}
	for k, want := range map[string]float64{
		"nodeshare_records_in_total{stage=sink,topic=t}":                          3,
		"nodeshare_dead_letters_total{reason=undecodable,stage=sink,topic=t}":     2,
		"nodeshare_sink_rows_total{table=events_raw}":                             3,
		"nodeshare_sink_insert_seconds{table=events_raw}":                         1,
		"nodeshare_payout_transfers_total{status=paid}":                           2,
		"nodeshare_payout_transfers_e8s_total{status=paid}":                       200,
		"nodeshare_signer_passes_total{outcome=ok}":                               1,
		"nodeshare_signer_passes_total{outcome=incomplete}":                       1,
		"nodeshare_signer_last_good_pass_timestamp_seconds{}":                     1700000000,
		"nodeshare_payout_intents{dao=d,status=pending}":                          1,
		"nodeshare_payout_e8s{dao=d,status=pending}":                              70,
		"nodeshare_payout_oldest_pending_intent_created_timestamp_seconds{dao=d}": 1600000000,
		"nodeshare_reconcile_differences{dao=d,kind=paid_twice}":                  2,
		"nodeshare_reconcile_differences{dao=d,kind=missing_transfer}":            1,
		"nodeshare_consumer_lag_records{group=g,topic=t}":                         12,
		"nodeshare_ic_certificate_checks_failed_total{check=call_reply}":          1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
}
