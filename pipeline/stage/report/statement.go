package report

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"

	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/reconcile"
	rep "github.com/nodeshare/nodeshare/pipeline/report"
	"github.com/nodeshare/nodeshare/pipeline/statement"
	"github.com/nodeshare/nodeshare/schemas"
)

// StatementStore is what a sponsor's statement reads: only that
// sponsor's rows, through sort keys (one recipient's entitlements, intents
// and results by id, blocks by index), never the whole tables.
type StatementStore interface {
	EntitlementsOf(ctx context.Context, dao string, recipients []string, from, to string) ([]schemas.Entitlement, error)
	IntentsByID(ctx context.Context, ids []string) ([]schemas.PayoutIntent, error)
	ResultsByID(ctx context.Context, ids []string) (map[string]schemas.PayoutResult, error)
	BlocksAt(ctx context.Context, indexes []uint64) ([]schemas.LedgerBlock, error)
	PoolPeriods(ctx context.Context, dao, period string) ([]schemas.PoolPeriod, error)
	SpotRates(ctx context.Context) ([]schemas.Rate, error)
	FiatPrices(ctx context.Context, currency string) ([]schemas.FiatPrice, error)
}

// Statement builds the statement of account (an account identifier, 64
// hex; aliases are the other forms the account is paid under, such as
// its ICRC-1 text) over the reward periods within [from, to] (days; ""
// is open), unsigned. Each transfer's block is the one its result
// records, and it must carry the transfer's memo (otherwise the line has
// no block and says why).
func Statement(ctx context.Context, store StatementStore, cfg Config, account string, aliases []string, from, to string) (statement.Statement, error) {
	recipients := append([]string{account}, aliases...)
	ents, err := store.EntitlementsOf(ctx, cfg.DAO, recipients, from, to)
	if err != nil {
		return statement.Statement{}, err
	}
	byPeriod := map[string][]schemas.Entitlement{}
	var ids []string
	for _, e := range ents {
		byPeriod[e.Period] = append(byPeriod[e.Period], e)
		id := rules.IntentID(e.DAO, e.Period, e.PoolID, e.Role, e.Recipient)
		ids = append(ids, hex.EncodeToString(id[:]))
	}
	intents, results := []schemas.PayoutIntent{}, map[string]schemas.PayoutResult{}
	if len(ids) > 0 {
		if intents, err = store.IntentsByID(ctx, ids); err != nil {
			return statement.Statement{}, err
		}
		if results, err = store.ResultsByID(ctx, ids); err != nil {
			return statement.Statement{}, err
		}
	}
	var indexes []uint64
	for _, r := range results {
		if r.Status == schemas.PayoutPaid {
			indexes = append(indexes, r.BlockIndex)
		}
	}
	blocks := map[uint64]schemas.LedgerBlock{}
	if len(indexes) > 0 {
		bs, err := store.BlocksAt(ctx, indexes)
		if err != nil {
			return statement.Statement{}, err
		}
		for _, b := range bs {
			blocks[b.Index] = b
		}
	}
	intentsOf := map[string][]schemas.PayoutIntent{}
	for _, in := range intents {
		intentsOf[in.Period] = append(intentsOf[in.Period], in)
	}
	periods := make([]string, 0, len(byPeriod))
	for p := range byPeriod {
		periods = append(periods, p)
	}
	sort.Strings(periods)
	var inputs []rep.PeriodInput
	for _, p := range periods {
		pools, err := store.PoolPeriods(ctx, cfg.DAO, p)
		if err != nil {
			return statement.Statement{}, err
		}
		in := rep.PeriodInput{Manifest: schemas.PayoutManifest{DAO: cfg.DAO, Period: p}, Intents: intentsOf[p], Results: results,
			Entitlements: byPeriod[p], Pools: pools}
		for _, it := range intentsOf[p] {
			m := reconcile.Match{Intent: it}
			if r, ok := results[it.IntentID]; ok && r.Status == schemas.PayoutPaid {
				if b, ok := blocks[r.BlockIndex]; ok && reconcile.MemoKey(b) == reconcile.IntentMemoKey(it) {
					m.Block = &b
				}
			}
			in.Recon.Matches = append(in.Recon.Matches, m)
		}
		inputs = append(inputs, in)
	}
	rates, err := store.SpotRates(ctx)
	if err != nil {
		return statement.Statement{}, err
	}
	var prices []schemas.FiatPrice
	if cfg.Currency != "" {
		if prices, err = store.FiatPrices(ctx, cfg.Currency); err != nil {
			return statement.Statement{}, err
		}
	}
	r, err := rep.Build(cfg.DAO, inputs, rep.Prices{Rates: rates, Fiat: prices, Currency: cfg.Currency}, cfg.RecipientID)
	if err != nil {
		return statement.Statement{}, fmt.Errorf("statement of %s: %w", account, err)
	}
	return statement.FromReport(r, account, from, to), nil
}
