package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
	"github.com/nodeshare/nodeshare/schemas"
)

// Connector polls the sources and publishes every new fact once.
type Connector struct {
	cfg   Config
	p     Ports
	log   *slog.Logger
	clock stage.Clock
	// want is the NRC provider filter; empty keeps every provider.
	want map[string]bool
	// newestReward is the newest Governance reward timestamp published or
	// seen; 0 before the first successful poll. polled says the history
	// has been paged once: later polls only ask for the most recent event.
	newestReward uint64
	polled       bool
	// newestPrice is the newest fiat price timestamp of the Prices port's
	// series published or seen; pricesLoaded says it was read from the
	// topic (prices.go).
	newestPrice  uint64
	pricesLoaded bool
}

// Stats is what one poll did.
type Stats struct {
	schemas.PublishStats
	// NRCDaysQueried are the days asked of the NRC, NRCDaysMissing those it
	// had no results for.
	NRCDaysQueried, NRCDaysMissing int
	// Alarms are the source mismatches found.
	Alarms int
	// PoolFacts are the proposal and node facts found for the pools.
	PoolFacts int
	// LedgerBlocksRead are the blocks read from the ledger's cursor to its
	// tip, LedgerBlocksPublished those of the pools' accounts (published
	// or already present); LedgerNextIndex is the cursor after the poll.
	LedgerBlocksRead, LedgerBlocksPublished int
	LedgerNextIndex                         uint64
	// Prices are the fiat prices read from the price source (published
	// or already present).
	Prices int
}

// New validates cfg and checks the required ports.
func New(cfg Config, p Ports) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("connect: config: %w", err)
	}
	if p.Governance == nil || p.CMC == nil || p.Log == nil {
		return nil, errors.New("connect: the Governance, CMC and Log ports are required")
	}
	c := &Connector{cfg: cfg, p: p, log: cfg.logger(), clock: p.Clock, want: map[string]bool{}}
	if c.clock == nil {
		c.clock = stage.SystemClock{}
	}
	for _, np := range cfg.NRCProviders {
		c.want[np] = true
	}
	return c, nil
}

// Run polls once (Config.Once, returning the poll's error) or on every
// Interval until ctx ends (returning nil). A failed poll is logged and the
// next tick polls again; the facts of the sources that answered are
// published anyway.
func (c *Connector) Run(ctx context.Context) error {
	for {
		st, err := c.Poll(ctx)
		lvl := slog.LevelInfo
		attrs := []any{"published", st.Published, "already_present", st.Present, "conflicts", st.Conflicts,
			"nrc_days_queried", st.NRCDaysQueried, "nrc_days_missing", st.NRCDaysMissing, "alarms", st.Alarms,
			"pool_facts", st.PoolFacts, "ledger_blocks_read", st.LedgerBlocksRead, "ledger_blocks_published", st.LedgerBlocksPublished, "ledger_next_index", st.LedgerNextIndex, "prices", st.Prices}
		if err != nil {
			lvl = slog.LevelError
			attrs = append(attrs, "error", err.Error())
		}
		c.log.Log(ctx, lvl, "poll done", attrs...)
		if c.cfg.Once {
			return err
		}
		t := time.NewTimer(c.cfg.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Poll reads every source once and publishes the new facts. A failing
// source does not stop the others: the facts that were read are published
// and the errors are joined. Only a poll whose rewards were read and
// published moves the resume point; otherwise the next poll pages the
// history again. The same holds for the fiat prices' newest point.
func (c *Connector) Poll(ctx context.Context) (Stats, error) {
	var st Stats
	var errs []error
	var facts []schemas.Fact
	fetched := c.clock.Now().UTC().Format(time.RFC3339Nano)

	rewards, rewardsErr := c.pollRewards(ctx)
	errs = append(errs, rewardsErr)
	for _, m := range rewards {
		fs, err := c.rewardFacts(m, fetched)
		facts = append(facts, fs...)
		errs = append(errs, err)
	}

	spot, avg, fs, err := c.pollCMC(ctx, fetched)
	facts = append(facts, fs...)
	errs = append(errs, err)

	if c.p.Dashboard != nil {
		fs, alarms, err := c.pollDashboard(ctx, spot, avg, fetched)
		facts = append(facts, fs...)
		st.Alarms = alarms
		errs = append(errs, err)
	}

	var days []schemas.NodeRewardsDay
	if c.p.NRC != nil {
		fs, answered, queried, missing, err := c.pollNRC(ctx, rewards, fetched)
		facts = append(facts, fs...)
		days = answered
		if days == nil {
			days = []schemas.NodeRewardsDay{} // polled, nothing answered
		}
		st.NRCDaysQueried, st.NRCDaysMissing = queried, missing
		errs = append(errs, err)
	}

	if c.p.Proposals != nil {
		fs, err := c.pollPools(ctx, days, fetched)
		facts = append(facts, fs...)
		st.PoolFacts = len(fs)
		errs = append(errs, err)
	}

	var newestPrice uint64
	if c.p.Prices != nil {
		fs, newest, err := c.pollPrices(ctx, fetched)
		facts = append(facts, fs...)
		st.Prices = len(fs)
		newestPrice = newest
		errs = append(errs, err)
	}

	ps, err := c.p.Log.PublishOnce(ctx, facts)
	st.PublishStats = ps
	errs = append(errs, err)
	if pricesPublished(err) {
		c.newestPrice = max(c.newestPrice, newestPrice)
	}
	if err == nil && rewardsErr == nil {
		for _, m := range rewards {
			c.newestReward = max(c.newestReward, m.TimestampSeconds)
		}
		c.polled = true
	}

	if c.p.Ledger != nil {
		ls, err := c.pollLedger(ctx, fetched)
		st.Published += ls.Published
		st.Present += ls.Present
		st.Conflicts += ls.Conflicts
		st.LedgerBlocksRead, st.LedgerBlocksPublished, st.LedgerNextIndex = ls.read, ls.matched, ls.next
		errs = append(errs, err)
	}
	return st, errors.Join(errs...)
}

// call runs f with a per-call timeout (Config.CallTimeout) through the one
// retry policy: a failure retry.Classify calls transient, or the call's
// own timeout, is tried again with exponential backoff and jitter, up to
// Config.Attempts tries. The error names the call and the tries.
func (c *Connector) call(ctx context.Context, what string, f func(context.Context) error) error {
	attempt := 0
	err := retry.Do(ctx, retry.Policy{
		Tries:   c.cfg.Attempts,
		Initial: c.cfg.retryBackoff(),
		Max:     30 * time.Second,
		OnRetry: func(err error, try int, wait time.Duration) {
			c.log.Warn("transient failure, retrying", "call", what, "attempt", try, "wait", wait.String(), "error", err.Error())
		},
	}, func(ctx context.Context) error {
		attempt++
		cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
		defer cancel()
		err := f(cctx)
		if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
			// This call's own timeout, not the caller's: another try may
			// be faster.
			return retry.MarkTransient(err)
		}
		return err
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w (stopped: %v)", what, err, ctx.Err())
	}
	return fmt.Errorf("%s: %w (attempt %d of %d)", what, err, attempt, c.cfg.Attempts)
}

// withFetchTime is a source's provenance stamped with the poll's time.
func withFetchTime(p schemas.Provenance, fetched string) schemas.Provenance {
	p.FetchTime = fetched
	return p
}
