package entitle

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/schemas"
)

// A crowdfunded pool (a pool record with lifecycle terms) earns rewards
// from its lifecycle, not from proposal_status: POOL_RULES "node_up",
// rewards are allocated only to active pools, and each sponsor's accepted
// total stays its stake after settlement. The processor keeps the latest
// schemas.PoolState the lifecycle processor published for each pool on
// dao.pool-lifecycle.v1 and reads two things from it:
//
//   - when the pool was active: from SettledAt (inclusive) to RetiredAt
//     (exclusive, open while empty). A reward minted at T is the pool's
//     iff SettledAt <= T < RetiredAt, compared as instants with the
//     lifecycle rules' own times (lifecycle.ParseTime: offsets normalised,
//     fractions exact beyond nanoseconds). The interval, rather than the
//     state's name, is what makes the decision a function of the state and
//     the reward alone: a reward decided (or replayed, or audited) after
//     the pool retired still finds the pool active at T;
//   - the stakes: one contribution per sponsor account (id and sponsor =
//     the 64-hex account, which the payout path pays with the ledger's
//     legacy transfer), its accepted total, at its first accepted deposit.

// lifecycleState is what the processor keeps of a crowdfunded pool's
// latest lifecycle state, parsed once when it is applied.
type lifecycleState struct {
	settled, retired lifecycle.Time // zero until it happens
	stakes           []stake        // sorted by account
	votes            []poolVote     // sorted by close, then vote id
}

// poolVote is one of the pool's votes as its state records it
// (schemas.PoolVote): what it decides and when it closes.
type poolVote struct {
	id, kind, subject, status string
	closesAt                  lifecycle.Time
}

// stake is one sponsor account's accepted total.
type stake struct {
	account     string
	acceptedE8s int64
	firstAt     time.Time // the first accepted deposit, in UTC
}

// activeAt reports whether the pool was active at t: settled at or before
// t, and not retired at or before t.
func (l lifecycleState) activeAt(t lifecycle.Time) bool {
	return !l.settled.IsZero() && l.settled.Compare(t) <= 0 && (l.retired.IsZero() || t.Before(l.retired))
}

// maxRewardSeconds is 9999-12-31T23:59:59Z, the last second an RFC 3339
// time can name.
const maxRewardSeconds = 253_402_300_799

// rewardInstant is a reward's timestamp as a lifecycle time; false when it
// is beyond what RFC 3339 can write (then no crowdfunded pool earns it).
func rewardInstant(timestampSeconds uint64) (lifecycle.Time, bool) {
	if timestampSeconds > maxRewardSeconds {
		return lifecycle.Time{}, false
	}
	t, err := lifecycle.ParseTime(time.Unix(int64(timestampSeconds), 0).UTC().Format(time.RFC3339))
	return t, err == nil
}

// ValidatePoolState checks a pool's lifecycle state as the entitlement
// processor reads it, naming the field and the value.
func ValidatePoolState(st schemas.PoolState) error {
	_, err := parsePoolState(st)
	return err
}

func parsePoolState(st schemas.PoolState) (lifecycleState, error) {
	var l lifecycleState
	if st.DAO == "" {
		return l, fmt.Errorf("pool state of pool %q: dao is empty", st.PoolID)
	}
	if st.PoolID == "" {
		return l, fmt.Errorf("pool state of dao %s: pool_id is empty", st.DAO)
	}
	name := "pool state " + st.DAO + "/" + st.PoolID
	var err error
	if st.SettledAt != "" {
		if l.settled, err = lifecycle.ParseTime(st.SettledAt); err != nil {
			return l, fmt.Errorf("%s: settled_at %w", name, err)
		}
	}
	if st.RetiredAt != "" {
		if l.retired, err = lifecycle.ParseTime(st.RetiredAt); err != nil {
			return l, fmt.Errorf("%s: retired_at %w", name, err)
		}
		// Only an active pool retires (docs/pool-rules.md "Lock-up and
		// retirement"), and no sooner than it settled.
		if l.settled.IsZero() {
			return l, fmt.Errorf("%s: retired_at is %q but settled_at is empty: only an active pool retires", name, st.RetiredAt)
		}
		if l.retired.Before(l.settled) {
			return l, fmt.Errorf("%s: retired_at must not be before settled_at %q, got %q", name, st.SettledAt, st.RetiredAt)
		}
	}
	seen := make(map[string]int, len(st.Stakes))
	for i, s := range st.Stakes {
		field := fmt.Sprintf("%s: stakes[%d]", name, i)
		if err := schemas.ValidateAccountIdentifier(s.Account); err != nil {
			return l, fmt.Errorf("%s.account %w", field, err)
		}
		if j, dup := seen[s.Account]; dup {
			return l, fmt.Errorf("%s.account repeats stakes[%d]: one stake per account, got %q", field, j, s.Account)
		}
		seen[s.Account] = i
		if s.AcceptedE8s <= 0 {
			return l, fmt.Errorf("%s.accepted_e8s must be > 0, got %d", field, s.AcceptedE8s)
		}
		first, err := lifecycle.ParseTime(s.FirstAcceptedAt)
		if err != nil {
			return l, fmt.Errorf("%s.first_accepted_at %w", field, err)
		}
		// Deposits are accepted only while the pool is funding, so every
		// stake is in before the pool settles: a reward the pool earns
		// counts every stake.
		if !l.settled.IsZero() && l.settled.Before(first) {
			return l, fmt.Errorf("%s.first_accepted_at must not be after settled_at %q, got %q", field, st.SettledAt, s.FirstAcceptedAt)
		}
		// RFC 3339 allows "t" and "z" in lower case (the lifecycle rules
		// take them); Go's parser wants them upper case. The allocation
		// compares times to the nanosecond.
		at, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s.FirstAcceptedAt))
		if err != nil {
			return l, fmt.Errorf("%s.first_accepted_at must be an RFC 3339 time, got %q", field, s.FirstAcceptedAt)
		}
		l.stakes = append(l.stakes, stake{account: s.Account, acceptedE8s: s.AcceptedE8s, firstAt: at.UTC()})
	}
	sort.Slice(l.stakes, func(i, j int) bool { return l.stakes[i].account < l.stakes[j].account })
	for i, v := range st.Votes {
		field := fmt.Sprintf("%s: votes[%d]", name, i)
		closes, err := lifecycle.ParseTime(v.ClosesAt)
		if err != nil {
			return l, fmt.Errorf("%s.closes_at %w", field, err)
		}
		switch lifecycle.VoteStatus(v.Status) {
		case lifecycle.VoteOpen, lifecycle.VotePassed, lifecycle.VoteFailed:
		default:
			return l, fmt.Errorf("%s.status must be open, passed or failed, got %q", field, v.Status)
		}
		if v.VoteID == "" {
			return l, fmt.Errorf("%s.vote_id is empty", field)
		}
		l.votes = append(l.votes, poolVote{id: v.VoteID, kind: v.Kind, subject: v.Subject, status: v.Status, closesAt: closes})
	}
	// Effects apply in the order the votes closed (ties by vote id, as the
	// lifecycle rules fire them).
	sort.SliceStable(l.votes, func(i, j int) bool {
		if c := l.votes[i].closesAt.Compare(l.votes[j].closesAt); c != 0 {
			return c < 0
		}
		return l.votes[i].id < l.votes[j].id
	})
	if !l.settled.IsZero() && len(l.stakes) == 0 {
		return l, fmt.Errorf("%s: stakes is empty but settled_at is %q: a settled pool was funded", name, st.SettledAt)
	}
	return l, nil
}
