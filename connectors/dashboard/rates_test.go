package dashboard

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestDecodeRates(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string // "ts=value", newest first
		err        string
	}{
		{"numbers", `{"icp_xdr_conversion_rates": [[1700000000, 35000], [1700003600, 35100]]}`, []string{"1700003600=35100", "1700000000=35000"}, ""},
		{"strings", `{"icp_xdr_conversion_rates": [["1700000000", "35000.5"]]}`, []string{"1700000000=35000.5"}, ""},
		{"float timestamp", `{"icp_xdr_conversion_rates": [[1.7e9, 3.5e4]]}`, []string{"1700000000=35000"}, ""},
		{"average key", `{"avg_icp_xdr_conversion_rates": [[1, 2]], "other": 1}`, []string{"1=2"}, ""},
		{"empty series", `{"icp_xdr_conversion_rates": []}`, []string{}, ""},
		{"no series", `{"rates": []}`, nil, "none of"},
		{"two series", `{"icp_xdr_conversion_rates": [], "avg_icp_xdr_conversion_rates": []}`, nil, "both"},
		{"short pair", `{"icp_xdr_conversion_rates": [[1]]}`, nil, "has 1 elements"},
		{"negative", `{"icp_xdr_conversion_rates": [[1, -5]]}`, nil, "outside"},
		{"fractional ts", `{"icp_xdr_conversion_rates": [[1.5, 5]]}`, nil, "Unix time"},
		{"huge exponent", `{"icp_xdr_conversion_rates": [[1, "1e30"]]}`, nil, "exponent"},
		{"overflowing exponent", `{"icp_xdr_conversion_rates": [[1, "1e999999999"]]}`, nil, "not a decimal"},
		{"null rate", `{"icp_xdr_conversion_rates": [[1, null]]}`, nil, "neither"},
		{"bool", `{"icp_xdr_conversion_rates": [[1, true]]}`, nil, "neither"},
		{"not json", `<html>`, nil, "decode JSON"},
		{"trailing", `{"icp_xdr_conversion_rates": []} {}`, nil, "trailing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pts, err := DecodeRates([]byte(c.body))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("want error containing %q, got %v", c.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, p := range pts {
				got = append(got, decimal.NewFromUint64(p.TimestampSeconds).String()+"="+p.XDRPermyriadPerICP.String())
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// FuzzDecodeRates: any body decodes to points or an error, never a panic;
// decoded points are sorted newest first with rates in [0, 10^12].
func FuzzDecodeRates(f *testing.F) {
	for _, s := range []string{
		`{"icp_xdr_conversion_rates": [[1700000000, 35000], [1700003600, "35100.25"]]}`,
		`{"avg_icp_xdr_conversion_rates": [["1.7e9", 3.5e4]]}`,
		`{"icp_xdr_conversion_rates": [[1, "1e999999999"]]}`,
		`{"icp_xdr_conversion_rates": [[1]]}`,
		`{}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pts, err := DecodeRates(b)
		if err != nil {
			return
		}
		for i, p := range pts {
			if p.XDRPermyriadPerICP.IsNegative() || p.XDRPermyriadPerICP.GreaterThan(maxRateValue) {
				t.Fatalf("rate out of range: %s", p.XDRPermyriadPerICP)
			}
			if i > 0 && pts[i-1].TimestampSeconds < p.TimestampSeconds {
				t.Fatal("not newest first")
			}
		}
	})
}
