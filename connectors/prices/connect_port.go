package prices

import (
	"context"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// ConnectSource is the price API as the connect stage
// (pipeline/stage/connect, its Prices port) sees it: ICP's fiat prices
// within a window, with the provenance of the read. The Client retries
// transient failures itself (Config.MaxAttempts), honouring Retry-After.
type ConnectSource struct{ Client *Client }

// Series is the <source>/<currency> of every price Prices returns.
func (s ConnectSource) Series() (source, currency string) {
	return s.Client.Source(), s.Client.Currency()
}

// Prices is GET {base}/api/v3/coins/{coin}/market_chart/range for [from,
// to], oldest first. The provenance names the API's host (Source) and the
// request (Method: "GET <path>?<query>", no API key); the stage stamps the
// fetch time and the envelope the content hash.
func (s ConnectSource) Prices(ctx context.Context, from, to time.Time) ([]schemas.FiatPrice, schemas.Provenance, error) {
	c := s.Client
	path := RangePath(c.cfg.Coin)
	prov := schemas.Provenance{Source: c.Host(), Method: "GET " + c.base.Path + path + "?" + c.rangeQuery(from, to).Encode()}
	pts, err := c.Range(ctx, from, to)
	return pts, prov, err
}
