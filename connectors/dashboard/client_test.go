package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nodeshare/nodeshare/connectors/dashboard"
	"github.com/nodeshare/nodeshare/ops/icsim"
	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
)

// The client talks over HTTP to the dashboard endpoint that ops/icsim serves.

func startSim(t *testing.T) (*icsim.Server, *dashboard.Client) {
	t.Helper()
	s, err := icsim.New(icsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	if err := s.ApplyScenario(icsim.Scenario{
		Rate:        &icsim.ConversionRate{TimestampSeconds: 1_760_000_000, XDRPermyriadPerICP: 36_000},
		AverageRate: &icsim.ConversionRate{TimestampSeconds: 1_759_900_000, XDRPermyriadPerICP: 35_000},
	}); err != nil {
		t.Fatal(err)
	}
	c, err := dashboard.New(dashboard.Config{BaseURL: hs.URL + icsim.DashboardPath, Backoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func TestRatesFromSimulator(t *testing.T) {
	ctx := context.Background()
	s, c := startSim(t)
	pts, err := c.Rates(ctx, time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 1 || pts[0].TimestampSeconds != 1_760_000_000 || !pts[0].XDRPermyriadPerICP.Equal(decimal.NewFromInt(36_000)) {
		t.Fatalf("spot %+v", pts)
	}
	// Strings and fractions, on the average endpoint.
	if err := s.ApplyScenario(icsim.Scenario{Dashboard: &icsim.DashboardRates{ValuesAsStrings: true,
		Average: &icsim.DashboardPoint{TimestampSeconds: 1_759_900_000, XDRPermyriadPerICP: "35012.25"}}}); err != nil {
		t.Fatal(err)
	}
	avg, err := c.AverageRates(ctx, time.Unix(1_759_000_000, 0), time.Unix(1_760_000_000, 0), 86_400)
	if err != nil {
		t.Fatal(err)
	}
	if len(avg) != 1 || avg[0].XDRPermyriadPerICP.String() != "35012.25" {
		t.Fatalf("average %+v", avg)
	}
}

func TestRetriesTransientFailures(t *testing.T) {
	ctx := context.Background()
	s, c := startSim(t)
	// Three 503s, then success: the fourth attempt gets through.
	if err := s.ApplyScenario(icsim.Scenario{Dashboard: &icsim.DashboardRates{FailNext: 3}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Rates(ctx, time.Time{}, time.Time{}, 0); err != nil {
		t.Fatalf("after 3 transient failures: %v", err)
	}
	// Five 503s exhaust the four attempts: a transient *Error with the status.
	if err := s.ApplyScenario(icsim.Scenario{Dashboard: &icsim.DashboardRates{FailNext: 5}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Rates(ctx, time.Time{}, time.Time{}, 0)
	var de *dashboard.Error
	if !errors.As(err, &de) || de.StatusCode != 503 || de.Attempts != 4 || !dashboard.IsTransient(err) {
		t.Fatalf("exhausted retries: %v", err)
	}
	// The one classifier understands it without importing this package.
	if c := retry.Classify(fmt.Errorf("wrapped: %w", err)); c != retry.Transient {
		t.Fatalf("retry.Classify(503) = %s", c)
	}
	if !strings.Contains(err.Error(), "HTTP 503") || !strings.Contains(err.Error(), "transient") {
		t.Fatalf("error text: %v", err)
	}
}

func TestTimeoutAndPermanentErrors(t *testing.T) {
	ctx := context.Background()
	s, c := startSim(t)
	if err := s.ApplyScenario(icsim.Scenario{Dashboard: &icsim.DashboardRates{DelayMillis: 500}}); err != nil {
		t.Fatal(err)
	}
	fast, err := dashboard.New(dashboard.Config{BaseURL: strings.TrimSuffix(c.URL("", nil), "?"), RequestTimeout: 50 * time.Millisecond, MaxAttempts: 2, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = fast.Rates(ctx, time.Time{}, time.Time{}, 0)
	if !dashboard.IsTransient(err) || time.Since(start) > 400*time.Millisecond {
		t.Fatalf("timeout: %v after %s", err, time.Since(start))
	}
	// 404 is not retried and not transient.
	bad, _ := dashboard.New(dashboard.Config{BaseURL: strings.TrimSuffix(c.URL("", nil), "?") + "/nope", MaxAttempts: 3})
	_, err = bad.Rates(ctx, time.Time{}, time.Time{}, 0)
	var de *dashboard.Error
	if !errors.As(err, &de) || de.StatusCode != 404 || de.Attempts != 1 || de.Transient {
		t.Fatalf("404: %v", err)
	}
	if c := retry.Classify(err); c != retry.Fatal {
		t.Fatalf("retry.Classify(404) = %s", c)
	}
	if _, err := dashboard.New(dashboard.Config{BaseURL: "ftp://x"}); err == nil {
		t.Fatal("ftp base URL accepted")
	}
}

// ConnectSource is the connect stage's port: the series with provenance.
func TestConnectSource(t *testing.T) {
	ctx := context.Background()
	_, c := startSim(t)
	src := dashboard.ConnectSource{Client: c}
	pts, prov, err := src.SpotRates(ctx, time.Unix(1_759_990_000, 0), time.Unix(1_760_010_000, 0))
	if err != nil || len(pts) != 1 || pts[0].TimestampSeconds != 1_760_000_000 || prov.Source != "dashboard" || prov.Method != "GET "+dashboard.PathRates {
		t.Fatalf("spot %+v %+v %v", pts, prov, err)
	}
	pts, prov, err = src.AverageRates(ctx, time.Time{}, time.Time{})
	if err != nil || len(pts) != 1 || !pts[0].XDRPermyriadPerICP.Equal(decimal.NewFromInt(35_000)) || prov.Method != "GET "+dashboard.PathAverageRates {
		t.Fatalf("average %+v %+v %v", pts, prov, err)
	}
}
