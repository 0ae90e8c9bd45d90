package prices

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/shopspring/decimal"

	"github.com/nodeshare/nodeshare/schemas"
)

// Bounds of what an answer may hold. A price is fiat per 1 ICP; above
// schemas.MaxFiatPriceMicros (10^9 per ICP) it is absurd, whatever the
// currency. A timestamp is Unix milliseconds up to 9999-12-31.
var (
	maxPrice  = decimal.New(schemas.MaxFiatPriceMicros, -6)
	maxMillis = decimal.NewFromInt(253_402_300_799_999)
)

// microsShift is the decimal shift from fiat units to micro-units.
const microsShift = 6

// DecodeMarketChart parses a market_chart/range answer:
//
//	{"prices": [[unix_millis, price], ...], ...}
//
// into prices of source in currency, oldest first. Only "prices" is read
// (market_caps and total_volumes are ignored). Each timestamp must be a
// JSON number holding a non-negative integer (milliseconds, truncated to
// seconds: the key's unit); each price a JSON number, read from its text
// with shopspring/decimal and rounded half to even to whole micro-units
// (4.1234565 is 4123456 micros). A negative, zero, absurd (above 10^9 per
// ICP) or non-numeric price (a string, null, NaN), a malformed pair, or
// two different prices within one second refuse the whole answer, with an
// error naming the point. An empty list is no prices, not an error.
func DecodeMarketChart(body []byte, source, currency string) ([]schemas.FiatPrice, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]json.RawMessage
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("market chart: decode JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("market chart: trailing data after the JSON object")
	}
	raw, ok := doc["prices"]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		keys := make([]string, 0, len(doc))
		for k := range doc {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("market chart: no \"prices\" array in the answer (keys: %v)", keys)
	}
	var pairs []json.RawMessage
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("market chart: prices must be an array of [unix_millis, price] pairs: %w", err)
	}
	out := make([]schemas.FiatPrice, 0, len(pairs))
	seen := map[uint64]int64{}
	for i, rp := range pairs {
		var p []json.RawMessage
		if err := json.Unmarshal(rp, &p); err != nil || len(p) != 2 {
			return nil, fmt.Errorf("market chart: prices[%d] is %s, want [unix_millis, price]", i, snippet(rp))
		}
		ts, err := parseMillis(p[0])
		if err != nil {
			return nil, fmt.Errorf("market chart: prices[%d] timestamp: %w", i, err)
		}
		micros, err := parsePrice(p[1])
		if err != nil {
			return nil, fmt.Errorf("market chart: prices[%d] (at %d s) price: %w", i, ts, err)
		}
		if prev, dup := seen[ts]; dup {
			if prev != micros {
				return nil, fmt.Errorf("market chart: prices[%d]: two prices within second %d (%d and %d micros)", i, ts, prev, micros)
			}
			continue
		}
		seen[ts] = micros
		fp := schemas.FiatPrice{Source: source, Currency: currency, TimestampSeconds: ts, PriceMicros: micros}
		if err := fp.Validate(); err != nil {
			return nil, fmt.Errorf("market chart: prices[%d]: %w", i, err)
		}
		out = append(out, fp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TimestampSeconds < out[j].TimestampSeconds })
	return out, nil
}

// number returns the text of a JSON number, refusing strings, null and
// anything else.
func number(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	var n json.Number
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil || n == "" {
		return "", fmt.Errorf("%s is not a JSON number", snippet(raw))
	}
	return n.String(), nil
}

// parseDecimal parses s, bounding its length and exponent: comparing
// decimals rescales them, and 1e999999999 would need a billion-digit integer.
func parseDecimal(s string) (decimal.Decimal, error) {
	if len(s) > 64 {
		return decimal.Decimal{}, fmt.Errorf("%.20q... is too long for a number here", s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%q is not a decimal number", s)
	}
	if e := d.Exponent(); e < -40 || e > 20 {
		return decimal.Decimal{}, fmt.Errorf("%q has an exponent outside [-40, 20]", s)
	}
	return d, nil
}

// parseMillis reads a Unix time in milliseconds and returns it in whole
// seconds (truncated: 1760000000999 is second 1760000000).
func parseMillis(raw json.RawMessage) (uint64, error) {
	s, err := number(raw)
	if err != nil {
		return 0, err
	}
	d, err := parseDecimal(s)
	if err != nil {
		return 0, err
	}
	if !d.IsInteger() || d.IsNegative() || d.GreaterThan(maxMillis) {
		return 0, fmt.Errorf("%s is not a Unix time in milliseconds", s)
	}
	return uint64(d.IntPart() / 1000), nil
}

// parsePrice reads a price in fiat units per ICP and returns it in whole
// micro-units, rounded half to even (the one rounding of a price).
func parsePrice(raw json.RawMessage) (int64, error) {
	s, err := number(raw)
	if err != nil {
		return 0, err
	}
	d, err := parseDecimal(s)
	if err != nil {
		return 0, err
	}
	switch {
	case d.IsNegative():
		return 0, fmt.Errorf("%s is negative", s)
	case d.IsZero():
		return 0, fmt.Errorf("%s is zero: not a price", s)
	case d.GreaterThan(maxPrice):
		return 0, fmt.Errorf("%s is absurd: above %s per ICP", s, maxPrice)
	}
	micros := d.Shift(microsShift).RoundBank(0)
	if !micros.IsPositive() {
		return 0, fmt.Errorf("%s rounds to 0 micro-units: not a price", s)
	}
	return micros.IntPart(), nil
}

func snippet(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}
