package connect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// The fiat prices through the stage's Prices port (prices.go), with the
// in-memory fakes of fakes_test.go and the fake price source below.

// fakePrices is a price API that knows points (any source, any currency:
// the stage must refuse the wrong ones) and answers those within the
// window asked, oldest first. Its calls are "from..to" in Unix seconds.
type fakePrices struct {
	faults
	points []schemas.FiatPrice
}

const priceHost = "prices.example"

func (f *fakePrices) Series() (string, string) { return "coingecko", "usd" }

func (f *fakePrices) Prices(ctx context.Context, from, to time.Time) ([]schemas.FiatPrice, schemas.Provenance, error) {
	prov := schemas.Provenance{Source: priceHost, Method: fmt.Sprintf("GET /api/v3/coins/internet-computer/market_chart/range?from=%d&to=%d&vs_currency=usd", from.Unix(), to.Unix())}
	if err := f.enter(ctx, fmt.Sprintf("%d..%d", from.Unix(), to.Unix())); err != nil {
		return nil, prov, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []schemas.FiatPrice
	for _, p := range f.points {
		if p.TimestampSeconds >= uint64(from.Unix()) && p.TimestampSeconds <= uint64(to.Unix()) {
			out = append(out, p)
		}
	}
	return out, prov, nil
}

// hourly sets the source's points: one an hour in [from, to], priced
// 4 USD plus one micro per hour since from (every price differs).
func (f *fakePrices) hourly(from, to time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.points = nil
	for t, i := from, int64(0); !t.After(to); t, i = t.Add(time.Hour), i+1 {
		f.points = append(f.points, usd(t, 4_000_000+i))
	}
}

func usd(t time.Time, micros int64) schemas.FiatPrice {
	return schemas.FiatPrice{Source: "coingecko", Currency: "usd", TimestampSeconds: uint64(t.Unix()), PriceMicros: micros}
}

func priceKey(t time.Time) string { return schemas.FiatPriceKey("coingecko", "usd", uint64(t.Unix())) }

// pricesOnly is a connector world with the price source and the required
// IC ports only.
func pricesOnly(fp *fakePrices) func(*Config, *Ports) {
	return func(_ *Config, p *Ports) { p.NRC, p.Dashboard, p.Prices = nil, nil, fp }
}

func window(from, to time.Time) string { return fmt.Sprintf("%d..%d", from.Unix(), to.Unix()) }

func TestPricesPublishedOnceFromTheNewestOn(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	fp := &fakePrices{}
	// The source knows 40 days of hours up to now; the first poll reads
	// the default 30 days: 30 × 24 + 1 points, both ends included.
	fp.hourly(e.now.AddDate(0, 0, -40), e.now)
	st, err := e.connector(t, pricesOnly(fp)).Poll(ctx)
	if err != nil || st.Prices != 721 {
		t.Fatalf("first poll: %+v %v", st, err)
	}
	if calls := fp.log(); len(calls) != 1 || calls[0] != window(e.now.AddDate(0, 0, -30), e.now) {
		t.Fatalf("first poll asked %v", calls)
	}
	got := e.log.counts(schemas.TopicFiatPrices)
	if len(got) != 721 || got[priceKey(e.now)] != 1 || got[priceKey(e.now.AddDate(0, 0, -30))] != 1 || got[priceKey(e.now.AddDate(0, 0, -30).Add(-time.Hour))] != 0 {
		t.Fatalf("%d price keys after the first poll", len(got))
	}
	// The payload and its provenance: the host, the request, the poll's
	// time, the payload's hash.
	env, err := e.log.envelope(schemas.TopicFiatPrices, priceKey(e.now))
	if err != nil {
		t.Fatal(err)
	}
	p, err := schemas.DecodeFiatPrice(env)
	if err != nil || p != usd(e.now, 4_000_000+40*24) || env.Type != schemas.TypeFiatPrice || env.EventID != priceKey(e.now) {
		t.Fatalf("price %+v %v", p, err)
	}
	if pv := env.Provenance; pv.Source != priceHost || !strings.HasPrefix(pv.Method, "GET /api/v3/coins/internet-computer/market_chart/range?") ||
		pv.FetchTime != "2025-10-20T12:00:00Z" || len(pv.ContentSHA256) != 64 {
		t.Fatalf("price provenance %+v", pv)
	}

	// A new process reads the newest price from the topic: nothing is due
	// yet, the source is not asked.
	fp.reset()
	st, err = e.connector(t, pricesOnly(fp)).Poll(ctx)
	if err != nil || st.Prices != 0 || len(fp.log()) != 0 {
		t.Fatalf("second process at the same time: %+v %v %v", st, err, fp.log())
	}
	// Two hours later the same process asks from the second after the
	// newest price on, and publishes the two new hours only; a third poll
	// asks from the newest again.
	c := e.connector(t, pricesOnly(fp))
	then := e.now
	e.now = e.now.Add(2*time.Hour + 30*time.Minute)
	fp.hourly(then.AddDate(0, 0, -40), e.now)
	fp.reset()
	st, err = c.Poll(ctx)
	if err != nil || st.Prices != 2 || st.Published != 2 {
		t.Fatalf("two hours later: %+v %v", st, err)
	}
	if calls := fp.log(); len(calls) != 1 || calls[0] != window(then.Add(time.Second), e.now) {
		t.Fatalf("two hours later asked %v", calls)
	}
	e.now = e.now.Add(time.Hour)
	fp.hourly(then.AddDate(0, 0, -40), e.now)
	fp.reset()
	if st, err = c.Poll(ctx); err != nil || st.Prices != 1 || fp.log()[0] != window(then.Add(2*time.Hour+time.Second), e.now) {
		t.Fatalf("third poll: %+v %v %v", st, err, fp.log())
	}
	if n := len(e.log.counts(schemas.TopicFiatPrices)); n != 721+3 {
		t.Fatalf("%d price keys, want %d", n, 721+3)
	}
	for k, n := range e.log.counts(schemas.TopicFiatPrices) {
		if n != 1 {
			t.Fatalf("%s published %d times", k, n)
		}
	}
}

// A price of another series on the topic (another source or currency) is
// not this series' newest; PriceDays sets the first window.
func TestPricesNewestIsPerSeries(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	other := schemas.FiatPrice{Source: "coingecko", Currency: "eur", TimestampSeconds: uint64(e.now.Unix()), PriceMicros: 3_900_000}
	f, err := schemas.NewFact(schemas.TopicFiatPrices, schemas.TypeFiatPrice, schemas.FiatPriceKey(other.Source, other.Currency, other.TimestampSeconds), schemas.Provenance{Source: priceHost}, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.log.PublishOnce(ctx, []schemas.Fact{f}); err != nil {
		t.Fatal(err)
	}
	fp := &fakePrices{}
	fp.hourly(e.now.AddDate(0, 0, -10), e.now)
	mod := pricesOnly(fp)
	st, err := e.connector(t, mod, func(c *Config, _ *Ports) { c.PriceDays = 2 }).Poll(ctx)
	if err != nil || st.Prices != 49 || fp.log()[0] != window(e.now.AddDate(0, 0, -2), e.now) {
		t.Fatalf("%+v %v %v", st, err, fp.log())
	}
	if _, err := New(Config{Once: true, CallTimeout: time.Second, Attempts: 1, PriceDays: -1}, Ports{Governance: e.gov, CMC: e.cmc, Log: e.log}); err == nil ||
		!strings.Contains(err.Error(), "price days must be >= 0, got -1") {
		t.Fatalf("negative price days: %v", err)
	}
}

// A stretch longer than 90 days is read in 90-day windows, oldest first;
// a window that fails stops the reading there, and the next poll resumes
// after the last price published, never past the gap.
func TestPricesLongGapInWindowsStopsAtAFailure(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	fp := &fakePrices{}
	start := e.now.AddDate(0, 0, -200)
	fp.hourly(start, e.now)
	w1end := start.Add(MaxPriceWindow)
	w2 := w1end.Add(time.Second)
	fp.fail(nil, errors.New("HTTP 500: simulated"))
	c := e.connector(t, pricesOnly(fp), func(c *Config, _ *Ports) { c.PriceDays = 200 })
	st, err := c.Poll(ctx)
	if err == nil || !strings.Contains(err.Error(), "prices coingecko/usd "+w2.Format(time.RFC3339)) || !strings.Contains(err.Error(), "HTTP 500: simulated") {
		t.Fatalf("failing second window: %+v %v", st, err)
	}
	if calls := fp.log(); len(calls) != 2 || calls[0] != window(start, w1end) || calls[1] != window(w2, w2.Add(MaxPriceWindow)) {
		t.Fatalf("windows asked %v", calls)
	}
	// The first window's 90 × 24 + 1 hours are published; the IC facts too.
	if n := len(e.log.counts(schemas.TopicFiatPrices)); n != 90*24+1 || st.Prices != n {
		t.Fatalf("%d prices after the first window (stats %d)", n, st.Prices)
	}
	assertOnce(t, e.log, schemas.TopicRates, "cmc/spot/1760000000", "cmc/avg30/1759900000")
	// The next poll resumes after the first window's newest hour and reads
	// the rest in two windows.
	fp.reset()
	st, err = c.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resume := w1end.Truncate(time.Hour).Add(time.Second)
	if calls := fp.log(); len(calls) != 2 || calls[0] != window(resume, resume.Add(MaxPriceWindow)) || calls[1] != window(resume.Add(MaxPriceWindow+time.Second), e.now) {
		t.Fatalf("resumed windows %v", calls)
	}
	if n := len(e.log.counts(schemas.TopicFiatPrices)); n != 200*24+1 {
		t.Fatalf("%d prices after the gap was read, want %d", n, 200*24+1)
	}
}

// A failing price source does not stop the other sources, and a failed
// publish keeps the newest price where it was.
func TestPricesFailureStopsNothingElse(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	fp := &fakePrices{}
	fp.hourly(e.now.AddDate(0, 0, -1), e.now)
	fp.fail(errors.New("prices: GET /api/v3/coins/internet-computer/market_chart/range: HTTP 429 (after 4 attempt(s); transient)"))
	c := e.connector(t, func(_ *Config, p *Ports) { p.Prices = fp })
	st, err := c.Poll(ctx)
	if err == nil || !strings.Contains(err.Error(), "HTTP 429") || st.Prices != 0 {
		t.Fatalf("price outage: %+v %v", st, err)
	}
	assertOnce(t, e.log, schemas.TopicNodeRewards, key(npA, ts1), key(npB, ts1), key(npA, ts2), key(npB, ts2))
	assertOnce(t, e.log, schemas.TopicFiatPrices)
	// The port retries itself: the stage asked once.
	if calls := fp.log(); len(calls) != 1 {
		t.Fatalf("price calls %v", calls)
	}

	// The next poll reads the prices, but the publish fails: the same
	// window is asked again afterwards, and every price lands once.
	fp.reset()
	e.log.fail = errors.New("broker down")
	if _, err := c.Poll(ctx); err == nil || !strings.Contains(err.Error(), "broker down") {
		t.Fatalf("publish failure: %v", err)
	}
	e.log.fail = nil
	if _, err := c.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	from := e.now.AddDate(0, 0, -30)
	if calls := fp.log(); len(calls) != 2 || calls[0] != window(from, e.now) || calls[1] != calls[0] {
		t.Fatalf("after a failed publish %v", calls)
	}
	if n := len(e.log.counts(schemas.TopicFiatPrices)); n != 25 {
		t.Fatalf("%d prices, want 25", n)
	}
}

// An answer with a price of another series, or an invalid one, is refused
// whole; a price already on the topic with other content (another writer
// got there first) is a conflict for a person, not an overwrite, and does
// not hold the later prices back.
func TestPricesBadAnswersAndConflicts(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	fp := &fakePrices{}
	fp.hourly(e.now.Add(-3*time.Hour), e.now)
	good := append([]schemas.FiatPrice(nil), fp.points...)
	eur, zero := good[1], good[2]
	eur.Currency = "eur"
	zero.PriceMicros = 0
	for _, c := range []struct {
		at   int
		bad  schemas.FiatPrice
		want string
	}{
		{1, eur, "price 1 is coingecko/eur, not the series coingecko/usd asked for"},
		{2, zero, "price 2: fiat price: price_micros must be in [1, 1000000000000000], got 0"},
	} {
		fp.points = append([]schemas.FiatPrice(nil), good...)
		fp.points[c.at] = c.bad
		_, err := e.connector(t, pricesOnly(fp)).Poll(ctx)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing of this answer is published") {
			t.Fatalf("bad answer: %v, want %q", err, c.want)
		}
		assertOnce(t, e.log, schemas.TopicFiatPrices)
	}
	fp.points = good
	c := e.connector(t, pricesOnly(fp))
	if st, err := c.Poll(ctx); err != nil || st.Prices != 4 {
		t.Fatalf("good answer: %+v %v", st, err)
	}

	// Another writer publishes the next hour with another price before
	// this process polls: the source's price is refused as a conflict, the
	// topic keeps the first one, and the next poll reads after that hour.
	next := e.now.Add(time.Hour)
	other, err := schemas.NewFact(schemas.TopicFiatPrices, schemas.TypeFiatPrice, priceKey(next), schemas.Provenance{Source: priceHost}, usd(next, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.log.PublishOnce(ctx, []schemas.Fact{other}); err != nil {
		t.Fatal(err)
	}
	e.now = next
	fp.points = append(fp.points, usd(next, 4_100_000))
	st, err := c.Poll(ctx)
	var ce *schemas.ConflictError
	if !errors.As(err, &ce) || st.Conflicts != 1 || len(ce.Conflicts) != 1 || !strings.Contains(ce.Conflicts[0], priceKey(next)) {
		t.Fatalf("conflict: %+v %v", st, err)
	}
	env, err := e.log.envelope(schemas.TopicFiatPrices, priceKey(next))
	if p, derr := schemas.DecodeFiatPrice(env); err != nil || derr != nil || p.PriceMicros != 1 {
		t.Fatalf("the price on the topic was overwritten: %+v %v %v", p, err, derr)
	}
	e.now = next.Add(time.Hour)
	fp.points = append(fp.points, usd(e.now, 4_200_000))
	fp.reset()
	if st, err := c.Poll(ctx); err != nil || st.Published != 1 || fp.log()[0] != window(next.Add(time.Second), e.now) {
		t.Fatalf("after the conflict: %+v %v %v", st, err, fp.log())
	}
}
