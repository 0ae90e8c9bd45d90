package pools

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/schemas"
)

// Submitted says Propose published the submission.
const Submitted Outcome = "submitted"

var proposeProvenance = schemas.Provenance{Source: "dao-admin", Method: "nodeshare pools propose"}

// Propose publishes the DAO's own lifecycle fact: it submitted NNS proposal
// proposalID for pool dao/poolID at at (RFC 3339; empty: now). The fact is
// proposal_submitted on dao.pool-facts.v1 under schemas.PoolFactKey; the
// connector then watches the proposal and publishes its decision
// (docs/connectors.md). It checks before it writes:
//   - the pool exists with terms;
//   - the pool has no other submission: a different proposal id, or the
//     same one at another time, is refused (the lifecycle names one
//     proposal per pool, and a fact never changes). The same submission
//     again, or the same proposal without at, is Unchanged;
//   - the lifecycle takes it: the pool's deposits and bond deposits on
//     ic.ledger-blocks.v1 up to at, replayed through the rules (a deposit
//     the rules refuse is skipped, as the processor dead-letters it), must
//     leave the pool funded at at. A submission the lifecycle would
//     dead-letter could not be made again, so it is refused here.
func Propose(ctx context.Context, log Log, dao, poolID string, proposalID uint64, at string, now time.Time) (schemas.PoolFact, Outcome, error) {
	where := fmt.Sprintf("pool %s/%s", dao, poolID)
	p, ok, err := Show(ctx, log, dao, poolID)
	if err != nil {
		return schemas.PoolFact{}, "", err
	}
	if !ok || p.Terms == nil {
		return schemas.PoolFact{}, "", fmt.Errorf("%s: no pool with terms on %s (create it with nodeshare pools create)", where, schemas.TopicPools)
	}
	var when time.Time
	if at != "" {
		if when, err = parseFactTime(at); err != nil {
			return schemas.PoolFact{}, "", fmt.Errorf("--at: %w", err)
		}
	}

	prev, err := submissions(ctx, log, dao, poolID)
	if err != nil {
		return schemas.PoolFact{}, "", err
	}
	for _, s := range prev {
		sameID := *s.ProposalID == proposalID
		st, _ := time.Parse(time.RFC3339Nano, s.At)
		switch {
		case sameID && (at == "" || st.Equal(when)):
			return s, Unchanged, nil
		case sameID:
			return schemas.PoolFact{}, "", fmt.Errorf("%s: proposal %d was already submitted at %s, not %s: a fact does not change", where, proposalID, s.At, at)
		default:
			return schemas.PoolFact{}, "", fmt.Errorf("%s: proposal %d was already submitted for it at %s; a second submission (proposal %d) is refused: the lifecycle names one proposal per pool", where, *s.ProposalID, s.At, proposalID)
		}
	}

	if at == "" {
		when = now.UTC().Truncate(time.Second)
	}
	f := schemas.PoolFact{DAO: dao, PoolID: poolID, Type: string(lifecycle.FactProposalSubmitted), At: when.UTC().Format(time.RFC3339Nano), ProposalID: &proposalID}
	if err := checkFunded(ctx, log, p.Pool, f); err != nil {
		return schemas.PoolFact{}, "", fmt.Errorf("%s: %w", where, err)
	}
	fact, err := schemas.NewFact(schemas.TopicPoolFacts, schemas.TypePoolFact, schemas.PoolFactKey(f), proposeProvenance, f)
	if err != nil {
		return schemas.PoolFact{}, "", err
	}
	if _, err := log.PublishOnce(ctx, []schemas.Fact{fact}); err != nil {
		return schemas.PoolFact{}, "", err
	}
	return f, Submitted, nil
}

// parseFactTime reads an RFC 3339 time as the lifecycle does (and as Go
// does, so that the connector can compare it).
func parseFactTime(s string) (time.Time, error) {
	if _, err := lifecycle.ParseTime(s); err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-03-01T12:00:00Z): %w", s, err)
	}
	return t, nil
}

// submissions are the proposal_submitted facts of the pool on
// dao.pool-facts.v1.
func submissions(ctx context.Context, log Log, dao, poolID string) ([]schemas.PoolFact, error) {
	facts, err := Facts(ctx, log, dao, poolID)
	if err != nil {
		return nil, err
	}
	var out []schemas.PoolFact
	for _, f := range facts {
		if f.Type == string(lifecycle.FactProposalSubmitted) && f.ProposalID != nil {
			out = append(out, f)
		}
	}
	return out, nil
}

// FactReader reads a topic of the event log whole (Log, and the votes
// stage's log).
type FactReader interface {
	ReadAll(ctx context.Context, topic string) ([]schemas.Message, error)
}

// Facts are the facts of dao's pool poolID on dao.pool-facts.v1, in log
// order (a record that does not decode is the processor's to
// dead-letter, and is left out here).
func Facts(ctx context.Context, log FactReader, dao, poolID string) ([]schemas.PoolFact, error) {
	msgs, err := log.ReadAll(ctx, schemas.TopicPoolFacts)
	if err != nil {
		return nil, err
	}
	var out []schemas.PoolFact
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil || env.Type != schemas.TypePoolFact {
			continue
		}
		var f schemas.PoolFact
		if env.DecodePayload(schemas.TypePoolFact, &f) != nil || f.DAO != dao || f.PoolID != poolID {
			continue
		}
		out = append(out, f)
	}
	return out, nil
}

// checkFunded replays the pool's deposits on ic.ledger-blocks.v1 up to the
// submission's at, then the submission, through the lifecycle rules.
func checkFunded(ctx context.Context, log Log, p schemas.Pool, sub schemas.PoolFact) error {
	terms, err := lifecycle.TermsOf(p)
	if err != nil {
		return err
	}
	pool, err := lifecycle.New(terms)
	if err != nil {
		return err
	}
	at, err := lifecycle.ParseTime(sub.At)
	if err != nil {
		return err
	}
	deposits, err := depositFacts(ctx, log, p)
	if err != nil {
		return err
	}
	for _, d := range deposits {
		if d.At.Compare(at) > 0 {
			break
		}
		if _, err := pool.Apply(d); err != nil && !errors.Is(err, lifecycle.ErrInvalidInput) {
			return err
		}
	}
	if _, err := pool.Apply(lifecycle.Fact{Type: lifecycle.FactProposalSubmitted, At: at, ProposalID: *sub.ProposalID}); err != nil {
		return fmt.Errorf("the pool is %s at %s by its deposits on %s, and the lifecycle takes proposal_submitted only in state funded (%w): wait until the connector has published the deposit that funds it, or give the submission's --at",
			pool.State(), sub.At, schemas.TopicLedgerBlocks, err)
	}
	return nil
}

// depositFacts are the pool's deposits and bond deposits on
// ic.ledger-blocks.v1 (transfers to its deposit or bond account), as
// lifecycle facts in block order, which is time order.
func depositFacts(ctx context.Context, log Log, p schemas.Pool) ([]lifecycle.Fact, error) {
	all, err := poolBlocks(ctx, log, p)
	if err != nil {
		return nil, err
	}
	var blocks []schemas.LedgerBlock
	seen := map[uint64]bool{}
	for _, b := range all {
		if b.Op != "transfer" || seen[b.Index] || (b.To != p.Terms.DepositAccount && b.To != p.Terms.BondAccount) {
			continue
		}
		seen[b.Index] = true
		blocks = append(blocks, b)
	}
	slices.SortFunc(blocks, func(a, b schemas.LedgerBlock) int { return cmp.Compare(a.Index, b.Index) })
	var out []lifecycle.Fact
	for _, b := range blocks {
		at, err := lifecycle.ParseTime(b.Time)
		if err != nil || b.AmountE8s > uint64(1<<63-1) {
			continue // the processor dead-letters it too
		}
		out = append(out, lifecycle.Fact{Type: lifecycle.FactDeposit, At: at, BlockIndex: b.Index, To: b.To, From: b.From, AmountE8s: money.E8s(b.AmountE8s)})
	}
	return out, nil
}
