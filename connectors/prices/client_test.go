package prices_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/prices"
	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
	"github.com/nodeshare/nodeshare/schemas"
)

// The client against an httptest server serving canned answers: what a
// CoinGecko-compatible API sends, and what it sends when it is unwell.
// client_sim_test.go runs it against the simulator's copy of the API.

// canned is a server that answers each request with the next of its
// responses (the last one repeats) and records the requests.
type canned struct {
	mu        sync.Mutex
	responses []response
	requests  []*http.Request
	calls     atomic.Int32
}

type response struct {
	status     int
	body       string
	retryAfter string
}

func serve(t *testing.T, rs ...response) (*canned, *httptest.Server) {
	t.Helper()
	c := &canned{responses: rs}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.requests = append(c.requests, r.Clone(context.Background()))
		i := min(int(c.calls.Add(1))-1, len(c.responses)-1)
		resp := c.responses[i]
		c.mu.Unlock()
		if resp.retryAfter != "" {
			w.Header().Set("Retry-After", resp.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.status)
		fmt.Fprint(w, resp.body)
	}))
	t.Cleanup(hs.Close)
	return c, hs
}

func client(t *testing.T, base string, mod ...func(*prices.Config)) *prices.Client {
	t.Helper()
	cfg := prices.Config{BaseURL: base, Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, RequestTimeout: 2 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := prices.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	from = time.Unix(1_760_000_000, 0)
	to   = time.Unix(1_760_010_800, 0)
)

func TestRangeParsesAndRoundsHalfToEven(t *testing.T) {
	// Unsorted, with market caps (ignored), a millisecond part (truncated
	// to the second) and prices with more than six decimals.
	body := `{"prices":[[1760007600000,4.1234575],[1760000000000,4.123456789],[1760003600123,4.1234565],[1760010800000,12.5]],
		"market_caps":[[1760000000000,2190000000.5]],"total_volumes":[]}`
	srv, hs := serve(t, response{status: 200, body: body})
	c := client(t, hs.URL+"/coingecko/", func(c *prices.Config) { c.Currency = "chf"; c.APIKey = "secret-key" })
	got, err := c.Range(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := []schemas.FiatPrice{
		{Source: "coingecko", Currency: "chf", TimestampSeconds: 1_760_000_000, PriceMicros: 4_123_457}, // .789 rounds up
		{Source: "coingecko", Currency: "chf", TimestampSeconds: 1_760_003_600, PriceMicros: 4_123_456}, // a tie: to the even 6
		{Source: "coingecko", Currency: "chf", TimestampSeconds: 1_760_007_600, PriceMicros: 4_123_458}, // a tie: to the even 8
		{Source: "coingecko", Currency: "chf", TimestampSeconds: 1_760_010_800, PriceMicros: 12_500_000},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("prices\n got %+v\nwant %+v", got, want)
	}
	// The request: the path under the base, the query, the key in its
	// header only.
	r := srv.requests[0]
	if r.URL.Path != "/coingecko/api/v3/coins/internet-computer/market_chart/range" || r.URL.Query().Get("vs_currency") != "chf" ||
		r.URL.Query().Get("from") != "1760000000" || r.URL.Query().Get("to") != "1760010800" {
		t.Fatalf("request %s", r.URL)
	}
	if r.Header.Get("x-cg-demo-api-key") != "secret-key" || strings.Contains(r.URL.String(), "secret") {
		t.Fatalf("api key: header %q, url %s", r.Header.Get("x-cg-demo-api-key"), r.URL)
	}
	// The port: the same prices, provenance naming the host and the
	// request, never the key.
	src := prices.ConnectSource{Client: c}
	if s, cur := src.Series(); s != "coingecko" || cur != "chf" {
		t.Fatalf("series %s/%s", s, cur)
	}
	pts, prov, err := src.Prices(context.Background(), from, to)
	if err != nil || len(pts) != 4 || prov.Source != strings.TrimPrefix(hs.URL, "http://") ||
		prov.Method != "GET /coingecko/api/v3/coins/internet-computer/market_chart/range?from=1760000000&to=1760010800&vs_currency=chf" {
		t.Fatalf("port: %d prices, %+v, %v", len(pts), prov, err)
	}
}

func TestEmptyListIsNoPrices(t *testing.T) {
	_, hs := serve(t, response{status: 200, body: `{"prices":[],"market_caps":[],"total_volumes":[]}`})
	got, err := client(t, hs.URL).Range(context.Background(), from, to)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("empty list: %#v %v", got, err)
	}
}

func TestTooManyRequestsIsRetried(t *testing.T) {
	ctx := context.Background()
	// A 429 asking for a 1 s pause, then the answer: the client waits what
	// was asked (within MaxBackoff) and succeeds on the second try.
	srv, hs := serve(t,
		response{status: 429, body: `{"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit."}}`, retryAfter: "1"},
		response{status: 200, body: `{"prices":[[1760000000000,4.2]]}`})
	c := client(t, hs.URL, func(c *prices.Config) { c.MaxBackoff = 2 * time.Second })
	start := time.Now()
	got, err := c.Range(ctx, from, to)
	if err != nil || len(got) != 1 || got[0].PriceMicros != 4_200_000 || srv.calls.Load() != 2 {
		t.Fatalf("after one 429: %+v %v (%d calls)", got, err, srv.calls.Load())
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("Retry-After not honoured: retried after %s", d)
	}
	// Only 429s: every attempt is made, then a transient error that the
	// one classifier understands.
	srv, hs = serve(t, response{status: 429, body: `{"error":"rate limited"}`})
	_, err = client(t, hs.URL, func(c *prices.Config) { c.MaxAttempts = 3 }).Range(ctx, from, to)
	var pe *prices.Error
	if !errors.As(err, &pe) || pe.StatusCode != 429 || pe.Attempts != 3 || !prices.IsTransient(err) || srv.calls.Load() != 3 {
		t.Fatalf("exhausted: %v (%d calls)", err, srv.calls.Load())
	}
	if cl := retry.Classify(fmt.Errorf("wrapped: %w", err)); cl != retry.Transient {
		t.Fatalf("retry.Classify(429) = %s", cl)
	}
	if !strings.Contains(err.Error(), "HTTP 429") || !strings.Contains(err.Error(), "transient") {
		t.Fatalf("error text: %v", err)
	}
	// A 404 (an unknown coin) is not retried.
	srv, hs = serve(t, response{status: 404, body: `{"error":"coin not found"}`})
	_, err = client(t, hs.URL).Range(ctx, from, to)
	if !errors.As(err, &pe) || pe.StatusCode != 404 || pe.Transient || srv.calls.Load() != 1 || retry.Classify(err) != retry.Fatal {
		t.Fatalf("404: %v (%d calls)", err, srv.calls.Load())
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	t.Cleanup(hs.Close)
	start := time.Now()
	_, err := client(t, hs.URL, func(c *prices.Config) { c.RequestTimeout = 30 * time.Millisecond; c.MaxAttempts = 2 }).Range(context.Background(), from, to)
	var pe *prices.Error
	if !errors.As(err, &pe) || !pe.Transient || pe.Attempts != 2 || time.Since(start) > time.Second {
		t.Fatalf("timeout: %v after %s", err, time.Since(start))
	}
}

// Malformed answers and bad prices are refused whole, with an error that
// names the point, and not retried (asking again gets the same answer).
func TestBadAnswersAreRefused(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"not JSON", `<html>rate limited</html>`, "decode JSON object"},
		{"truncated", `{"prices":[[1760000000000,4.1]`, "decode JSON object"},
		{"no prices", `{"error":"invalid vs_currency"}`, `no "prices" array in the answer (keys: [error])`},
		{"null prices", `{"prices":null}`, `no "prices" array`},
		{"prices not an array", `{"prices":{"a":1}}`, "prices must be an array"},
		{"a pair of three", `{"prices":[[1760000000000,4.1,7]]}`, "prices[0] is [1760000000000,4.1,7], want [unix_millis, price]"},
		{"negative", `{"prices":[[1760000000000,4.1],[1760003600000,-4.1]]}`, "prices[1] (at 1760003600 s) price: -4.1 is negative"},
		{"zero", `{"prices":[[1760000000000,0]]}`, "price: 0 is zero: not a price"},
		{"NaN as a string", `{"prices":[[1760000000000,"NaN"]]}`, `price: "NaN" is not a JSON number`},
		{"NaN bare", `{"prices":[[1760000000000,NaN]]}`, "decode JSON object"},
		{"a string price", `{"prices":[[1760000000000,"4.1"]]}`, `price: "4.1" is not a JSON number`},
		{"null price", `{"prices":[[1760000000000,null]]}`, "price: null is not a JSON number"},
		{"absurd", `{"prices":[[1760000000000,1e12]]}`, "price: 1e12 is absurd: above 1000000000 per ICP"},
		{"below a micro", `{"prices":[[1760000000000,0.0000004]]}`, "0.0000004 rounds to 0 micro-units"},
		{"huge exponent", `{"prices":[[1760000000000,1e999999999]]}`, `"1e999999999" is not a decimal number`},
		{"tiny exponent", `{"prices":[[1760000000000,1e-50]]}`, `"1e-50" has an exponent outside [-40, 20]`},
		{"fractional millis", `{"prices":[[1760000000000.5,4.1]]}`, "prices[0] timestamp: 1760000000000.5 is not a Unix time in milliseconds"},
		{"negative millis", `{"prices":[[-1,4.1]]}`, "is not a Unix time in milliseconds"},
		{"time zero", `{"prices":[[999,4.1]]}`, "timestamp_seconds must be in [1, 253402300799] (a Unix time in seconds), got 0"},
		{"two prices in a second", `{"prices":[[1760000000000,4.1],[1760000000500,4.2]]}`, "two prices within second 1760000000 (4100000 and 4200000 micros)"},
		{"trailing data", `{"prices":[]} {}`, "trailing data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, hs := serve(t, response{status: 200, body: c.body})
			got, err := client(t, hs.URL).Range(context.Background(), from, to)
			var pe *prices.Error
			if !errors.As(err, &pe) || pe.Transient || pe.StatusCode != 200 || got != nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, %v; want an error containing %q", got, err, c.want)
			}
			if n := srv.calls.Load(); n != 1 {
				t.Fatalf("a bad answer was asked %d times", n)
			}
		})
	}
	// The same price twice within a second is one price.
	_, hs := serve(t, response{status: 200, body: `{"prices":[[1760000000000,4.1],[1760000000900,4.10]]}`})
	if got, err := client(t, hs.URL).Range(context.Background(), from, to); err != nil || len(got) != 1 {
		t.Fatalf("repeated point: %+v %v", got, err)
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  prices.Config
		want string
	}{
		{prices.Config{BaseURL: "ftp://x"}, "must be an absolute http(s) URL"},
		{prices.Config{BaseURL: "https://x/?a=1"}, "without a query"},
		{prices.Config{Currency: "USD"}, `currency must be 3 lower-case letters (ISO 4217, e.g. "usd"), got "USD"`},
		{prices.Config{Currency: "usdt"}, `got "usdt"`},
		{prices.Config{Coin: "internet computer"}, "must be a plain path segment"},
		{prices.Config{Coin: "a/b"}, "must be a plain path segment"},
		{prices.Config{Source: "Coin/Gecko"}, `source must be 1 to 64 of a-z, 0-9, '.', '_', '-', got "Coin/Gecko"`},
		{prices.Config{MaxAttempts: -1}, "must be >= 0"},
	} {
		if _, err := prices.New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	c, err := prices.New(prices.Config{})
	if err != nil || c.Source() != "coingecko" || c.Currency() != "usd" || c.Host() != "api.coingecko.com" ||
		c.URL(prices.RangePath(prices.DefaultCoin), nil) != "https://api.coingecko.com/api/v3/coins/internet-computer/market_chart/range" {
		t.Fatalf("defaults: %v", err)
	}
	// The pro API takes its key in its own header.
	srv, hs := serve(t, response{status: 200, body: `{"prices":[]}`})
	pro := client(t, hs.URL, func(c *prices.Config) { c.APIKey = "k"; c.APIKeyHeader = "x-cg-pro-api-key" })
	if _, err := pro.Range(context.Background(), from, to); err != nil || srv.requests[0].Header.Get("x-cg-pro-api-key") != "k" {
		t.Fatalf("pro header: %v", err)
	}
	if _, err := pro.Range(context.Background(), to, from); err == nil || !strings.Contains(err.Error(), "to is before from") {
		t.Fatalf("reversed range: %v", err)
	}
}
