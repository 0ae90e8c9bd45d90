package icsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The simulated CoinGecko price API (prices.go) over HTTP.

// priceNow is the simulator's clock in these tests: 2025-10-20 12:30 UTC.
var priceNow = time.Date(2025, 10, 20, 12, 30, 0, 0, time.UTC)

func startPriceSim(t *testing.T) (*Server, string, func(query string) (int, string)) {
	t.Helper()
	s, hs := startSim(t, Options{Now: func() time.Time { return priceNow }})
	if err := s.ApplyScenario(Scenario{Rate: &ConversionRate{TimestampSeconds: 1_760_000_000, XDRPermyriadPerICP: 36_000}}); err != nil {
		t.Fatal(err)
	}
	get := func(query string) (int, string) {
		t.Helper()
		resp, err := http.Get(hs.URL + CoinGeckoPath + "/api/v3/coins/" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	return s, hs.URL, get
}

// chart decodes an answer, keeping the numbers' text.
func chart(t *testing.T, body string) map[string][][2]string {
	t.Helper()
	var doc map[string][][]json.Number
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	out := map[string][][2]string{}
	for k, pts := range doc {
		out[k] = [][2]string{}
		for _, p := range pts {
			if len(p) != 2 {
				t.Fatalf("%s: point %v", k, p)
			}
			out[k] = append(out[k], [2]string{p[0].String(), p[1].String()})
		}
	}
	return out
}

func rangeQuery(cur string, from, to time.Time) string {
	return fmt.Sprintf("%s/market_chart/range?vs_currency=%s&from=%d&to=%d", PriceCoin, cur, from.Unix(), to.Unix())
}

func TestPriceRangeHourlyFromTheCMCRate(t *testing.T) {
	_, _, get := startPriceSim(t)
	// 09:10 to 12:00: the whole hours 10:00, 11:00 and 12:00.
	day := time.Date(2025, 10, 20, 0, 0, 0, 0, time.UTC)
	code, body := get(rangeQuery("usd", day.Add(9*time.Hour+10*time.Minute), day.Add(12*time.Hour)))
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	c := chart(t, body)
	// 3.6 XDR per ICP at 1.36 USD per XDR: 4.896 USD.
	want := [][2]string{{fmt.Sprint(day.Add(10*time.Hour).Unix() * 1000), "4.896"}, {fmt.Sprint(day.Add(11*time.Hour).Unix() * 1000), "4.896"},
		{fmt.Sprint(day.Add(12*time.Hour).Unix() * 1000), "4.896"}}
	if fmt.Sprint(c["prices"]) != fmt.Sprint(want) || len(c["market_caps"]) != 3 || len(c["total_volumes"]) != 3 || c["market_caps"][0][1] != "2643840000" {
		t.Fatalf("prices %v, caps %v", c["prices"], c["market_caps"])
	}
	// Another currency of the table: 3.6 × 205 JPY.
	_, body = get(rangeQuery("jpy", day.Add(10*time.Hour), day.Add(10*time.Hour)))
	if p := chart(t, body)["prices"]; len(p) != 1 || p[0][1] != "738" {
		t.Fatalf("jpy %v", p)
	}
	// Nothing after the simulator's now: a range to tomorrow ends at 12:00.
	_, body = get(rangeQuery("eur", day.Add(11*time.Hour), day.Add(36*time.Hour)))
	if p := chart(t, body)["prices"]; len(p) != 2 || p[1][0] != fmt.Sprint(day.Add(12*time.Hour).Unix()*1000) || p[1][1] != "4.5" {
		t.Fatalf("eur to tomorrow %v", p)
	}
	// Longer than 90 days: daily at 00:00 UTC.
	_, body = get(rangeQuery("usd", day.AddDate(0, 0, -100), day))
	if p := chart(t, body)["prices"]; len(p) != 101 || p[0][0] != fmt.Sprint(day.AddDate(0, 0, -100).Unix()*1000) {
		t.Fatalf("daily: %d points, first %v", len(p), p[0])
	}
	// 90 days: hourly.
	_, body = get(rangeQuery("usd", day.AddDate(0, 0, -90), day))
	if p := chart(t, body)["prices"]; len(p) != 90*24+1 {
		t.Fatalf("90 days: %d points", len(p))
	}
	// Reversed: no points.
	_, body = get(rangeQuery("usd", day, day.Add(-time.Hour)))
	if p := chart(t, body)["prices"]; len(p) != 0 {
		t.Fatalf("reversed: %v", p)
	}
}

func TestPriceRangeErrorsAndNoRate(t *testing.T) {
	s, _, get := startPriceSim(t)
	day := time.Date(2025, 10, 20, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		query string
		code  int
		want  string
	}{
		{"bitcoin/market_chart/range?vs_currency=usd&from=1&to=2", 404, `"coin not found"`},
		{PriceCoin + "/market_chart/range?vs_currency=xxx&from=1&to=2", 400, `"invalid vs_currency"`},
		{PriceCoin + "/market_chart/range?vs_currency=USD&from=1&to=2", 400, `"invalid vs_currency"`},
		{PriceCoin + "/market_chart/range?vs_currency=usd&from=2025-10-01&to=2", 400, "invalid from or to"},
		{PriceCoin + "/market_chart/range?vs_currency=usd&from=1", 400, "invalid from or to"},
	} {
		if code, body := get(c.query); code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want %d %s", c.query, code, body, c.code, c.want)
		}
	}
	// Without a CMC rate there is nothing to compute: an empty list.
	s.mu.Lock()
	s.cmc.Rate = nil
	s.mu.Unlock()
	code, body := get(rangeQuery("usd", day, day.Add(12*time.Hour)))
	if p := chart(t, body)["prices"]; code != 200 || len(p) != 0 || !strings.Contains(body, `"prices":[]`) {
		t.Fatalf("no rate: %d %s", code, body)
	}
}

func TestPriceAdminPointsGapsAndFailures(t *testing.T) {
	s, hs, get := startPriceSim(t)
	day := time.Date(2025, 10, 20, 0, 0, 0, 0, time.UTC)
	post := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post(hs+"/admin/prices", "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// An explicit point at 10:00 (exact text kept), one between hours, and
	// a gap over 11:00 in usd only.
	at10, at1030, at11 := day.Add(10*time.Hour), day.Add(10*time.Hour+30*time.Minute), day.Add(11*time.Hour)
	if code, body := post(fmt.Sprintf(`{"points":[{"currency":"usd","timestamp_seconds":%d,"price":"4.123456789"},{"currency":"usd","timestamp_seconds":%d,"price":"5"}],
		"gaps":[{"currency":"usd","from_seconds":%d,"to_seconds":%d}]}`, at10.Unix(), at1030.Unix(), at11.Unix()-1, at11.Unix()+1)); code != 200 {
		t.Fatalf("post: %d %s", code, body)
	}
	_, body := get(rangeQuery("usd", day.Add(9*time.Hour), day.Add(12*time.Hour)))
	want := fmt.Sprintf("[[%d 4.896] [%d 4.123456789] [%d 5] [%d 4.896]]", day.Add(9*time.Hour).Unix()*1000, at10.Unix()*1000, at1030.Unix()*1000, day.Add(12*time.Hour).Unix()*1000)
	if p := chart(t, body)["prices"]; fmt.Sprint(p) != want {
		t.Fatalf("with overrides\n got %v\nwant %s", p, want)
	}
	// The gap is usd's only.
	_, body = get(rangeQuery("eur", at11, at11))
	if p := chart(t, body)["prices"]; len(p) != 1 {
		t.Fatalf("eur in usd's gap: %v", p)
	}
	// A gap for every currency makes "no price known" for that stretch.
	if code, _ := post(fmt.Sprintf(`{"gaps":[{"from_seconds":%d,"to_seconds":%d}]}`, day.Unix(), day.Add(24*time.Hour).Unix())); code != 200 {
		t.Fatal("gap")
	}
	_, body = get(rangeQuery("eur", day, day.Add(12*time.Hour)))
	if p := chart(t, body)["prices"]; len(p) != 0 {
		t.Fatalf("in a gap: %v", p)
	}
	// The overrides read back; reset forgets them.
	resp, err := http.Get(hs + "/admin/prices")
	if err != nil {
		t.Fatal(err)
	}
	var got Prices
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got.Points) != 2 || len(got.Gaps) != 2 || got.Points[0].Price != "4.123456789" {
		t.Fatalf("GET /admin/prices %+v %v", got, err)
	}
	resp.Body.Close()
	if code, _ := post(`{"reset":true,"fail_next":2}`); code != 200 {
		t.Fatal("reset")
	}
	// Two 429s, then the computed points again.
	for i := 0; i < 2; i++ {
		if code, body := get(rangeQuery("usd", at10, at10)); code != http.StatusTooManyRequests || !strings.Contains(body, `"error_code": 429`) {
			t.Fatalf("fail_next %d: %d %s", i, code, body)
		}
	}
	if code, body := get(rangeQuery("usd", at10, at10)); code != 200 || !strings.Contains(body, "4.896") {
		t.Fatalf("after the 429s: %d %s", code, body)
	}
	// Refused overrides name the field.
	for body, want := range map[string]string{
		`{"points":[{"currency":"xyz","timestamp_seconds":1,"price":"1"}]}`:  `points[0]: currency \"xyz\" is not one of chf, eur, gbp, jpy, usd`,
		`{"points":[{"currency":"usd","timestamp_seconds":1,"price":"-1"}]}`: `points[0]: price \"-1\" is not a non-negative decimal number`,
		`{"points":[{"currency":"usd","timestamp_seconds":0,"price":"1"}]}`:  "points[0]: timestamp_seconds is 0",
		`{"gaps":[{"from_seconds":5,"to_seconds":4}]}`:                       "gaps[0]: to_seconds 4 is before from_seconds 5",
		`{"fail_next":-1}`: "fail_next and delay_ms must be",
		`{"bogus":1}`:      "unknown field",
	} {
		if code, got := post(body); code != 400 || !strings.Contains(got, want) {
			t.Errorf("%s: %d %s, want %s", body, code, got, want)
		}
	}
	// The scenario takes the same overrides.
	if err := s.ApplyScenario(Scenario{Prices: &Prices{Points: []PricePoint{{Currency: "chf", TimestampSeconds: uint64(at10.Unix()), Price: "4.2"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, body := get(rangeQuery("chf", at10, at10)); !strings.Contains(body, "4.2]") {
		t.Fatalf("scenario point: %s", body)
	}
	if err := s.ApplyScenario(Scenario{Prices: &Prices{Points: []PricePoint{{Currency: "chf", TimestampSeconds: 1, Price: "NaN"}}}}); err == nil {
		t.Fatal("NaN price accepted")
	}
}

func TestFiatText(t *testing.T) {
	for _, c := range []struct {
		permyriad uint64
		perXDR    int64
		want      string
	}{
		{36_000, 1_360_000, "4.896"},
		{35_000, 1_000_000, "3.5"},
		{1, 1, "0.0000000001"},
		{10_000, 1_000_000, "1"},
		{123_456, 1_360_000, "16.790016"},
		{1 << 62, 205_000_000, "94539563377761452.032"},
	} {
		if got := fiatText(c.permyriad, c.perXDR); got != c.want {
			t.Errorf("fiatText(%d, %d) = %s, want %s", c.permyriad, c.perXDR, got, c.want)
		}
	}
}
