package entitle

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/nodeshare/nodeshare/pipeline/allocation"
	"github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/schemas"
)

// What a passed terminate_hoster or change_hoster_terms vote changes
// (docs/governance.md "What a passed vote changes"): the pool's hoster
// engagements. A pool starts with one engagement, its terms' hoster, open
// at both ends. Each passed vote, in the order the votes closed (ties by
// vote id), acts at its close, rounded up to a whole Unix second:
//
//   - terminate_hoster {"hoster": H}: the engagement of H, if H is the
//     engaged hoster, ends; the pool has no hoster until a
//     change_hoster_terms engages one. Naming another account does
//     nothing.
//   - change_hoster_terms {"account": A, "fixed_xdr_permyriad": F, "bps":
//     B}: the current engagement (if any) ends and one of A on (F, B)
//     starts.
//
// A reward period [period_start, period_end) is allocated with rules v2
// (ALLOCATION_RULES "Version v2") from the engagements that overlap it,
// clipped to it, whenever some such vote took effect before period_end
// (or the pool's rules are v2); every other period keeps the pool's rules.
// With one engagement covering the period v2 gives v1's numbers exactly,
// so the switch changes nothing but the hoster's line when nothing was
// cut. An account with a carry from an earlier period but no engagement
// in this one is listed with its last engagement (0 seconds inside the
// period: paid its carry-in only, as v2 says). The pool period names each
// such vote and what it did (schemas.PoolPeriod.Votes): the evidence.

// NNSRewardPeriodSeconds is the NNS's node-provider reward period
// (docs/ic-interfaces.md): the length taken for a node provider's first
// reward, which has no earlier reward to start from.
const NNSRewardPeriodSeconds = 2_629_800

// HosterRole is the role of the n-th engagement (1-based, in order of
// from) of one account in a pool period: "hoster" for the first, then
// "hoster#2", "hoster#3"... One account may hold two engagements in one
// period (new terms mid-period); each is its own recipient (v2 step 7), and
// the role keeps their entitlement keys, payout intent ids and ClickHouse
// rows apart.
func HosterRole(n int) string {
	if n <= 1 {
		return RoleHoster
	}
	return RoleHoster + "#" + strconv.Itoa(n)
}

// IsHosterRole reports whether role is a hoster engagement's role.
func IsHosterRole(role string) bool {
	return role == RoleHoster || strings.HasPrefix(role, RoleHoster+"#")
}

// PendingError says a reward cannot be decided yet: a vote of one of its
// pools that changes the allocation closed before the reward, and the
// pool's state does not say yet whether it passed (the lifecycle processor
// fires a close with the first fact after it: a tick, a ballot, a block).
// Deciding now could pay a terminated hoster; the stage waits and rebuilds
// its state instead (it is transient).
type PendingError struct {
	Reward, Pool, VoteID, Kind, ClosesAt string
}

func (e *PendingError) Error() string {
	return fmt.Sprintf("reward %s: pool %s: vote %s (%s) closed at %s, before the reward, and its result is not in the pool's state yet: the reward waits for the lifecycle processor to close it",
		e.Reward, e.Pool, e.VoteID, e.Kind, e.ClosesAt)
}

// IsTransient marks the error for pipeline/stage/retry: the same reward,
// decided again once the pool's state has the vote's result, succeeds.
func (e *PendingError) IsTransient() bool { return true }

// engagement is one hoster engagement of a pool: terms and [from, to).
type engagement struct {
	account  string
	fixed    int64
	bps      int64
	from, to int64
}

// maxSeconds is the open end of an engagement nobody ended.
const maxSeconds = int64(1<<63 - 1)

// hosterKinds are the vote kinds that change the hoster engagements.
func changesHoster(kind string) bool {
	return kind == schemas.VoteKindTerminateHoster || kind == schemas.VoteKindChangeHosterTerms
}

// pendingVote returns an error when a vote of pool that changes the
// allocation closed strictly before the reward and is still open in the
// pool's state.
func (l lifecycleState) pendingVote(rewardID, pool string, at lifecycle.Time) error {
	for _, v := range l.votes {
		if v.status == string(lifecycle.VoteOpen) && v.closesAt.Before(at) &&
			(changesHoster(v.kind) || v.kind == schemas.VoteKindAdoptRulesVersion) {
			return &PendingError{Reward: rewardID, Pool: pool, VoteID: v.id, Kind: v.kind, ClosesAt: v.closesAt.String()}
		}
	}
	return nil
}

// hosterTimeline applies the passed votes that take effect before end to
// the pool's terms' hoster. It returns the engagements in order of from,
// the evidence of every such vote, and whether any of them took effect.
func hosterTimeline(pl schemas.Pool, votes []poolVote, end int64) ([]engagement, []schemas.VoteEffect, bool) {
	var done []engagement
	cur := &engagement{account: pl.Hoster.Account, fixed: pl.Hoster.FixedXDRPermyriad, bps: pl.Hoster.Bps, from: 0, to: maxSeconds}
	var effects []schemas.VoteEffect
	changed := false
	// closeAt ends the current engagement at at (dropped if it ran for no
	// second: two votes closed in the same second).
	closeAt := func(at int64) {
		if cur != nil {
			if at > cur.from {
				cur.to = at
				done = append(done, *cur)
			}
			cur = nil
		}
	}
	for _, v := range votes {
		if v.status != string(lifecycle.VotePassed) || !changesHoster(v.kind) {
			continue
		}
		at := v.closesAt.CeilUnixSeconds()
		if at >= end {
			continue // takes effect at or after the period's end
		}
		ef := schemas.VoteEffect{VoteID: v.id, Kind: v.kind, ClosesAt: v.closesAt.String(), EffectiveUnixSeconds: at}
		subj, err := schemas.DecodeVoteSubject(v.kind, v.subject)
		switch s := subj.(type) {
		case nil:
			ef.Effect = "none: the subject is not its kind's JSON object (" + err.Error() + ")"
		case *schemas.TerminateHosterSubject:
			if cur == nil || cur.account != s.Hoster {
				ef.Effect = fmt.Sprintf("none: %s is not the engaged hoster", s.Hoster)
				break
			}
			ef.Effect = fmt.Sprintf("ends the engagement of %s at %d", s.Hoster, at)
			closeAt(at)
			changed = true
		case *schemas.ChangeHosterTermsSubject:
			if cur != nil {
				ef.Effect = fmt.Sprintf("ends the engagement of %s at %d; ", cur.account, at)
			}
			ef.Effect += fmt.Sprintf("engages %s from %d on fixed_xdr_permyriad %d, bps %d", s.Account, at, s.FixedXDRPermyriad, s.Bps)
			closeAt(at)
			cur = &engagement{account: s.Account, fixed: s.FixedXDRPermyriad, bps: s.Bps, from: at, to: maxSeconds}
			changed = true
		}
		effects = append(effects, ef)
	}
	if cur != nil {
		done = append(done, *cur)
	}
	return done, effects, changed
}

// periodStart is the start of the reward period ending at end for node
// provider np: the latest earlier reward of np that the processor
// allocated (its pool periods are on the entitlements topic), or, for np's
// first reward, end minus the NNS reward period (not before 0).
func (s *State) periodStart(np string, end int64) int64 {
	best := int64(-1)
	for _, t := range s.rewardTimes[np] {
		if t < end && t > best {
			best = t
		}
	}
	if best >= 0 {
		return best
	}
	return max(0, end-NNSRewardPeriodSeconds)
}

// hosterLines are a v2 period's engagements with the role each is paid
// under, in order of from.
type hosterLines struct {
	engagements []allocation.HosterEngagement
	roles       []string
}

// engagementsIn lists the engagements of timeline that overlap [start,
// end), clipped to it, each with its account's carry-in on its first; and,
// for an account with a carry-in but no engagement in the period, its last
// engagement as it was (0 seconds inside: paid its carry-in only).
func (s *State) engagementsIn(pl schemas.Pool, timeline []engagement, start, end int64, period string) hosterLines {
	var list []engagement
	in := map[string]bool{}
	for _, e := range timeline {
		if e.to <= start || e.from >= end {
			continue
		}
		e.from, e.to = max(e.from, start), min(e.to, end)
		list = append(list, e)
		in[e.account] = true
	}
	lastOf := map[string]engagement{}
	for _, e := range timeline {
		if e.to <= start {
			lastOf[e.account] = e // in order of from: the last one wins
		}
	}
	accounts := make([]string, 0, len(lastOf))
	for a := range lastOf {
		accounts = append(accounts, a)
	}
	sort.Strings(accounts)
	for _, a := range accounts {
		if !in[a] && s.hosterCarryIn(pl.DAO, pl.PoolID, a, period) != 0 {
			list = append(list, lastOf[a])
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].from < list[j].from })
	var out hosterLines
	seen := map[string]int{}
	for _, e := range list {
		seen[e.account]++
		var carry int64
		if seen[e.account] == 1 {
			carry = s.hosterCarryIn(pl.DAO, pl.PoolID, e.account, period)
		}
		out.engagements = append(out.engagements, allocation.HosterEngagement{
			Account: e.account, FixedXDRPermyriad: money.XDRPermyriad(e.fixed), FeeBps: money.Bps(e.bps),
			FromUnixSeconds: e.from, ToUnixSeconds: e.to, CarryInE8s: money.E8s(carry),
		})
		out.roles = append(out.roles, HosterRole(seen[e.account]))
	}
	return out
}

// hosterCarryIn is an account's carry-out as a hoster of the pool in the
// latest period before period, over all its engagements of that period.
func (s *State) hosterCarryIn(dao, pool, account, period string) int64 {
	byPeriod := s.hosterCarry[dao+"/"+pool+"/"+account]
	best := ""
	for p := range byPeriod {
		if p < period && p > best {
			best = p
		}
	}
	var sum int64
	for _, c := range byPeriod[best] {
		sum += c
	}
	return sum
}
