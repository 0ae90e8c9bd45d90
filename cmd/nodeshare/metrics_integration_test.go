package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/schemas"
)

// The metrics path end to end, on the real services: `nodeshare process`
// serves its metrics, the stack's Prometheus (NODESHARE_STACK_PROMETHEUS=1)
// scrapes it (target up) with the real ops/prometheus/alerts.yml; a
// malformed record is published to the daemon's pools topic, and
// NodeshareDeadLettersGrowing must fire for that daemon, stage, topic and
// reason, while it was not firing before the fault.
func TestMetricsDeadLetterAlertFires(t *testing.T) {
	cfg := requireServices(t)
	promURL, targets := os.Getenv("NODESHARE_PROMETHEUS_URL"), os.Getenv("NODESHARE_PROMETHEUS_TARGETS_DIR")
	if promURL == "" || targets == "" {
		if os.Getenv("NODESHARE_REQUIRE_SERVICES") == "1" {
			t.Fatal("NODESHARE_REQUIRE_SERVICES=1 but NODESHARE_PROMETHEUS_URL is unset: ops/test starts the stack with NODESHARE_STACK_PROMETHEUS=1")
		}
		t.Skip("needs the stack's Prometheus: NODESHARE_STACK_PROMETHEUS=1 ops/stack up; eval \"$(ops/stack env)\"")
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	prefix := "it-metrics-" + run + "."
	brokers := cfg.brokers()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, brokers, prefixed(prefix, schemas.Topics()), 1); err != nil {
		t.Fatal(err)
	}
	addr := freeLoopback(t)

	dctx, stop := context.WithCancel(ctx)
	var logs lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- dispatch(dctx, []string{"process", "--topic-prefix", prefix, "--group", "it-metrics-" + run, "--lifecycle-group", "it-metrics-lc-" + run,
			"--entitlements-topic", schemas.TopicEntitlements, "--metrics-addr", addr, "--kafka-brokers", cfg.KafkaBrokers}, strings.NewReader(""), io.Discard, &logs)
	}()
	defer func() {
		stop()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("process exited %d:\n%s", code, logs.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("process did not stop within 30 s of its context's end")
		}
	}()
	base := "http://" + addr
	eventually(t, ctx, "the daemon's /readyz answers 200", func() (bool, string) {
		code, body := get(base + "/readyz")
		return code == 200, fmt.Sprintf("%d %s; log: %s", code, body, logs.String())
	})
	if code, body := get(base + "/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz: %d %q", code, body)
	}

	// Prometheus scrapes the daemon (file_sd target) and reports it up.
	target := filepath.Join(targets, "it-metrics-"+run+".json")
	if err := os.WriteFile(target, []byte(`[{"targets":["`+addr+`"],"labels":{"test_run":"`+run+`"}}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(target)
	inst := `instance="` + addr + `"`
	eventually(t, ctx, "Prometheus reports the target up", func() (bool, string) {
		v, ok, why := promValue(promURL, `up{job="nodeshare",`+inst+`}`)
		return ok && v == 1, why
	})
	series := `nodeshare_dead_letters_total{` + inst + `,stage="process",topic="dao.pools.v1",reason="undecodable"}`
	eventually(t, ctx, "the dead-letter series is scraped at 0", func() (bool, string) {
		v, ok, why := promValue(promURL, series)
		return ok && v == 0, why
	})
	if st := alertState(t, promURL, addr); st != "" {
		t.Fatalf("NodeshareDeadLettersGrowing is %s for %s before any fault", st, addr)
	}

	// The fault: a record that is not an event envelope.
	p := kafka.NewProducer(brokers)
	defer p.Close()
	if err := p.Publish(ctx, kafka.Record{Topic: prefix + schemas.TopicPools, Key: []byte("it-metrics/bad"), Value: []byte("{not json")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the daemon counts the dead letter", func() (bool, string) {
		_, body := get(base + "/metrics")
		want := `nodeshare_dead_letters_total{reason="undecodable",stage="process",topic="dao.pools.v1"} 1`
		return strings.Contains(body, want), "no line " + want
	})
	eventually(t, ctx, "Prometheus fires NodeshareDeadLettersGrowing", func() (bool, string) {
		st := alertState(t, promURL, addr)
		return st == "firing", "state " + strconv.Quote(st)
	})
	if _, body := get(base + "/metrics"); !strings.Contains(body, `nodeshare_records_in_total{stage="process",topic="dao.pools.v1"} 1`) {
		t.Errorf("records in not counted:\n%s", grepLines(body, "nodeshare_records_in_total"))
	}
}

// alertState is the state of NodeshareDeadLettersGrowing for the process
// stage's undecodable pools records on instance ("" when none).
func alertState(t *testing.T, promURL, instance string) string {
	t.Helper()
	var r struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	code, body := get(promURL + "/api/v1/alerts")
	if code != 200 || json.Unmarshal([]byte(body), &r) != nil {
		t.Fatalf("GET /api/v1/alerts: %d %s", code, body)
	}
	for _, a := range r.Data.Alerts {
		l := a.Labels
		if l["alertname"] == "NodeshareDeadLettersGrowing" && l["instance"] == instance && l["stage"] == "process" && l["topic"] == "dao.pools.v1" && l["reason"] == "undecodable" {
			return a.State
		}
	}
	return ""
}

// promValue is the single sample of an instant query.
func promValue(promURL, query string) (v float64, ok bool, why string) {
	code, body := get(promURL + "/api/v1/query?query=" + url.QueryEscape(query))
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &r) != nil {
		return 0, false, fmt.Sprintf("query %s: %d %s", query, code, body)
	}
	if len(r.Data.Result) != 1 {
		return 0, false, fmt.Sprintf("query %s: %d series: %s", query, len(r.Data.Result), body)
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil, fmt.Sprintf("query %s: %s", query, body)
}

// eventually polls cond every 500 ms until it holds, failing with cond's
// last word when ctx ends or 90 s pass.
func eventually(t *testing.T, ctx context.Context, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not within 90 s: %s", what, why)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func get(u string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// freeLoopback is a loopback address with a port free right now.
func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// lockedBuffer is a bytes.Buffer the daemon's goroutines may write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
