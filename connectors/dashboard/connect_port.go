package dashboard

import (
	"context"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/rates"
	"github.com/nodeshare/nodeshare/schemas"
)

// ConnectSource is the dashboard as the connect stage
// (pipeline/stage/connect) sees it: the spot and 30-day average rate
// series with the provenance of the read. The Client retries transient
// failures itself (Config.MaxAttempts), honouring Retry-After.
type ConnectSource struct{ Client *Client }

// SpotRates is GET /icp-xdr-conversion-rates within [start, end] (zero:
// the API's window), newest first.
func (s ConnectSource) SpotRates(ctx context.Context, start, end time.Time) ([]rates.Point, schemas.Provenance, error) {
	pts, err := s.Client.Rates(ctx, start, end, 0)
	return pts, provenance(PathRates), err
}

// AverageRates is GET /avg-icp-xdr-conversion-rates within [start, end].
func (s ConnectSource) AverageRates(ctx context.Context, start, end time.Time) ([]rates.Point, schemas.Provenance, error) {
	pts, err := s.Client.AverageRates(ctx, start, end, 0)
	return pts, provenance(PathAverageRates), err
}

func provenance(path string) schemas.Provenance {
	return schemas.Provenance{Source: "dashboard", Method: "GET " + path}
}
