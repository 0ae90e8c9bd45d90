package lifecycle

import (
	"errors"
	"fmt"
	"slices"

	rules "github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/schemas"
)

// run is one pool's lifecycle as the stage keeps it between batches: the
// rules' pool after the facts applied so far, those facts in order, and
// what of it is on the lifecycle topic. Its invariant: pool is
// rules.New(terms) after applied, in compareFacts order (every change
// either appends a later fact or replays from the terms).
type run struct {
	key, dao, id string
	record       schemas.PoolTerms // the terms as published (version, accounts)
	terms        rules.Terms

	pool      *rules.Pool
	applied   []*fact
	isApplied map[coord]bool
	rows      []rules.Transfer // every transfer so far, by seq

	// published are the transfers on the lifecycle topic, by seq; rows
	// [0, settled) are known to be among them as they are.
	published map[int]schemas.PoolTransfer
	settled   int
	// stateSHA is the content hash of the pool's latest state record, and
	// pos the input positions it reflects (HeaderHandled).
	stateSHA string
	pos      map[tp]int64
}

func newRun(dao, id string, record schemas.PoolTerms, terms rules.Terms) (*run, error) {
	pool, err := rules.New(terms)
	if err != nil {
		return nil, err // the terms were validated when read: cannot happen
	}
	return &run{key: schemas.PoolKey(dao, id), dao: dao, id: id, record: record, terms: terms, pool: pool,
		isApplied: map[coord]bool{}, published: map[int]schemas.PoolTransfer{}, pos: map[tp]int64{}}, nil
}

// refusal is a fact the rules refused, with their reason.
type refusal struct {
	f   *fact
	err error
}

// isInvariant reports an error of the rules that is not about the input:
// conservation or another invariant broke. The stage stops on it.
func isInvariant(err error) bool { return !errors.Is(err, rules.ErrInvalidInput) }

// replayed is a pool recomputed from its terms.
type replayed struct {
	pool    *rules.Pool
	rows    []rules.Transfer
	applied []*fact
	refused []refusal
}

// replay applies facts (in order) to a new pool of terms. A fact the rules
// refuse is left out, with its reason; an invariant failure is the error.
func replay(terms rules.Terms, facts []*fact) (replayed, error) {
	pool, err := rules.New(terms)
	if err != nil {
		return replayed{}, err
	}
	out := replayed{pool: pool, applied: make([]*fact, 0, len(facts))}
	for _, f := range facts {
		rows, err := pool.Apply(f.Fact)
		switch {
		case err == nil:
			out.rows = append(out.rows, rows...)
			out.applied = append(out.applied, f)
		case isInvariant(err):
			return replayed{}, err
		default:
			out.refused = append(out.refused, refusal{f, err})
		}
	}
	return out, nil
}

// adopt makes a replay the pool's state.
func (r *run) adopt(rp replayed) {
	r.pool, r.rows, r.applied = rp.pool, rp.rows, rp.applied
	r.isApplied = make(map[coord]bool, len(rp.applied))
	for _, f := range rp.applied {
		r.isApplied[f.src] = true
	}
	r.settled = 0 // rows may have moved: compare them all with the topic again
}

func (r *run) last() *fact {
	if len(r.applied) == 0 {
		return nil
	}
	return r.applied[len(r.applied)-1]
}

// advance applies the pool's new facts (neither applied nor dead-lettered
// before). Facts later than the last one applied are applied in order; one
// earlier than it arrived late and is put in its place in time if that
// changes no published transfer (insertLate). It returns the facts refused.
func (r *run) advance(facts []*fact) ([]refusal, error) {
	slices.SortFunc(facts, compareFacts)
	var refused []refusal
	last := r.last()
	var fresh []*fact
	for _, f := range facts {
		if last != nil && compareFacts(f, last) < 0 {
			reason, err := r.insertLate(f, last)
			if err != nil {
				return nil, err
			}
			if reason != nil {
				refused = append(refused, refusal{f, reason})
			}
			continue
		}
		fresh = append(fresh, f)
	}
	for _, f := range fresh {
		rows, err := r.pool.Apply(f.Fact)
		switch {
		case err == nil:
			r.rows = append(r.rows, rows...)
			r.applied = append(r.applied, f)
			r.isApplied[f.src] = true
		case isInvariant(err):
			return nil, fmt.Errorf("pool %s: %s: %w", r.key, f.what(), err)
		default:
			// Apply left the pool as it was (rules: atomic facts).
			refused = append(refused, refusal{f, err})
		}
	}
	return refused, nil
}

// insertLate puts f, which arrived after last although it is earlier in
// time, in its place among the applied facts, by replaying the pool.
// docs/pool-rules.md wants facts in time order, and the stream delivers
// them in arrival order: a block can reach the processor after a later
// proposal fact of its pool, or the reverse. Applied in its place, f makes
// the pool what the rules say for these facts; that is kept if every
// transfer already published stays as it is. Otherwise f is refused as out
// of order (a transfer never changes), and so is f if its place makes it,
// or a later fact, invalid. The reason returned is for the dead letter.
func (r *run) insertLate(f, last *fact) (reason, err error) {
	i, _ := slices.BinarySearchFunc(r.applied, f, compareFacts)
	cand := slices.Insert(slices.Clone(r.applied), i, f)
	rp, err := replay(r.terms, cand)
	if err != nil {
		return nil, fmt.Errorf("pool %s: %s: %w", r.key, f.what(), err)
	}
	late := fmt.Sprintf("out of order: at %q it is earlier than %s at %q, which the pool applied before it arrived", f.At.String(), last.what(), last.At.String())
	for _, x := range rp.refused {
		if x.f == f {
			return fmt.Errorf("%s; in its place in time: %w", late, x.err), nil
		}
		return fmt.Errorf("%s; in its place in time it would make %s at %q invalid (%v), so it is refused", late, x.f.what(), x.f.At.String(), x.err), nil
	}
	if seq, changed := r.changesPublished(rp.rows); changed {
		return fmt.Errorf("%s; in its place in time it would change transfer %d, already published (a transfer never changes), so it is refused", late, seq), nil
	}
	r.adopt(rp)
	return nil, nil
}

// retarget applies new terms of the pool: every fact applied so far is
// applied again under them (the latest terms of a pool win; `pools
// create` refuses a change once a deposit was accepted). A fact the new
// terms refuse is returned to be dead-lettered. A published transfer that
// would change is an error: the stage stops rather than contradict it.
func (r *run) retarget(record schemas.PoolTerms, terms rules.Terms) ([]refusal, error) {
	saved := r.terms
	r.terms = terms
	rp, err := replay(terms, r.applied)
	if err != nil {
		r.terms = saved
		return nil, fmt.Errorf("pool %s: terms version %d: %w", r.key, record.TermsVersion, err)
	}
	if seq, changed := r.changesPublished(rp.rows); changed {
		r.terms = saved
		return nil, r.conflict(seq, fmt.Sprintf("terms version %d compute it otherwise", record.TermsVersion))
	}
	r.record = record
	r.adopt(rp)
	return rp.refused, nil
}

// conflict is the error when transfer seq, already published, would come
// out otherwise (why says how): the stage stops rather than contradict it.
func (r *run) conflict(seq int, why string) error {
	return fmt.Errorf("pool %s: transfer %d, published under terms version %d, would change: %s; a transfer never changes (investigate: the terms of a pool must not change once it has moved money)",
		r.key, seq, r.published[seq].TermsVersion, why)
}

// changesPublished returns the first published transfer rows would
// change (or leave out).
func (r *run) changesPublished(rows []rules.Transfer) (int, bool) {
	first, changed := 0, false
	for seq, pub := range r.published {
		if (seq >= len(rows) || !sameTransfer(pub, r.transfer(rows[seq]))) && (!changed || seq < first) {
			first, changed = seq, true
		}
	}
	return first, changed
}

// transfer is the wire form of one of the pool's transfers.
func (r *run) transfer(t rules.Transfer) schemas.PoolTransfer {
	var reason *string
	if t.Reason != "" {
		s := string(t.Reason)
		reason = &s
	}
	return schemas.PoolTransfer{DAO: r.dao, PoolID: r.id, Seq: t.Seq, Kind: string(t.Kind), From: t.From, To: t.To,
		GrossE8s: int64(t.GrossE8s), TransferE8s: int64(t.TransferE8s), FeeE8s: int64(t.FeeE8s),
		Reason: reason, Cause: t.Cause, At: t.At, TermsVersion: r.record.TermsVersion}
}

// sameTransfer compares two transfers in everything but the terms version:
// a transfer keeps the version it was first published under when later
// terms compute it again unchanged (a deadline moved before any deposit
// was accepted, say).
func sameTransfer(a, b schemas.PoolTransfer) bool {
	ra, rb := "", ""
	if a.Reason != nil {
		ra = "=" + *a.Reason
	}
	if b.Reason != nil {
		rb = "=" + *b.Reason
	}
	a.Reason, b.Reason, a.TermsVersion, b.TermsVersion = nil, nil, 0, 0
	return a == b && ra == rb
}

// state is the pool's state record: the `pools replay` output after the
// facts applied so far.
func (r *run) state() schemas.PoolState {
	o := r.pool.Result()
	asOf := ""
	if l := r.last(); l != nil {
		asOf = l.At.String()
	}
	st := schemas.PoolState{DAO: r.dao, PoolID: r.id, TermsVersion: r.record.TermsVersion, AsOf: asOf,
		Facts: len(r.applied), State: string(o.State), Output: string(rules.EncodeOutput(o)),
		SettledAt: o.SettledAt, RetiredAt: o.RetiredAt}
	for _, sp := range o.Sponsors {
		st.Stakes = append(st.Stakes, schemas.PoolStake{Account: sp.Sponsor, Identity: sp.Identity,
			AcceptedE8s: int64(sp.AcceptedE8s), FirstAcceptedAt: sp.FirstAcceptedAt})
	}
	for _, v := range r.pool.Votes() {
		st.Votes = append(st.Votes, schemas.PoolVote{VoteID: v.VoteID, Kind: string(v.Kind), Subject: v.Subject,
			OpenedAt: v.OpenedAt, ClosesAt: v.ClosesAt, Status: string(v.Status)})
	}
	return st
}

// accounts are the pool's deposit and bond accounts.
func (r *run) accounts() [2]string { return [2]string{r.record.DepositAccount, r.record.BondAccount} }
