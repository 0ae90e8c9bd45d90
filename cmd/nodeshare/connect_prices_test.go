package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/ops/icsim"
	"github.com/nodeshare/nodeshare/schemas"
)

// TestConnectFiatPrices runs `nodeshare connect --once` as wired in
// connect.go against the real Kafka and the simulator's CoinGecko copy
// (its default --price-url for a local IC): ICP's fiat prices reach
// ext.icp-fiat-prices.v1 once per key, with provenance, across processes;
// a stretch the source has no price for stays without one; a price outage
// fails the poll, named, and stops no other source; --price-url off turns
// the source off.
func TestConnectFiatPrices(t *testing.T) {
	e := newConnectEnv(t, connectScenario())
	ctx := context.Background()
	// An explicit price with nine decimals five hours ago, and no price at
	// all ten hours ago.
	hour := time.Now().UTC().Truncate(time.Hour)
	explicit, gap := hour.Add(-5*time.Hour), hour.Add(-10*time.Hour)
	if err := e.sim.ApplyPrices(icsim.Prices{
		Points: []icsim.PricePoint{{Currency: "usd", TimestampSeconds: uint64(explicit.Unix()), Price: "4.123456789"}},
		Gaps:   []icsim.PriceGap{{FromSeconds: uint64(gap.Unix()) - 1, ToSeconds: uint64(gap.Unix()) + 1}},
	}); err != nil {
		t.Fatal(err)
	}
	price := []string{"--price-days", "2", "--nrc-off", "--ledger-off", "--pools-off"}
	code, stderr := e.run(t, ctx, price...)
	if code != 0 {
		t.Fatalf("poll 1: exit %d\n%s", code, stderr)
	}
	simHost := strings.TrimPrefix(e.url, "http://")
	if !strings.Contains(stderr, `"price_url":"`+e.url+`/coingecko"`) || !strings.Contains(stderr, `"price_currency":"usd"`) {
		t.Fatalf("poll 1: not wired to the simulator's price API\n%s", stderr)
	}
	counts, envs := e.records(t, schemas.TopicFiatPrices)
	// Two days of whole hours (48 or 49, as the window's ends fall), less
	// the gap's hour.
	if n := len(counts); n < 47 || n > 48 {
		t.Fatalf("poll 1: %d price keys, want 47 or 48: %v", n, counts)
	}
	if !strings.Contains(stderr, fmt.Sprintf(`"prices":%d`, len(counts))) {
		t.Fatalf("poll 1: the poll's stats do not count %d prices\n%s", len(counts), stderr)
	}
	for k, n := range counts {
		if n != 1 {
			t.Errorf("%s: %d records, want 1", k, n)
		}
		env := envs[k]
		p, err := schemas.DecodeFiatPrice(env)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if k != schemas.FiatPriceKey("coingecko", "usd", p.TimestampSeconds) || env.EventID != k || p.TimestampSeconds%3600 != 0 {
			t.Fatalf("%s: key, event id or time of %+v", k, p)
		}
		// 3.6 XDR per ICP (the simulated CMC) at 1.36 USD per XDR, or the
		// explicit price rounded half to even to micros.
		want := int64(4_896_000)
		if p.TimestampSeconds == uint64(explicit.Unix()) {
			want = 4_123_457
		}
		if p.PriceMicros != want {
			t.Fatalf("%s: %d micros, want %d", k, p.PriceMicros, want)
		}
		pv := env.Provenance
		m, err := url.Parse(strings.TrimPrefix(pv.Method, "GET "))
		if pv.Source != simHost || err != nil || m.Path != "/coingecko/api/v3/coins/internet-computer/market_chart/range" || m.Query().Get("vs_currency") != "usd" ||
			pv.FetchTime == "" || len(pv.ContentSHA256) != 64 {
			t.Fatalf("%s: provenance %+v", k, pv)
		}
		if from, _ := strconv.ParseUint(m.Query().Get("from"), 10, 64); from > p.TimestampSeconds {
			t.Fatalf("%s: read in a window from %d", k, from)
		}
	}
	if counts[schemas.FiatPriceKey("coingecko", "usd", uint64(explicit.Unix()))] != 1 {
		t.Fatalf("the explicit price is missing: %v", counts)
	}
	if counts[schemas.FiatPriceKey("coingecko", "usd", uint64(gap.Unix()))] != 0 {
		t.Fatal("a price was published for the hour the source has none for")
	}

	// A second process resumes after the newest price on the topic: every
	// key keeps one record (an hour may have begun since: at most one new).
	code, stderr = e.run(t, ctx, price...)
	if code != 0 {
		t.Fatalf("poll 2: exit %d\n%s", code, stderr)
	}
	again, _ := e.records(t, schemas.TopicFiatPrices)
	if len(again) < len(counts) || len(again) > len(counts)+1 {
		t.Fatalf("poll 2: %d price keys after %d", len(again), len(counts))
	}
	for k, n := range again {
		if n != 1 {
			t.Errorf("poll 2: %s has %d records", k, n)
		}
	}

	// A price outage (every request answered 429), in euros (none on the
	// topic yet, so there is a window to read whatever the clock says):
	// the client's retries, then the poll fails naming the source; the
	// other sources' facts are published all the same, and no price.
	if err := e.sim.ApplyPrices(icsim.Prices{FailNext: 1000}); err != nil {
		t.Fatal(err)
	}
	code, stderr = e.run(t, ctx, append(price, "--price-currency", "eur")...)
	if code != 1 || !strings.Contains(stderr, "prices coingecko/eur") || !strings.Contains(stderr, "HTTP 429") ||
		!strings.Contains(stderr, "price request failed, retrying") || e.sim.PricesSnapshot().FailNext != 1000-2 {
		t.Fatalf("outage: exit %d, %d 429s left\n%s", code, e.sim.PricesSnapshot().FailNext, stderr)
	}
	if after, _ := e.records(t, schemas.TopicFiatPrices); len(after) != len(again) {
		t.Fatalf("prices published during an outage: %d keys after %d", len(after), len(again))
	}
	rewards, _ := e.records(t, schemas.TopicNodeRewards)
	assertOnce(t, "rewards", rewards, []string{fmt.Sprintf("%s/%d", connNPA, connTS1), fmt.Sprintf("%s/%d", connNPB, connTS1),
		fmt.Sprintf("%s/%d", connNPA, connTS2), fmt.Sprintf("%s/%d", connNPB, connTS2)})
	rates, _ := e.records(t, schemas.TopicRates)
	if rates["cmc/spot/1760000000"] != 1 {
		t.Fatalf("rates during a price outage: %v", rates)
	}
	// Off: no price request at all (the outage's 429s are not consumed).
	code, stderr = e.run(t, ctx, append(price, "--price-url", "off", "--price-currency", "eur")...)
	if code != 0 || !strings.Contains(stderr, `"price_url":"off"`) || e.sim.PricesSnapshot().FailNext != 1000-2 {
		t.Fatalf("off: exit %d, %d 429s left\n%s", code, e.sim.PricesSnapshot().FailNext, stderr)
	}
}
