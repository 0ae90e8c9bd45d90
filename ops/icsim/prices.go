package icsim

import (
	"fmt"
	"math/big"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A CoinGecko-compatible price API for ICP in fiat money (the endpoint
// connectors/prices reads), served under /coingecko so the connector and
// `nodeshare connect` can be tested without mocks:
//
//	GET /coingecko/api/v3/coins/internet-computer/market_chart/range?vs_currency=usd&from=<unix s>&to=<unix s>
//	{"prices": [[unix_ms, price], …], "market_caps": [[unix_ms, cap], …], "total_volumes": [[unix_ms, volume], …]}
//
// The points are computed, deterministically: one on every whole hour in
// [from, min(to, canister now)] (one a day at 00:00 UTC when the range is
// longer than 90 days, as CoinGecko does), each priced at the simulated
// CMC's spot rate (ICP/XDR) times a fixed XDR price in the currency
// (FiatPerXDR). Without a CMC rate there are no computed points. POST
// /admin/prices (or the scenario's "prices") adds explicit points, which
// win over a computed one at the same second, and gaps, which remove the
// computed points in them, so a test can make "no price known for that
// time"; it can also answer the next requests with 429 or delay them.
//
// Errors are CoinGecko's: an unknown coin is 404 {"error":"coin not
// found"}, an unknown vs_currency or a from/to that is not a Unix time 400
// {"error":"invalid ..."}, a rate limit 429 {"status":{"error_code":429,...}}.

// CoinGeckoPath is the URL prefix of the simulated price API: the BaseURL
// of connectors/prices for the simulator.
const CoinGeckoPath = "/coingecko"

// PriceCoin is the one coin the simulated price API knows.
const PriceCoin = "internet-computer"

// FiatPerXDR is the fixed price of one XDR in each currency the simulated
// API serves, in micro-units (1.36 USD per XDR is 1_360_000). Fixed, not
// market data: the simulated ICP price moves with the CMC rate only.
var FiatPerXDR = map[string]int64{
	"usd": 1_360_000,
	"eur": 1_250_000,
	"chf": 1_200_000,
	"gbp": 1_050_000,
	"jpy": 205_000_000,
}

// icpSupply is the simulated circulating supply the market caps are
// computed with (the connector ignores them; they make the answer's shape
// CoinGecko's).
const icpSupply = 540_000_000

// maxHourlyRange is the longest range answered with hourly points.
const maxHourlyRange = 90 * 24 * 3600

// Prices overrides what the simulated price API answers.
type Prices struct {
	// Reset forgets the points and gaps set before (the knobs below are
	// always replaced).
	Reset bool `json:"reset,omitempty"`
	// Points are explicit prices, added to those set before (a point at a
	// currency and second already set replaces it).
	Points []PricePoint `json:"points,omitempty"`
	// Gaps remove the computed points within them, added to those set
	// before.
	Gaps []PriceGap `json:"gaps,omitempty"`
	// FailNext answers the next N price requests with HTTP 429.
	FailNext int `json:"fail_next,omitempty"`
	// DelayMillis delays every price response (timeouts).
	DelayMillis int64 `json:"delay_ms,omitempty"`
}

// PricePoint is one explicit price: decimal text, sent as a JSON number
// exactly as written ("4.123456789").
type PricePoint struct {
	Currency         string `json:"currency"`
	TimestampSeconds uint64 `json:"timestamp_seconds"`
	Price            string `json:"price"`
}

// PriceGap is a stretch [from_seconds, to_seconds] without computed
// points, in one currency (empty: every currency).
type PriceGap struct {
	Currency    string `json:"currency,omitempty"`
	FromSeconds uint64 `json:"from_seconds"`
	ToSeconds   uint64 `json:"to_seconds"`
}

func (p *Prices) validate() error {
	for i, pt := range p.Points {
		if _, ok := FiatPerXDR[pt.Currency]; !ok {
			return fmt.Errorf("points[%d]: currency %q is not one of %s", i, pt.Currency, priceCurrencies())
		}
		if !decimalText.MatchString(pt.Price) {
			return fmt.Errorf("points[%d]: price %q is not a non-negative decimal number", i, pt.Price)
		}
		if pt.TimestampSeconds == 0 {
			return fmt.Errorf("points[%d]: timestamp_seconds is 0", i)
		}
	}
	for i, g := range p.Gaps {
		if _, ok := FiatPerXDR[g.Currency]; g.Currency != "" && !ok {
			return fmt.Errorf("gaps[%d]: currency %q is not one of %s", i, g.Currency, priceCurrencies())
		}
		if g.ToSeconds < g.FromSeconds {
			return fmt.Errorf("gaps[%d]: to_seconds %d is before from_seconds %d", i, g.ToSeconds, g.FromSeconds)
		}
	}
	if p.FailNext < 0 || p.DelayMillis < 0 {
		return fmt.Errorf("fail_next and delay_ms must be >= 0, got %d and %d", p.FailNext, p.DelayMillis)
	}
	return nil
}

func priceCurrencies() string {
	var cs []string
	for c := range FiatPerXDR {
		cs = append(cs, c)
	}
	sort.Strings(cs)
	return strings.Join(cs, ", ")
}

// priceState is in memory only, like the dashboard's overrides: it is a
// test knob, not canister state.
type priceState struct {
	points      map[string]map[uint64]string // currency -> second -> price text
	gaps        []PriceGap
	failNext    int
	delayMillis int64
}

// apply merges p. Callers hold s.mu and validated p.
func (ps *priceState) apply(p *Prices) {
	if p.Reset || ps.points == nil {
		ps.points, ps.gaps = map[string]map[uint64]string{}, nil
	}
	for _, pt := range p.Points {
		if ps.points[pt.Currency] == nil {
			ps.points[pt.Currency] = map[uint64]string{}
		}
		ps.points[pt.Currency][pt.TimestampSeconds] = pt.Price
	}
	ps.gaps = append(ps.gaps, p.Gaps...)
	ps.failNext, ps.delayMillis = p.FailNext, p.DelayMillis
}

// snapshot is the overrides as a Prices (GET /admin/prices).
func (ps *priceState) snapshot() Prices {
	out := Prices{Gaps: append([]PriceGap{}, ps.gaps...), FailNext: ps.failNext, DelayMillis: ps.delayMillis, Points: []PricePoint{}}
	for c, pts := range ps.points {
		for ts, p := range pts {
			out.Points = append(out.Points, PricePoint{Currency: c, TimestampSeconds: ts, Price: p})
		}
	}
	sort.Slice(out.Points, func(i, j int) bool {
		a, b := out.Points[i], out.Points[j]
		return a.Currency < b.Currency || (a.Currency == b.Currency && a.TimestampSeconds < b.TimestampSeconds)
	})
	return out
}

// ApplyPrices validates p and merges it into the price API's overrides.
func (s *Server) ApplyPrices(p Prices) error {
	if err := p.validate(); err != nil {
		return fmt.Errorf("icsim: prices: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prices.apply(&p)
	return nil
}

// PricesSnapshot is the price API's overrides now (GET /admin/prices).
func (s *Server) PricesSnapshot() Prices {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prices.snapshot()
}

// priceRoutes serves the price API and its admin routes.
func (s *Server) priceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+CoinGeckoPath+"/api/v3/coins/{coin}/market_chart/range", s.priceRange)
	mux.HandleFunc("GET /admin/prices", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.PricesSnapshot())
	})
	mux.HandleFunc("POST /admin/prices", func(w http.ResponseWriter, r *http.Request) {
		var p Prices
		if !decodeJSON(w, r, &p) {
			return
		}
		if err := s.ApplyPrices(p); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
}

func (s *Server) priceRange(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if d := s.prices.delayMillis; d > 0 {
		s.mu.Unlock()
		s.sleep(r.Context(), time.Duration(d)*time.Millisecond)
		s.mu.Lock()
	}
	if s.prices.failNext > 0 {
		s.prices.failNext--
		s.mu.Unlock()
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"status": map[string]any{"error_code": 429, "error_message": "simulated rate limit"}})
		return
	}
	defer s.mu.Unlock()
	if r.PathValue("coin") != PriceCoin {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "coin not found"})
		return
	}
	q := r.URL.Query()
	cur := q.Get("vs_currency")
	perXDR, ok := FiatPerXDR[cur]
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid vs_currency"})
		return
	}
	from, errFrom := strconv.ParseUint(q.Get("from"), 10, 64)
	to, errTo := strconv.ParseUint(q.Get("to"), 10, 64)
	if errFrom != nil || errTo != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid from or to: Unix seconds expected"})
		return
	}
	now := s.canisterNow() / 1e9
	to = min(to, now)
	points := map[uint64]string{}
	if rate := s.cmc.Rate; rate != nil && from <= to {
		step, first := uint64(3600), (from+3599)/3600*3600
		if to-from > maxHourlyRange {
			step, first = 86_400, (from+86_399)/86_400*86_400
		}
		text := fiatText(rate.XDRPermyriadPerICP, perXDR)
		for t := first; t <= to; t += step {
			if !s.prices.inGap(cur, t) {
				points[t] = text
			}
		}
	}
	for t, p := range s.prices.points[cur] {
		if t >= from && t <= to {
			points[t] = p
		}
	}
	ts := make([]uint64, 0, len(points))
	for t := range points {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	var b strings.Builder
	for i, key := range []string{"prices", "market_caps", "total_volumes"} {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:[", key)
		for j, t := range ts {
			if j > 0 {
				b.WriteString(",")
			}
			v := points[t]
			switch key {
			case "market_caps":
				v = scaledText(v, icpSupply)
			case "total_volumes":
				v = scaledText(v, icpSupply/100)
			}
			fmt.Fprintf(&b, "[%d,%s]", t*1000, v)
		}
		b.WriteString("]")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "{%s}\n", b.String())
}

func (ps *priceState) inGap(cur string, t uint64) bool {
	for _, g := range ps.gaps {
		if (g.Currency == "" || g.Currency == cur) && t >= g.FromSeconds && t <= g.ToSeconds {
			return true
		}
	}
	return false
}

// fiatText is the price of one ICP: permyriad/10^4 XDR times
// perXDRMicros/10^6 fiat, exact, as decimal text without trailing zeros
// (36,000 permyriad at 1.36 USD is "4.896").
func fiatText(permyriad uint64, perXDRMicros int64) string {
	v := new(big.Int).Mul(new(big.Int).SetUint64(permyriad), big.NewInt(perXDRMicros)) // 10^-10 fiat units
	whole, rest := new(big.Int).QuoRem(v, big.NewInt(10_000_000_000), new(big.Int))
	frac := strings.TrimRight(fmt.Sprintf("%010s", rest.String()), "0")
	if frac == "" {
		return whole.String()
	}
	return whole.String() + "." + frac
}

// scaledText is decimal text times n, truncated to an integer (market caps
// and volumes: shape only).
func scaledText(text string, n uint64) string {
	whole, frac, _ := strings.Cut(text, ".")
	w, _ := strconv.ParseUint(whole, 10, 64)
	out := w * n
	if frac != "" {
		f, _ := strconv.ParseUint((frac + "000000")[:6], 10, 64)
		out += f * n / 1_000_000
	}
	return strconv.FormatUint(out, 10)
}
