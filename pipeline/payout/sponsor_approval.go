package payout

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nodeshare/nodeshare/schemas"
)

// The sponsors' approval (docs/governance.md "What a passed vote
// changes"): a payout manifest approved by the sponsors' votes counts as
// approved, as an alternative to the threshold of signed approvals. The
// rule is strict, because a manifest pays the pools' money:
//
//   - every pool of the manifest must approve it: each pool whose period
//     it binds (InputHashes) and each pool an intent pays from (a
//     lifecycle manifest's one pool, a v1 manifest's pools);
//   - a pool approves it when one of its votes (the votes of its latest
//     lifecycle state, schemas.PoolVote) is an approve_manifest vote that
//     passed and whose subject names exactly the manifest's period and
//     hash. An open or failed vote, a vote naming another hash or period,
//     or a subject that is not the kind's JSON object does not count;
//   - a manifest without any pool is never approved by votes.
//
// One pool's vote never approves another pool's share: a manifest of two
// pools needs a passed vote in each.

// ManifestPools lists the pools of m, sorted: the pools of its input
// hashes and of its intents.
func ManifestPools(m Manifest) []string {
	seen := map[string]bool{}
	for p := range m.InputHashes {
		seen[p] = true
	}
	for _, in := range m.Intents {
		if in.PoolID != "" {
			seen[in.PoolID] = true
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// SponsorApproval is the sponsors' decision on one manifest.
type SponsorApproval struct {
	// Approved is true when every pool of the manifest passed a vote
	// approving exactly it.
	Approved bool
	// Votes are the approving votes, "pool/vote_id", sorted by pool then
	// vote id.
	Votes []string
	// Missing says, for each pool without such a vote, why (sorted by
	// pool).
	Missing []string
}

// SponsorsApproved decides whether the sponsors' votes approve the
// manifest of period with hash manifestSHA256 whose pools are pools:
// votes holds each pool's votes (a pool absent from it has none).
func SponsorsApproved(period, manifestSHA256 string, pools []string, votes map[string][]schemas.PoolVote) SponsorApproval {
	var a SponsorApproval
	for _, pool := range pools {
		var ids, other []string
		for _, v := range votes[pool] {
			if v.Kind != schemas.VoteKindApproveManifest {
				continue
			}
			subj, err := schemas.DecodeVoteSubject(v.Kind, v.Subject)
			s, _ := subj.(*schemas.ApproveManifestSubject)
			switch {
			case err != nil || s == nil:
				other = append(other, fmt.Sprintf("vote %s: its subject is not an approve_manifest object", v.VoteID))
			case s.Period != period || s.ManifestSHA256 != manifestSHA256:
				other = append(other, fmt.Sprintf("vote %s names period %s manifest %s", v.VoteID, s.Period, s.ManifestSHA256))
			case v.Status != "passed":
				other = append(other, fmt.Sprintf("vote %s is %s", v.VoteID, v.Status))
			default:
				ids = append(ids, v.VoteID)
			}
		}
		sort.Strings(ids)
		for _, id := range ids {
			a.Votes = append(a.Votes, pool+"/"+id)
		}
		if len(ids) == 0 {
			why := fmt.Sprintf("pool %s has no passed approve_manifest vote of period %s manifest %s", pool, period, manifestSHA256)
			if len(other) > 0 {
				sort.Strings(other)
				why += " (" + strings.Join(other, "; ") + ")"
			}
			a.Missing = append(a.Missing, why)
		}
	}
	a.Approved = len(pools) > 0 && len(a.Missing) == 0
	return a
}
