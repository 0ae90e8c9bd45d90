package lifecycle

import (
	"math/bits"
	"slices"
	"strings"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// vote is one DAO vote (docs/pool-rules.md "Votes"). Its weights are frozen when it
// opens; it stays open until its close fires, whatever happens to the pool.
type vote struct {
	id           string
	kind         VoteKind
	subject      string // opaque to the rules: what the vote decides is read by its users
	openedAt     Time
	closesAt     Time
	thresholdBps money.Bps
	status       VoteStatus

	weights map[string]money.E8s // identity -> capped weight > 0 at the snapshot
	total   money.E8s            // W, the sum of the capped weights
	ballots map[string]Choice    // identity -> its last choice
	nonces  map[string]uint64    // voter account -> its last accepted signed ballot's nonce
	yes     money.E8s
	no      money.E8s
	abstain money.E8s
}

// openVote takes the snapshot: each identity's accepted stake, capped at
// floor(S * max_voting_bps / 10000) with S the pool's accepted total now.
func (p *Pool) openVote(f *Fact) {
	v := &vote{
		id: f.VoteID, kind: f.Kind, subject: f.Subject, openedAt: f.At, closesAt: f.ClosesAt, thresholdBps: f.ThresholdBps,
		status:  VoteOpen,
		weights: make(map[string]money.E8s, len(p.identities)),
		ballots: make(map[string]Choice),
		nonces:  make(map[string]uint64),
	}
	capE8s := money.ApplyBps(p.acceptedTotal, p.terms.MaxVotingBps)
	for name, id := range p.identities {
		// Map order does not matter here: each identity's weight is its own,
		// and W is a sum.
		if w := min(id.accepted, capE8s); w > 0 {
			v.weights[name] = w
			v.total += w
		}
	}
	p.votes[v.id] = v
	i, _ := slices.BinarySearchFunc(p.openVotes, v, compareClose)
	p.openVotes = slices.Insert(p.openVotes, i, v)
}

// castBallot records the identity's choice; its last ballot counts.
func (p *Pool) castBallot(f *Fact) {
	v := p.votes[f.VoteID]
	id := p.identityOf(f.Voter)
	w := v.weights[id]
	if prev, ok := v.ballots[id]; ok {
		*v.tally(prev) -= w
	}
	v.ballots[id] = f.Choice
	*v.tally(f.Choice) += w
	if f.Nonce != 0 {
		v.nonces[f.Voter] = f.Nonce
	}
}

func (v *vote) tally(c Choice) *money.E8s {
	switch c {
	case ChoiceYes:
		return &v.yes
	case ChoiceNo:
		return &v.no
	}
	return &v.abstain
}

// close decides the vote: passed iff W > 0 and yes * 10000 >= threshold *
// W, a share of all the weight, not of the ballots cast. Both products are
// compared in 128 bits (no rounding happens, so no floor is involved).
func (v *vote) close() {
	v.status = VoteFailed
	if v.total <= 0 {
		return
	}
	yh, yl := bits.Mul64(uint64(v.yes), uint64(money.BpsDenominator))
	th, tl := bits.Mul64(uint64(v.thresholdBps), uint64(v.total))
	if yh > th || (yh == th && yl >= tl) {
		v.status = VotePassed
	}
}

func (v *vote) result() VoteResult {
	return VoteResult{
		VoteID: v.id, Kind: v.kind, Status: v.status,
		YesE8s: v.yes, NoE8s: v.no, AbstainE8s: v.abstain, WeightTotalE8s: v.total,
	}
}

// VoteTerms is what a vote decides and when, beside its result: the
// processors that apply a passed vote's effect read it (pipeline/entitle,
// pipeline/stage/payout). It is not part of the contract's output
// (docs/pool-rules.md), whose bytes stay as they are.
type VoteTerms struct {
	VoteID   string
	Kind     VoteKind
	Subject  string
	OpenedAt string // verbatim at of the vote_opened fact
	ClosesAt string // verbatim closes_at
	Status   VoteStatus
}

// Votes lists the pool's votes with their terms and status, sorted by
// vote_id bytes.
func (p *Pool) Votes() []VoteTerms {
	out := make([]VoteTerms, 0, len(p.votes))
	for _, v := range p.votes {
		out = append(out, VoteTerms{VoteID: v.id, Kind: v.kind, Subject: v.subject,
			OpenedAt: v.openedAt.String(), ClosesAt: v.closesAt.String(), Status: v.status})
	}
	slices.SortFunc(out, func(a, b VoteTerms) int { return strings.Compare(a.VoteID, b.VoteID) })
	return out
}
