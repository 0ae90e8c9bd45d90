package connect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// MaxPriceWindow is the longest range one price request asks for:
// CoinGecko answers hourly points for a range of up to 90 days and daily
// ones beyond, so a longer stretch is read in windows of 90 days, oldest
// first.
const MaxPriceWindow = 90 * 24 * time.Hour

// pollPrices reads ICP's fiat prices of the Prices port's series (its
// source and currency) since the newest one already on
// ext.icp-fiat-prices.v1, or for the last Config.PriceDays days when the
// topic holds none of the series. The newest price is read from the topic
// on a process's first poll and then kept: Poll moves it once the facts are
// published, so a failed publish reads the same window again (published
// once per key, that is harmless). A window that fails stops the reading:
// the windows after it are not asked, so the newest price never passes a
// gap. newest is the newest price of the facts returned (or the one known
// before, when none).
//
// The stage does not retry the port (it retries itself, honouring
// Retry-After); it bounds all its tries, as it does the dashboard's.
func (c *Connector) pollPrices(ctx context.Context, fetched string) (out []schemas.Fact, newest uint64, err error) {
	source, currency := c.p.Prices.Series()
	if !c.pricesLoaded {
		n, err := c.newestPriceOnTopic(ctx, source, currency)
		if err != nil {
			return nil, 0, fmt.Errorf("prices %s/%s: read the newest price on %s: %w", source, currency, schemas.TopicFiatPrices, err)
		}
		c.newestPrice, c.pricesLoaded = n, true
	}
	newest = c.newestPrice
	now := c.clock.Now().UTC().Truncate(time.Second)
	from := now.AddDate(0, 0, -c.cfg.priceDays())
	if newest > 0 {
		from = time.Unix(int64(newest)+1, 0).UTC()
	}
	for start := from; !start.After(now); {
		end := start.Add(MaxPriceWindow)
		if end.After(now) {
			end = now
		}
		what := fmt.Sprintf("prices %s/%s %s..%s", source, currency, start.Format(time.RFC3339), end.Format(time.RFC3339))
		cctx, cancel := context.WithTimeout(ctx, time.Duration(c.cfg.Attempts+1)*c.cfg.CallTimeout)
		pts, prov, err := c.p.Prices.Prices(cctx, start, end)
		cancel()
		if err != nil {
			return out, newest, fmt.Errorf("%s: %w", what, err)
		}
		fs, last, err := c.priceFacts(pts, source, currency, start, end, withFetchTime(prov, fetched))
		if err != nil {
			return out, newest, fmt.Errorf("%s: %w: nothing of this answer is published", what, err)
		}
		out = append(out, fs...)
		newest = max(newest, last)
		start = end.Add(time.Second)
	}
	return out, newest, nil
}

// priceFacts checks one answer of the port and makes its facts. Every
// price must be of the series asked for and valid, or the whole answer is
// refused; a price outside [start, end] (the source answered more than
// asked) is left out: it is before the newest price already published, or
// not yet due.
func (c *Connector) priceFacts(pts []schemas.FiatPrice, source, currency string, start, end time.Time, prov schemas.Provenance) ([]schemas.Fact, uint64, error) {
	var out []schemas.Fact
	var newest uint64
	lo, hi := uint64(start.Unix()), uint64(end.Unix())
	skipped := 0
	for i, p := range pts {
		if p.Source != source || p.Currency != currency {
			return nil, 0, fmt.Errorf("price %d is %s/%s, not the series %s/%s asked for", i, p.Source, p.Currency, source, currency)
		}
		if err := p.Validate(); err != nil {
			return nil, 0, fmt.Errorf("price %d: %w", i, err)
		}
		if p.TimestampSeconds < lo || p.TimestampSeconds > hi {
			skipped++
			continue
		}
		f, err := schemas.NewFact(c.cfg.topic(schemas.TopicFiatPrices), schemas.TypeFiatPrice,
			schemas.FiatPriceKey(p.Source, p.Currency, p.TimestampSeconds), prov, p)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, f)
		newest = max(newest, p.TimestampSeconds)
	}
	if skipped > 0 {
		c.log.Debug("prices outside the window asked for, left out", "source", source, "currency", currency, "skipped", skipped,
			"from_seconds", lo, "to_seconds", hi)
	}
	return out, newest, nil
}

// newestPriceOnTopic is the newest timestamp of a price of source and
// currency on ext.icp-fiat-prices.v1, 0 when there is none. Records that
// are not valid prices are skipped.
func (c *Connector) newestPriceOnTopic(ctx context.Context, source, currency string) (uint64, error) {
	msgs, err := c.p.Log.ReadAll(ctx, c.cfg.topic(schemas.TopicFiatPrices))
	if err != nil {
		return 0, err
	}
	var newest uint64
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil || env.Type != schemas.TypeFiatPrice {
			continue
		}
		p, err := schemas.DecodeFiatPrice(env)
		if err == nil && p.Source == source && p.Currency == currency {
			newest = max(newest, p.TimestampSeconds)
		}
	}
	return newest, nil
}

// pricesPublished reports whether a publish left every new price on its
// topic: it succeeded, or it only refused facts whose key holds other
// content (schemas.ConflictError: everything else was written).
func pricesPublished(err error) bool {
	var ce *schemas.ConflictError
	return err == nil || errors.As(err, &ce)
}
