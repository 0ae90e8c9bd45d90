package connect

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nodeshare/nodeshare/pipeline/rates"
	"github.com/nodeshare/nodeshare/schemas"
)

// pollCMC reads the certified spot rate and 30-day average. A rate that
// was read is returned for the cross-check even when it cannot be
// published.
func (c *Connector) pollCMC(ctx context.Context, fetched string) (spot, avg *schemas.CertifiedRate, out []schemas.Fact, err error) {
	var errs []error
	for _, k := range []struct {
		kind, method string
		read         func(context.Context) (schemas.CertifiedRate, error)
		dst          **schemas.CertifiedRate
	}{
		{"spot", "get_icp_xdr_conversion_rate", c.p.CMC.SpotRate, &spot},
		{"avg30", "get_average_icp_xdr_conversion_rate", c.p.CMC.AverageRate, &avg},
	} {
		var r schemas.CertifiedRate
		if err := c.call(ctx, "cmc "+k.method, func(ctx context.Context) error {
			var err error
			r, err = k.read(ctx)
			return err
		}); err != nil {
			errs = append(errs, err)
			continue
		}
		*k.dst = &r
		if r.XDRPermyriadPerICP > math.MaxInt64 || r.XDRPermyriadPerICP == 0 {
			errs = append(errs, fmt.Errorf("cmc %s: rate %d out of range: not published", k.method, r.XDRPermyriadPerICP))
			continue
		}
		rate := schemas.Rate{Kind: k.kind, TimestampSeconds: r.TimestampSeconds, XDRPermyriadPerICP: int64(r.XDRPermyriadPerICP)}
		f, err := schemas.NewFact(c.cfg.topic(schemas.TopicRates), schemas.TypeRate, schemas.RateKey("cmc", k.kind, r.TimestampSeconds),
			withFetchTime(r.Provenance, fetched), rate)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, f)
	}
	return spot, avg, out, errors.Join(errs...)
}

// alarmProvenance is the provenance of a source_mismatch: nodeshare's own
// comparison.
var alarmProvenance = schemas.Provenance{Source: "nodeshare", Method: "connect cross-check cmc/dashboard"}

// pollDashboard reads the dashboard's spot and average rates, publishes
// the newest points (XDR permyriad truncated to an integer, like the CMC's
// unit) and compares them with the certified CMC rates (rates.Compare): a
// difference beyond the tolerance is a source_mismatch alarm. The alarm
// stops nothing: payouts use Governance's minted amounts.
func (c *Connector) pollDashboard(ctx context.Context, spot, avg *schemas.CertifiedRate, fetched string) ([]schemas.Fact, int, error) {
	var out []schemas.Fact
	var errs []error
	alarms := 0
	tol := c.cfg.Tolerance
	for _, k := range []struct {
		kind string
		read func(context.Context, time.Time, time.Time) ([]rates.Point, schemas.Provenance, error)
		cmc  *schemas.CertifiedRate
	}{
		{"spot", c.p.Dashboard.SpotRates, spot},
		{"avg30", c.p.Dashboard.AverageRates, avg},
	} {
		var start, end time.Time
		if k.cmc != nil {
			at := time.Unix(int64(k.cmc.TimestampSeconds), 0)
			start, end = at.Add(-tol.MaxSkew), at.Add(tol.MaxSkew)
		}
		// The dashboard port retries transient failures itself (with
		// Retry-After): one bound for all its tries, no second retry loop.
		cctx, cancel := context.WithTimeout(ctx, time.Duration(c.cfg.Attempts+1)*c.cfg.CallTimeout)
		pts, prov, err := k.read(cctx, start, end)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("dashboard %s: %w", k.kind, err))
			continue
		}
		if p, ok := rates.Latest(pts); ok {
			v := p.XDRPermyriadPerICP.Truncate(0)
			if v.IsPositive() && v.LessThan(decimal.NewFromInt(math.MaxInt64)) {
				rate := schemas.Rate{Kind: k.kind, TimestampSeconds: p.TimestampSeconds, XDRPermyriadPerICP: v.IntPart()}
				f, err := schemas.NewFact(c.cfg.topic(schemas.TopicRates), schemas.TypeRate, schemas.RateKey("dashboard", k.kind, p.TimestampSeconds),
					withFetchTime(prov, fetched), rate)
				if err != nil {
					errs = append(errs, err)
				} else {
					out = append(out, f)
				}
			}
		}
		if k.cmc == nil {
			continue // nothing certified to compare with
		}
		cmp := rates.Compare(k.cmc.TimestampSeconds, k.cmc.XDRPermyriadPerICP, pts, tol)
		switch {
		case cmp.Mismatch:
			alarms++
			if c.cfg.Observer != nil {
				c.cfg.Observer.SourceAlarm(k.kind)
			}
			a := schemas.SourceMismatch{Kind: k.kind, CMCTimestampSeconds: cmp.CMCTimestampSeconds, CMCXDRPermyriadPerICP: cmp.CMCXDRPermyriadPerICP,
				DashboardTimestampSeconds: cmp.DashboardTimestampSeconds, DashboardXDRPermyriadPerICP: cmp.DashboardXDRPermyriad.String(),
				DiffBps: cmp.DiffBps.StringFixed(2), ToleranceBps: tol.MaxDiffBps, Detail: cmp.Reason}
			f, err := schemas.NewFact(c.cfg.topic(schemas.TopicSourceAlarms), schemas.TypeSourceMismatch,
				schemas.SourceAlarmKey(k.kind, cmp.CMCTimestampSeconds, cmp.DashboardTimestampSeconds), withFetchTime(alarmProvenance, fetched), a)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, f)
			c.log.Error("source mismatch: dashboard disagrees with the certified CMC rate", "kind", k.kind, "cmc_xdr_permyriad_per_icp", cmp.CMCXDRPermyriadPerICP,
				"dashboard_xdr_permyriad_per_icp", cmp.DashboardXDRPermyriad.String(), "diff_bps", cmp.DiffBps.StringFixed(2), "tolerance_bps", tol.MaxDiffBps)
		case !cmp.Compared:
			c.log.Warn("rates not compared", "kind", k.kind, "reason", cmp.Reason)
		}
	}
	return out, alarms, errors.Join(errs...)
}
