// Package report is the stage of finance's report and reconciliation
// (`nodeshare report`, `nodeshare reconcile`, and the report every payout
// run writes): it reads a DAO's manifests and their evidence through its
// Store port, the paying accounts' balances through its Ledger port, runs
// the pure reconciliation (pipeline/reconcile) and report
// (pipeline/report), and stores each reconciliation. It never moves money
// and never imports a connector: cmd/nodeshare fills the ports with
// connectors/clickhouse and connectors/ic (docs/finance.md).
package report

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/reconcile"
	rep "github.com/nodeshare/nodeshare/pipeline/report"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// Store is what the stage reads (everything as the sink stored it) and
// where it keeps the reconciliations.
type Store interface {
	Manifests(ctx context.Context, dao string) ([]schemas.PayoutManifest, error)
	Intents(ctx context.Context, dao, period string) ([]schemas.PayoutIntent, error)
	Results(ctx context.Context, dao, period string) (map[string]schemas.PayoutResult, error)
	Attempts(ctx context.Context, dao, period string) (map[string][]schemas.PayoutAttempt, error)
	Entitlements(ctx context.Context, dao, period string) ([]schemas.Entitlement, error)
	PoolPeriods(ctx context.Context, dao, period string) ([]schemas.PoolPeriod, error)
	PoolTransfers(ctx context.Context, dao, pool string) ([]schemas.PoolTransfer, error)
	// AccountBlocks are the verified ledger blocks from or to an account
	// (64 hex) the connector published, in index order; LedgerCursor how
	// far it has read the ledger.
	AccountBlocks(ctx context.Context, accountID string) ([]schemas.LedgerBlock, error)
	LedgerCursor(ctx context.Context) (uint64, error)
	SpotRates(ctx context.Context) ([]schemas.Rate, error)
	FiatPrices(ctx context.Context, currency string) ([]schemas.FiatPrice, error)
	SaveReconciliation(ctx context.Context, r reconcile.Result, manifestSHA256 string, checkedAt time.Time) error
}

// Ledger is the ledger's view of an account now.
type Ledger interface {
	// Balance is icrc1_balance_of of an account given as ICRC-1 text.
	Balance(ctx context.Context, icrc1Text string) (uint64, error)
	// ChainLength is the number of blocks the ledger holds now.
	ChainLength(ctx context.Context) (uint64, error)
}

// Accounts names the accounts of the DAO's treasury in both forms: the
// default account (rewards) and a pool's deposit or bond account
// (lifecycle manifests).
type Accounts func(pool, source string) (rep.Account, error)

// Config is one report's scope.
type Config struct {
	DAO string
	// Periods, when set, are the only periods reported; From and To (when
	// not zero) keep the manifests planned in [From, To).
	Periods  []string
	From, To time.Time
	Currency string
	Accounts Accounts
	// RecipientID maps an ICRC-1 recipient to its account identifier.
	RecipientID func(string) (string, error)
	// Ledger, when set, gives the balance leg (skipped when the connector
	// has not read the ledger to its end).
	Ledger Ledger
	Clock  stage.Clock
	// Store decides whether the reconciliations are stored.
	Save bool
}

// Outcome is a report and its reconciliations, with a note for each leg
// that could not be checked.
type Outcome struct {
	Report rep.Report
	Recons []reconcile.Result
	Notes  []string
}

// Unreconciled counts the manifests with a difference.
func (o Outcome) Unreconciled() int {
	n := 0
	for _, r := range o.Recons {
		if r.State == reconcile.Unreconciled {
			n++
		}
	}
	return n
}

// Run builds the report of cfg's scope, reconciling each manifest.
func Run(ctx context.Context, store Store, cfg Config) (Outcome, error) {
	var out Outcome
	if cfg.Clock == nil {
		cfg.Clock = stage.SystemClock{}
	}
	all, err := store.Manifests(ctx, cfg.DAO)
	if err != nil {
		return out, err
	}
	want := map[string]bool{}
	for _, p := range cfg.Periods {
		want[p] = true
	}
	// Each paying account's manifests by plan time: a manifest answers
	// for its account's transfers until the next plan.
	type src struct{ pool, source string }
	sourceOf := func(period string) src {
		if pool, source, _, ok := rules.ParseLifecyclePeriod(period); ok {
			return src{pool, source}
		}
		return src{}
	}
	bySource := map[src][]schemas.PayoutManifest{}
	for _, h := range all {
		bySource[sourceOf(h.Period)] = append(bySource[sourceOf(h.Period)], h)
	}
	for _, hs := range bySource {
		sort.Slice(hs, func(i, j int) bool { return hs[i].CreatedAtNanos < hs[j].CreatedAtNanos })
	}
	// Every memo of the DAO, by paying account: a block carrying one is
	// not an outside transfer.
	known := map[src]map[string]bool{}
	intentsOf := map[string][]schemas.PayoutIntent{}
	for _, h := range all {
		ins, err := store.Intents(ctx, cfg.DAO, h.Period)
		if err != nil {
			return out, err
		}
		intentsOf[h.Period] = ins
		s := sourceOf(h.Period)
		if known[s] == nil {
			known[s] = map[string]bool{}
		}
		for _, in := range ins {
			known[s][reconcile.IntentMemoKey(in)] = true
		}
	}
	balanceOK := false
	cursor, err := store.LedgerCursor(ctx)
	if err != nil {
		return out, err
	}
	if cfg.Ledger != nil {
		chain, err := cfg.Ledger.ChainLength(ctx)
		if err != nil {
			return out, fmt.Errorf("report: the ledger's chain length: %w", err)
		}
		if cursor >= chain {
			balanceOK = true
		} else {
			out.Notes = append(out.Notes, fmt.Sprintf("balances not checked: the connector has read the ledger to block %d, the chain has %d (run nodeshare connect)", cursor, chain))
		}
	}
	rates, err := store.SpotRates(ctx)
	if err != nil {
		return out, err
	}
	var prices []schemas.FiatPrice
	if cfg.Currency != "" {
		if prices, err = store.FiatPrices(ctx, cfg.Currency); err != nil {
			return out, err
		}
	}
	blocksOf := map[string][]schemas.LedgerBlock{}
	checkedAt := cfg.Clock.Now().UTC()
	var inputs []rep.PeriodInput
	for _, h := range all {
		if len(want) > 0 && !want[h.Period] {
			continue
		}
		planned := time.Unix(0, int64(h.CreatedAtNanos))
		if (!cfg.From.IsZero() && planned.Before(cfg.From)) || (!cfg.To.IsZero() && !planned.Before(cfg.To)) {
			continue
		}
		s := sourceOf(h.Period)
		acct, err := cfg.Accounts(s.pool, s.source)
		if err != nil {
			return out, err
		}
		blocks, ok := blocksOf[acct.ID]
		if !ok {
			if blocks, err = store.AccountBlocks(ctx, acct.ID); err != nil {
				return out, err
			}
			blocksOf[acct.ID] = blocks
		}
		in := rep.PeriodInput{Manifest: h, Intents: intentsOf[h.Period], Source: acct, Blocks: blocks}
		if in.Results, err = store.Results(ctx, cfg.DAO, h.Period); err != nil {
			return out, err
		}
		if in.Attempts, err = store.Attempts(ctx, cfg.DAO, h.Period); err != nil {
			return out, err
		}
		owed := map[string]reconcile.Owed{}
		if s.pool == "" {
			if in.Entitlements, err = store.Entitlements(ctx, cfg.DAO, h.Period); err != nil {
				return out, err
			}
			if in.Pools, err = store.PoolPeriods(ctx, cfg.DAO, h.Period); err != nil {
				return out, err
			}
			for _, e := range in.Entitlements {
				id := rules.IntentID(e.DAO, e.Period, e.PoolID, e.Role, e.Recipient)
				owed[hex.EncodeToString(id[:])] = reconcile.Owed{Recipient: e.Recipient, TransferE8s: e.TransferE8s, FeeE8s: e.FeeE8s}
			}
		} else {
			ts, err := store.PoolTransfers(ctx, cfg.DAO, s.pool)
			if err != nil {
				return out, err
			}
			bound := map[string]bool{}
			for k := range h.InputHashes {
				bound[k] = true
			}
			for _, t := range ts {
				if !bound[fmt.Sprintf("seq:%d", t.Seq)] {
					continue
				}
				in.Transfers = append(in.Transfers, t)
				id := rules.LifecycleIntentID(t.DAO, t.PoolID, t.Seq)
				owed[hex.EncodeToString(id[:])] = reconcile.Owed{Recipient: t.To, TransferE8s: t.TransferE8s, FeeE8s: t.FeeE8s}
			}
		}
		rin := reconcile.Input{DAO: cfg.DAO, Period: h.Period, Source: acct.ID, Intents: in.Intents, Results: in.Results, Owed: owed,
			Blocks: blocks, Known: known[s], WindowFrom: h.CreatedAtNanos, ReadTo: cursor}
		// The window runs to the account's next plan; the latest manifest
		// of an account also answers for its balance.
		hs := bySource[s]
		for i, x := range hs {
			if x.Period != h.Period {
				continue
			}
			if i+1 < len(hs) {
				rin.WindowTo = hs[i+1].CreatedAtNanos
			} else if balanceOK {
				bal, err := cfg.Ledger.Balance(ctx, acct.ICRC1)
				if err != nil {
					return out, fmt.Errorf("report: the balance of %s: %w", acct.ICRC1, err)
				}
				sum, err := reconcile.AccountBalance(acct.ID, blocks)
				if err != nil {
					out.Notes = append(out.Notes, fmt.Sprintf("balance of %s not checked: %v", acct.ICRC1, err))
				} else {
					rin.Balance = &reconcile.Balance{LedgerE8s: bal, BlocksE8s: sum}
				}
			}
		}
		in.Recon = reconcile.Reconcile(rin, cfg.RecipientID)
		if cfg.Save {
			if err := store.SaveReconciliation(ctx, in.Recon, h.SHA256, checkedAt); err != nil {
				return out, err
			}
		}
		out.Recons = append(out.Recons, in.Recon)
		inputs = append(inputs, in)
	}
	out.Report, err = rep.Build(cfg.DAO, inputs, rep.Prices{Rates: rates, Fiat: prices, Currency: cfg.Currency}, cfg.RecipientID)
	return out, err
}
