package prices

import "testing"

// Whatever the API sends, the decoder either refuses it or returns valid
// prices of the series asked for, strictly ascending by second.
func FuzzDecodeMarketChart(f *testing.F) {
	for _, s := range []string{
		`{"prices":[[1760000000000,4.123456789],[1760003600000,4.1234565]]}`,
		`{"prices":[]}`,
		`{"prices":[[1760000000000,"4.1"]]}`,
		`{"prices":[[1760000000000,1e12]],"market_caps":[]}`,
		`{"prices":[[1760000000000.5,-1]]}`,
		`{"prices":null}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pts, err := DecodeMarketChart(body, "coingecko", "usd")
		if err != nil {
			if pts != nil {
				t.Fatalf("an error with prices: %v %+v", err, pts)
			}
			return
		}
		for i, p := range pts {
			if err := p.Validate(); err != nil || p.Source != "coingecko" || p.Currency != "usd" {
				t.Fatalf("price %d %+v: %v", i, p, err)
			}
			if i > 0 && pts[i-1].TimestampSeconds >= p.TimestampSeconds {
				t.Fatalf("prices %d and %d not strictly ascending: %+v", i-1, i, pts)
			}
		}
	})
}
