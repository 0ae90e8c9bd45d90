package allocation

import (
	"slices"
	"strconv"
	"strings"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// VotingOptions tune the voting report.
type VotingOptions struct {
	// MaxVotingBps caps any sponsor's weight at floor(S * MaxVotingBps /
	// 10000); 0 means no cap.
	MaxVotingBps money.Bps
	// BlockWindow: contributions of different sponsors whose ledger blocks
	// are at most BlockWindow apart (chained) are reported as a hint. Only
	// contributions with a block index take part.
	BlockWindow uint64
}

// VotingWeight is one sponsor's weight: its funded stake, capped.
type VotingWeight struct {
	Sponsor   string
	StakeE8s  money.E8s
	WeightE8s money.E8s
	Capped    bool
}

// Hint kinds. Hints are not proof: sockpuppets cannot be detected from
// ledger data alone, so the report lists them for a person to judge.
const (
	HintSameSource  = "same_source"
	HintBlockWindow = "block_window"
)

// VotingHint names sponsors that may be one person.
type VotingHint struct {
	Kind     string
	Key      string   // the shared source account, or "blocks A-B"
	Sponsors []string // sorted, distinct, at least two
}

// VotingReport is the voting weight of every sponsor, sorted by sponsor,
// plus the sockpuppet hints: by kind, then by source account or first block.
type VotingReport struct {
	TotalStakeE8s uint64
	CapE8s        uint64 // 0 when uncapped
	Weights       []VotingWeight
	Hints         []VotingHint
}

// VotingWeights implements v1's "Voting weight" section.
func (rulesV1) VotingWeights(cs []Contribution, opts VotingOptions) (VotingReport, error) {
	if err := opts.MaxVotingBps.Validate(); err != nil {
		return VotingReport{}, inputErr("", "max_voting_bps", "%v", err)
	}
	if len(cs) == 0 {
		return VotingReport{}, inputErr("", "contributions", "must not be empty")
	}
	g, err := groupSponsors(cs, false, 0)
	if err != nil {
		return VotingReport{}, err
	}
	rep := VotingReport{TotalStakeE8s: g.total, Weights: make([]VotingWeight, len(g.shares))}
	if opts.MaxVotingBps > 0 {
		rep.CapE8s, _, _ = money.MulDivFloor(g.total, uint64(opts.MaxVotingBps), uint64(money.BpsDenominator))
	}
	for i, s := range g.shares {
		w := VotingWeight{Sponsor: s.Sponsor, StakeE8s: s.StakeE8s, WeightE8s: s.StakeE8s}
		if opts.MaxVotingBps > 0 && uint64(s.StakeE8s) > rep.CapE8s {
			w.WeightE8s, w.Capped = money.E8s(rep.CapE8s), true
		}
		rep.Weights[i] = w
	}

	// Same funding source used by two or more sponsors.
	src := make([]*Contribution, 0, len(cs))
	for i := range cs {
		if cs[i].From != "" {
			src = append(src, &cs[i])
		}
	}
	slices.SortFunc(src, func(a, b *Contribution) int {
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		return strings.Compare(a.Sponsor, b.Sponsor)
	})
	for i := 0; i < len(src); {
		j := i
		var sponsors []string
		for ; j < len(src) && src[j].From == src[i].From; j++ {
			if len(sponsors) == 0 || sponsors[len(sponsors)-1] != src[j].Sponsor {
				sponsors = append(sponsors, src[j].Sponsor)
			}
		}
		if len(sponsors) >= 2 {
			rep.Hints = append(rep.Hints, VotingHint{Kind: HintSameSource, Key: src[i].From, Sponsors: sponsors})
		}
		i = j
	}

	// Contributions of different sponsors within one block window.
	blk := make([]*Contribution, 0, len(cs))
	for i := range cs {
		if cs[i].HasBlockIndex {
			blk = append(blk, &cs[i])
		}
	}
	slices.SortFunc(blk, func(a, b *Contribution) int {
		switch {
		case a.BlockIndex < b.BlockIndex:
			return -1
		case a.BlockIndex > b.BlockIndex:
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	for i := 0; i < len(blk); {
		j := i + 1
		for j < len(blk) && blk[j].BlockIndex-blk[j-1].BlockIndex <= opts.BlockWindow {
			j++
		}
		var sponsors []string
		for _, c := range blk[i:j] {
			sponsors = append(sponsors, c.Sponsor)
		}
		slices.Sort(sponsors)
		sponsors = slices.Compact(sponsors)
		if len(sponsors) >= 2 {
			key := "blocks " + strconv.FormatUint(blk[i].BlockIndex, 10) + "-" + strconv.FormatUint(blk[j-1].BlockIndex, 10)
			rep.Hints = append(rep.Hints, VotingHint{Kind: HintBlockWindow, Key: key, Sponsors: sponsors})
		}
		i = j
	}
	// Same-source hints are in source order and block hints in block order
	// already; a stable sort by kind keeps that.
	slices.SortStableFunc(rep.Hints, func(a, b VotingHint) int { return strings.Compare(a.Kind, b.Kind) })
	return rep, nil
}
