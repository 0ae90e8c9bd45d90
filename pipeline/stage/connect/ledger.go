package connect

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// The pools' ledger blocks. Each poll reads the ICP ledger from a cursor
// up to the certified tip, publishes the transfer blocks to or from a
// deposit or bond account of a pool with terms on dao.pools.v1, and moves
// the cursor past every block read, the pools' or not
// (docs/connectors.md "Ledger blocks and the cursor").
//
// The cursor is durable on ic.ledger-blocks.v1 itself: after the blocks of
// a window are acknowledged, a ledger_cursor record under
// <ledger>/cursor/<next index> says that every block below next index was
// scanned. The cursor of a poll is the highest next index of those
// records; before the first one, Config.LedgerSinceBlock (or the chain's
// length). So:
//   - never twice: a block is published once per key (stage.Publisher);
//     a window read again after a crash finds its blocks present;
//   - never skipped: a cursor record is written only after every block
//     below it was acknowledged, in a publish of its own, so a crash or a
//     failed publish leaves the cursor before the window and the window
//     is read again;
//   - nothing unproven: the blocks come from a read that proved them
//     against the certified tip; a read that fails (a broken chain, a
//     certificate that does not verify, a gap) publishes nothing and
//     moves nothing.
//
// The cursor is not derived from the highest block on the topic: a block
// of a pool may be acknowledged while a lower one of the same window is
// not (a batch split across produce requests), and the blocks of no pool
// leave no block record behind.

// The cursor records (schemas.TypeLedgerCursor, schemas.LedgerCursor,
// schemas.LedgerCursorKey), named here as the stage uses them.
const TypeLedgerCursor = schemas.TypeLedgerCursor

// LedgerCursor is schemas.LedgerCursor.
type LedgerCursor = schemas.LedgerCursor

// LedgerCursorKey is schemas.LedgerCursorKey.
func LedgerCursorKey(ledger string, nextIndex uint64) string {
	return schemas.LedgerCursorKey(ledger, nextIndex)
}

// ledgerStats is what one ledger poll did.
type ledgerStats struct {
	schemas.PublishStats
	read, matched int
	next          uint64
}

// pollLedger reads the blocks from the cursor to the tip and publishes the
// pools' blocks, window by window, each window followed by its cursor
// record. On an error the windows already published stay published and
// the cursor stays after the last of them.
func (c *Connector) pollLedger(ctx context.Context, fetched string) (ledgerStats, error) {
	var st ledgerStats
	ledger := c.p.Ledger.Canister()
	topic := c.cfg.topic(schemas.TopicLedgerBlocks)
	msgs, err := c.p.Log.ReadAll(ctx, topic)
	if err != nil {
		return st, fmt.Errorf("ledger: read %s: %w", topic, err)
	}
	start, found := ledgerCursor(msgs, ledger)
	if !found {
		if since := c.cfg.LedgerSinceBlock; since != nil {
			start = *since
		} else if err := c.call(ctx, "ledger query_blocks (chain length)", func(ctx context.Context) error {
			var err error
			start, err = c.p.Ledger.ChainLength(ctx)
			return err
		}); err != nil {
			return st, err
		}
	}
	st.next = start

	var blocks []schemas.LedgerBlock
	var chain uint64
	var prov schemas.Provenance
	if err := c.call(ctx, fmt.Sprintf("ledger query_blocks from %d", start), func(ctx context.Context) error {
		var err error
		blocks, chain, prov, err = c.p.Ledger.ReadBlocks(ctx, start, math.MaxUint64)
		return err
	}); err != nil {
		return st, err
	}
	st.read = len(blocks)
	if err := checkRun(ledger, start, chain, blocks); err != nil {
		return st, err
	}
	// The pools are read after the blocks: a pool created before a block
	// was made (and so before any deposit to it) is seen.
	pools, err := c.readPools(ctx)
	if err != nil {
		return st, err
	}
	prov = withFetchTime(prov, fetched)
	cursorProv := schemas.Provenance{Source: "nodeshare", Canister: prov.Canister, Method: "connect ledger cursor (" + prov.Method + ")",
		CertTimeNanos: prov.CertTimeNanos, FetchTime: fetched}

	w := c.cfg.ledgerWindow()
	for i := 0; i < len(blocks); i += w {
		win := blocks[i:min(i+w, len(blocks))]
		var facts []schemas.Fact
		for _, b := range win {
			if !pools.holds(b) {
				continue
			}
			f, err := schemas.NewFact(topic, schemas.TypeLedgerBlock, schemas.LedgerBlockKey(ledger, b.Index), prov, b)
			if err != nil {
				return st, fmt.Errorf("ledger block %d: %w", b.Index, err)
			}
			facts = append(facts, f)
		}
		if err := c.publishOnce(ctx, &st.PublishStats, facts); err != nil {
			return st, fmt.Errorf("ledger blocks [%d, %d): %w (the cursor stays at %d)", win[0].Index, win[len(win)-1].Index+1, err, st.next)
		}
		st.matched += len(facts)
		next := win[len(win)-1].Index + 1
		if err := c.publishCursor(ctx, &st.PublishStats, topic, ledger, next, cursorProv); err != nil {
			return st, err
		}
		st.next = next
	}
	// Time passes for the pools once every block under this certificate is
	// published: the ticks of their deadlines and lock-up ends.
	if err := c.publishTicks(ctx, &st.PublishStats, pools, prov); err != nil {
		return st, err
	}
	if !found && len(blocks) == 0 {
		// The first poll found nothing to read: remember where reading
		// starts, or a restart would take the tip again and skip the
		// blocks made in between.
		if err := c.publishCursor(ctx, &st.PublishStats, topic, ledger, start, cursorProv); err != nil {
			return st, err
		}
	}
	return st, nil
}

// publishTicks publishes a tick (docs/pool-rules.md: "a tick lets time
// pass") for every timed rule of a pool with terms (its funding deadline,
// its lock-up end, each vote's close) that the ledger's certified time has
// passed by a second (a vote's close decides it: the entitlement processor
// waits for it before allocating a reward minted after it): the rules fire a timed rule due strictly before a fact, so the
// tick is due + 1 s. Without it a pool whose sponsors stop sending would
// never expire. The clock is the IC's: the certificate time of the read
// that proved the blocks just published, so a tick follows every block
// made before it. Each tick is keyed by its pool and time and published
// once.
func (c *Connector) publishTicks(ctx context.Context, st *schemas.PublishStats, pools poolsView, prov schemas.Provenance) error {
	if prov.CertTimeNanos == 0 || prov.CertTimeNanos > math.MaxInt64 {
		return nil
	}
	now := time.Unix(0, int64(prov.CertTimeNanos))
	tickProv := schemas.Provenance{Source: "nodeshare", Canister: prov.Canister, Method: "connect pool clock (certified time of " + prov.Method + ")",
		CertTimeNanos: prov.CertTimeNanos, FetchTime: prov.FetchTime}
	known, err := c.readPoolFacts(ctx)
	if err != nil {
		return fmt.Errorf("pool ticks: %w", err)
	}
	var facts []schemas.Fact
	for _, p := range pools.pools {
		dues := []string{p.Terms.FundingDeadline, p.Terms.LockupUntil}
		if pf := known[schemas.PoolKey(p.DAO, p.PoolID)]; pf != nil {
			dues = append(dues, pf.voteCloses...)
		}
		for _, due := range dues {
			d, err := time.Parse(time.RFC3339Nano, due)
			if err != nil {
				continue // the processor dead-letters the pool record
			}
			at := d.Add(time.Second)
			if at.After(now) {
				continue
			}
			f, err := c.poolFact(schemas.PoolFact{DAO: p.DAO, PoolID: p.PoolID, Type: factTick, At: at.UTC().Format(time.RFC3339Nano)}, tickProv)
			if err != nil {
				return err
			}
			facts = append(facts, f)
		}
	}
	if err := c.publishOnce(ctx, st, facts); err != nil {
		return fmt.Errorf("pool ticks: %w", err)
	}
	return nil
}

// checkRun checks what the Ledger port returned against what was asked:
// every block from start to the end of the certified chain, in order, of
// this ledger.
func checkRun(ledger string, start, chain uint64, blocks []schemas.LedgerBlock) error {
	if chain < start {
		return fmt.Errorf("ledger %s: the certified chain has %d blocks, but the cursor is at %d: another ledger, or a replica behind? nothing published", ledger, chain, start)
	}
	if uint64(len(blocks)) != chain-start {
		return fmt.Errorf("ledger %s: read %d blocks from %d, but the certified chain ends at %d: nothing published", ledger, len(blocks), start, chain)
	}
	for i, b := range blocks {
		if b.Index != start+uint64(i) || b.Ledger != ledger {
			return fmt.Errorf("ledger %s: block %d of the run from %d is %s/%d: nothing published", ledger, i, start, b.Ledger, b.Index)
		}
	}
	return nil
}

// publishCursor publishes the cursor record <ledger>/cursor/<next>.
func (c *Connector) publishCursor(ctx context.Context, st *schemas.PublishStats, topic, ledger string, next uint64, prov schemas.Provenance) error {
	f, err := schemas.NewFact(topic, TypeLedgerCursor, LedgerCursorKey(ledger, next), prov, LedgerCursor{Ledger: ledger, NextIndex: next})
	if err != nil {
		return err
	}
	if err := c.publishOnce(ctx, st, []schemas.Fact{f}); err != nil {
		return fmt.Errorf("ledger cursor %d: %w", next, err)
	}
	return nil
}

// publishOnce publishes facts (none: nothing to do) and adds to st.
func (c *Connector) publishOnce(ctx context.Context, st *schemas.PublishStats, facts []schemas.Fact) error {
	if len(facts) == 0 {
		return nil
	}
	ps, err := c.p.Log.PublishOnce(ctx, facts)
	st.Published += ps.Published
	st.Present += ps.Present
	st.Conflicts += ps.Conflicts
	return err
}

// ledgerCursor is the highest next index of ledger's cursor records; found
// is false when there is none.
func ledgerCursor(msgs []schemas.Message, ledger string) (next uint64, found bool) {
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil || env.Type != TypeLedgerCursor {
			continue
		}
		var cur LedgerCursor
		if env.DecodePayload(TypeLedgerCursor, &cur) != nil || cur.Ledger != ledger {
			continue
		}
		if !found || cur.NextIndex > next {
			next, found = cur.NextIndex, true
		}
	}
	return next, found
}
