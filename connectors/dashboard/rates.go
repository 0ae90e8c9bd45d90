package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/nodeshare/nodeshare/pipeline/rates"
)

// RatePoint is one dashboard observation: a Unix time and the ICP/XDR rate
// in XDR permyriad per ICP, fractions allowed. It is pipeline/rates.Point,
// the type the cross-check with the certified CMC rate (rates.Compare)
// takes.
type RatePoint = rates.Point

// Keys under which the dashboard returns a rate series. The average
// endpoint's key is UNVERIFIED on mainnet, so both spellings are accepted.
var rateKeys = []string{"icp_xdr_conversion_rates", "avg_icp_xdr_conversion_rates", "average_icp_xdr_conversion_rates"}

// maxRateValue bounds a rate: 10^12 permyriad is 10^8 XDR per ICP, far
// beyond any plausible price, and keeps later integer conversion safe.
var maxRateValue = decimal.New(1, 12)

// DecodeRates parses a dashboard rate response:
//
//	{"icp_xdr_conversion_rates": [[unix_s, permyriad], ...]}
//
// Timestamps are non-negative integers (number or string); rates are
// non-negative decimals (number or string). Points are returned newest
// first. Unknown extra keys are ignored; a body with no series, or with two
// of the accepted series, is an error.
func DecodeRates(body []byte) ([]RatePoint, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]json.RawMessage
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("dashboard: rates: decode JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("dashboard: rates: trailing data after the JSON object")
	}
	var raw json.RawMessage
	var key string
	for _, k := range rateKeys {
		if v, ok := doc[k]; ok {
			if raw != nil {
				return nil, fmt.Errorf("dashboard: rates: both %q and %q present", key, k)
			}
			raw, key = v, k
		}
	}
	if raw == nil {
		return nil, fmt.Errorf("dashboard: rates: none of %s in the response", strings.Join(rateKeys, ", "))
	}
	var pts [][]json.RawMessage
	if err := json.Unmarshal(raw, &pts); err != nil {
		return nil, fmt.Errorf("dashboard: rates: %s must be an array of [timestamp, rate] pairs: %w", key, err)
	}
	out := make([]RatePoint, 0, len(pts))
	for i, p := range pts {
		if len(p) != 2 {
			return nil, fmt.Errorf("dashboard: rates: %s[%d] has %d elements, want [timestamp, rate]", key, i, len(p))
		}
		ts, err := parseTimestamp(p[0])
		if err != nil {
			return nil, fmt.Errorf("dashboard: rates: %s[%d] timestamp: %w", key, i, err)
		}
		v, err := parseDecimal(p[1])
		if err != nil {
			return nil, fmt.Errorf("dashboard: rates: %s[%d] rate: %w", key, i, err)
		}
		if v.IsNegative() || v.GreaterThan(maxRateValue) {
			return nil, fmt.Errorf("dashboard: rates: %s[%d] rate %s is outside [0, %s]", key, i, v, maxRateValue)
		}
		out = append(out, RatePoint{TimestampSeconds: ts, XDRPermyriadPerICP: v})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TimestampSeconds > out[j].TimestampSeconds })
	return out, nil
}

// unquote returns the JSON string's content, or the raw token of a number.
func unquote(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return strings.TrimSpace(s), nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil || n == "" {
		return "", fmt.Errorf("%s is neither a number nor a string", raw)
	}
	return n.String(), nil
}

func parseTimestamp(raw json.RawMessage) (uint64, error) {
	s, err := unquote(raw)
	if err != nil {
		return 0, err
	}
	// Some JSON encoders print integral floats as 1.7e9 or 1700000000.0.
	d, err := parseDecimalText(s)
	if err != nil || !d.IsInteger() || d.IsNegative() || d.GreaterThan(decimal.New(1, 12)) {
		return 0, fmt.Errorf("%q is not a Unix time in seconds", s)
	}
	return strconv.ParseUint(d.String(), 10, 64)
}

func parseDecimal(raw json.RawMessage) (decimal.Decimal, error) {
	s, err := unquote(raw)
	if err != nil {
		return decimal.Decimal{}, err
	}
	return parseDecimalText(s)
}

// parseDecimalText parses s, bounding its length and exponent: comparing
// decimals rescales them, and 1e999999999 would need a billion-digit integer.
func parseDecimalText(s string) (decimal.Decimal, error) {
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
