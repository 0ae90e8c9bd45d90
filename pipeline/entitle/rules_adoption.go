package entitle

import (
	"fmt"
	"sort"

	"github.com/nodeshare/nodeshare/pipeline/allocation"
	"github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/schemas"
)

// What a passed adopt_rules_version vote changes (docs/governance.md "What
// a passed vote changes"): the pool's rules version for the reward periods
// that start after the close. A pool's version for the period [start, end)
// is its record's rules_version, replaced by the latest passed
// adopt_rules_version vote (in the order the votes closed, ties by vote id)
// whose effect (its close rounded up to a whole second) is at or before
// start. A vote that takes effect inside the period changes the next
// period, never this one: a period is allocated under one version from its
// first second.
//
// Every pool of one node provider's reward is allocated under one version
// (a DAO period's manifest binds one). When the pools' versions differ and
// all are v1 or v2, the reward uses v2, as the engagements change does: v2
// is v1 with hoster engagements, and with one engagement covering the
// period it gives v1's numbers exactly, so a pool that did not adopt v2
// keeps its numbers. Any other mix is an error, as it was before votes
// could change a version.

// rulesVersionAt is pl's rules version for the period [start, end) and
// the evidence of every passed adopt_rules_version vote that took effect
// before end.
func rulesVersionAt(pl schemas.Pool, votes []poolVote, start, end int64) (string, []schemas.VoteEffect) {
	version := pl.RulesVersion
	var effects []schemas.VoteEffect
	adopted := -1 // index in effects of the vote that set version
	for _, v := range votes {
		if v.status != string(lifecycle.VotePassed) || v.kind != schemas.VoteKindAdoptRulesVersion {
			continue
		}
		at := v.closesAt.CeilUnixSeconds()
		if at >= end {
			continue // takes effect at or after the period's end
		}
		ef := schemas.VoteEffect{VoteID: v.id, Kind: v.kind, ClosesAt: v.closesAt.String(), EffectiveUnixSeconds: at}
		subj, err := schemas.DecodeVoteSubject(v.kind, v.subject)
		s, _ := subj.(*schemas.AdoptRulesVersionSubject)
		switch {
		case s == nil:
			ef.Effect = "none: the subject is not its kind's JSON object (" + err.Error() + ")"
		case lookupErr(s.RulesVersion) != nil:
			ef.Effect = fmt.Sprintf("none: %v", lookupErr(s.RulesVersion))
		case at > start:
			ef.Effect = fmt.Sprintf("none in this period: it took effect at %d, after the period's start %d; rules %s from the first period that starts at or after %d",
				at, start, s.RulesVersion, at)
		default:
			if adopted >= 0 {
				effects[adopted].Effect = fmt.Sprintf("none: superseded by vote %s (rules %s), which took effect later", v.id, s.RulesVersion)
			}
			ef.Effect = fmt.Sprintf("the pool's rules are %s for the periods that start at or after %d (was %s): this period starts at %d", s.RulesVersion, at, version, start)
			version = s.RulesVersion
			adopted = len(effects)
		}
		effects = append(effects, ef)
	}
	return version, effects
}

func lookupErr(version string) error {
	_, err := allocation.Lookup(version)
	return err
}

// rewardVersion is the one rules version of a reward whose pools have
// versions: theirs when they agree, v2 when they are a mix of v1 and v2,
// else an error naming two pools that disagree.
func rewardVersion(rewardID string, pools []schemas.Pool, versions []string) (string, error) {
	first := versions[0]
	mixed := false
	for i, v := range versions {
		if v == first {
			continue
		}
		if (v != "v1" && v != RulesV2) || (first != "v1" && first != RulesV2) {
			return "", fmt.Errorf("reward %s: pools of one node provider must share a rules version, or be a mix of v1 and v2 (%s has %s, %s has %s)",
				rewardID, pools[0].PoolID, first, pools[i].PoolID, v)
		}
		mixed = true
	}
	if mixed {
		return RulesV2, nil
	}
	return first, nil
}

// inCloseOrder merges the evidence lists of one pool's votes into the
// order the votes closed (ties by vote id), as votes lists them.
func inCloseOrder(votes []poolVote, lists ...[]schemas.VoteEffect) []schemas.VoteEffect {
	rank := make(map[string]int, len(votes))
	for i, v := range votes {
		rank[v.id] = i
	}
	var out []schemas.VoteEffect
	for _, l := range lists {
		out = append(out, l...)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank[out[i].VoteID] < rank[out[j].VoteID] })
	return out
}
