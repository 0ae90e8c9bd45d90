package pools

import (
	"context"
	"fmt"
	"reflect"
	"sort"

	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// Log is the stage's port to the event log.
type Log interface {
	stage.Publisher
	Publish(ctx context.Context, recs ...schemas.Record) error
	ReadAll(ctx context.Context, topic string) ([]schemas.Message, error)
}

// Pool is a pool as show and list print it: its record and its accounts
// in both written forms.
type Pool struct {
	schemas.Pool
	Deposit schemas.Account `json:"deposit_account"`
	Bond    schemas.Account `json:"bond_account"`
}

// Outcome says what Create did.
type Outcome string

const (
	Created   Outcome = "created"   // a new pool, terms version 1
	Unchanged Outcome = "unchanged" // the same terms were already there
	Changed   Outcome = "changed"   // new terms, version + 1 (no deposit accepted yet)
)

var adminProvenance = schemas.Provenance{Source: "dao-admin", Method: "nodeshare pools create"}

// Create checks p (its allocation settings as the processor does, its
// terms as the lifecycle rules do), derives its deposit and bond accounts
// under treasury, and publishes it on dao.pools.v1 unless the same terms
// are there already. A pool whose terms differ from the stored ones is
// published as a new version, unless it has accepted a deposit: then it is
// refused. The caller's terms_version, treasury, deposit_account and
// bond_account are ignored (they are derived).
func Create(ctx context.Context, log Log, p schemas.Pool, treasury string) (Pool, Outcome, error) {
	if p.Terms == nil {
		return Pool{}, "", fmt.Errorf("pool %s: terms are required (docs/pool-rules.md \"Terms of a pool\")", p.PoolID)
	}
	out, err := withAccounts(p, treasury)
	if err != nil {
		return Pool{}, "", err
	}
	if err := validate(out.Pool); err != nil {
		return Pool{}, "", err
	}
	stored, ok, err := Show(ctx, log, p.DAO, p.PoolID)
	if err != nil {
		return Pool{}, "", err
	}
	outcome := Created
	if ok {
		prev := *stored.Terms
		next := *out.Terms
		next.TermsVersion = prev.TermsVersion
		if reflect.DeepEqual(stored.Pool, withTerms(out.Pool, next)) {
			return stored, Unchanged, nil
		}
		// Terms change only while no block moves ICP to or from the pool's
		// accounts: the rules fix them at the first accepted deposit, and
		// this is stricter (a refunded or bond deposit fixes them too), so
		// that no transfer the lifecycle processor has published can ever be
		// recomputed under other terms.
		blocks, err := poolBlocks(ctx, log, stored.Pool)
		if err != nil {
			return Pool{}, "", err
		}
		if len(blocks) > 0 {
			return Pool{}, "", fmt.Errorf("pool %s/%s: its terms are fixed: %d ledger block(s) already move ICP to or from its accounts (terms version %d stays)", p.DAO, p.PoolID, len(blocks), prev.TermsVersion)
		}
		out.Terms.TermsVersion = prev.TermsVersion + 1
		outcome = Changed
	}
	f, err := schemas.NewFact(schemas.TopicPools, schemas.TypePool, schemas.PoolKey(p.DAO, p.PoolID), adminProvenance, out.Pool)
	if err != nil {
		return Pool{}, "", err
	}
	if outcome == Created {
		_, err = log.PublishOnce(ctx, []schemas.Fact{f})
	} else {
		// A new version under the same key: the compacted topic keeps it.
		var b []byte
		if b, err = f.Envelope.Marshal(); err == nil {
			err = log.Publish(ctx, schemas.Record{Topic: f.Topic, Key: []byte(f.Key), Value: b})
		}
	}
	if err != nil {
		return Pool{}, "", err
	}
	return out, outcome, nil
}

func withTerms(p schemas.Pool, t schemas.PoolTerms) schemas.Pool {
	p.Terms = &t
	return p
}

// withAccounts fills the derived fields of p's terms.
func withAccounts(p schemas.Pool, treasury string) (Pool, error) {
	dep, err := schemas.AccountOf(treasury, schemas.DepositSubaccount(p.DAO, p.PoolID))
	if err != nil {
		return Pool{}, fmt.Errorf("treasury: %w", err)
	}
	bond, err := schemas.AccountOf(treasury, schemas.BondSubaccount(p.DAO, p.PoolID))
	if err != nil {
		return Pool{}, fmt.Errorf("treasury: %w", err)
	}
	t := *p.Terms
	t.TermsVersion, t.Treasury, t.DepositAccount, t.BondAccount = 1, treasury, dep.ID, bond.ID
	if t.Purchaser != "" {
		// The purchaser may be given as ICRC-1 text; the rules name
		// accounts by identifier.
		if id, err := schemas.AccountIDFromText(t.Purchaser); err == nil {
			t.Purchaser = id
		}
	}
	ids := map[string]string{}
	for a, id := range t.Identities {
		if hexID, err := schemas.AccountIDFromText(a); err == nil {
			a = hexID
		}
		ids[a] = id
	}
	if len(ids) > 0 {
		t.Identities = ids
	}
	return Pool{Pool: withTerms(p, t), Deposit: dep, Bond: bond}, nil
}

// validate checks p as the processor (allocation settings) and the
// lifecycle rules (terms) will: a pool the stream would refuse is refused
// here, naming the field and the value.
func validate(p schemas.Pool) error {
	if err := entitle.ValidatePool(p); err != nil {
		return err
	}
	_, err := lifecycle.TermsOf(p)
	return err
}

// poolBlocks are the blocks on ic.ledger-blocks.v1 that move ICP to or
// from the pool's deposit or bond account, in topic order.
func poolBlocks(ctx context.Context, log Log, p schemas.Pool) ([]schemas.LedgerBlock, error) {
	msgs, err := log.ReadAll(ctx, schemas.TopicLedgerBlocks)
	if err != nil {
		return nil, err
	}
	accounts := map[string]bool{p.Terms.DepositAccount: true, p.Terms.BondAccount: true}
	var out []schemas.LedgerBlock
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil || env.Type != schemas.TypeLedgerBlock {
			continue
		}
		var b schemas.LedgerBlock
		if env.DecodePayload(schemas.TypeLedgerBlock, &b) == nil && (accounts[b.To] || accounts[b.From]) {
			out = append(out, b)
		}
	}
	return out, nil
}

// Show is the latest record of pool dao/poolID with its accounts; ok is
// false when there is none.
func Show(ctx context.Context, log Log, dao, poolID string) (Pool, bool, error) {
	all, err := List(ctx, log, dao)
	if err != nil {
		return Pool{}, false, err
	}
	for _, p := range all {
		if p.PoolID == poolID {
			return p, true, nil
		}
	}
	return Pool{}, false, nil
}

// List is the latest record of every pool of dao (every DAO when dao is
// empty), sorted by DAO and pool id. Pools without terms (configured
// before crowdfunding) are listed without accounts.
func List(ctx context.Context, log Log, dao string) ([]Pool, error) {
	msgs, err := log.ReadAll(ctx, schemas.TopicPools)
	if err != nil {
		return nil, err
	}
	latest := map[string]schemas.Pool{}
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil {
			continue // dead-lettered by the processor
		}
		var p schemas.Pool
		if env.DecodePayload(schemas.TypePool, &p) != nil || (dao != "" && p.DAO != dao) {
			continue
		}
		latest[string(m.Key)] = p
	}
	out := make([]Pool, 0, len(latest))
	for _, p := range latest {
		v := Pool{Pool: p}
		if p.Terms != nil {
			v.Deposit, _ = schemas.AccountOf(p.Terms.Treasury, schemas.DepositSubaccount(p.DAO, p.PoolID))
			v.Bond, _ = schemas.AccountOf(p.Terms.Treasury, schemas.BondSubaccount(p.DAO, p.PoolID))
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].DAO != out[j].DAO {
			return out[i].DAO < out[j].DAO
		}
		return out[i].PoolID < out[j].PoolID
	})
	return out, nil
}
