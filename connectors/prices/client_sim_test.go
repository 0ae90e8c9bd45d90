package prices_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/prices"
	"github.com/nodeshare/nodeshare/ops/icsim"
)

// The client against the simulator's copy of the API (ops/icsim/prices.go),
// over HTTP: what `nodeshare connect` reads on the local stack.
func TestRangeFromSimulator(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 10, 20, 12, 30, 0, 0, time.UTC)
	s, err := icsim.New(icsim.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	if err := s.ApplyScenario(icsim.Scenario{Rate: &icsim.ConversionRate{TimestampSeconds: 1_760_000_000, XDRPermyriadPerICP: 36_000}}); err != nil {
		t.Fatal(err)
	}
	c := client(t, hs.URL+icsim.CoinGeckoPath)
	from, to := now.Add(-3*time.Hour), now
	got, err := c.Range(ctx, from, to)
	// 09:00 is before from (09:30): 10:00, 11:00, 12:00 at 3.6 XDR × 1.36 USD.
	if err != nil || len(got) != 3 || got[0].TimestampSeconds != uint64(now.Add(-150*time.Minute).Unix()) || got[2].PriceMicros != 4_896_000 {
		t.Fatalf("computed points %+v %v", got, err)
	}
	// An explicit point with nine decimals, a gap over 11:00, two 429s
	// (retried by the client).
	at10, at11 := uint64(now.Add(-150*time.Minute).Unix()), uint64(now.Add(-90*time.Minute).Unix())
	if err := s.ApplyPrices(icsim.Prices{FailNext: 2, Points: []icsim.PricePoint{{Currency: "usd", TimestampSeconds: at10, Price: "4.123456789"}},
		Gaps: []icsim.PriceGap{{Currency: "usd", FromSeconds: at11, ToSeconds: at11}}}); err != nil {
		t.Fatal(err)
	}
	got, err = c.Range(ctx, from, to)
	if err != nil || len(got) != 2 || got[0].TimestampSeconds != at10 || got[0].PriceMicros != 4_123_457 || got[1].PriceMicros != 4_896_000 {
		t.Fatalf("with overrides %+v %v", got, err)
	}
	// The currency is the client's: eur at 1.25 per XDR.
	eur := client(t, hs.URL+icsim.CoinGeckoPath, func(c *prices.Config) { c.Currency = "eur" })
	if got, err := eur.Range(ctx, now.Add(-30*time.Minute), now); err != nil || len(got) != 1 || got[0].PriceMicros != 4_500_000 || got[0].Currency != "eur" {
		t.Fatalf("eur %+v %v", got, err)
	}
}
