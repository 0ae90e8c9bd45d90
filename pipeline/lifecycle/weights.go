package lifecycle

import (
	"cmp"
	"slices"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// The weight report (docs/governance.md "The weight report"): what each
// sponsor of a pool would weigh in a vote opened now, the cap, and hints
// of sockpuppets from the ledger. Sockpuppets cannot be proven from ledger
// data (ALLOCATION_RULES "Voting weight"): the hints are for people to
// look at, and attested identities (Terms.Identities) are the answer.

// FundingBlock is a ledger transfer the report looks at: one into a
// sponsor's account, or a sponsor's deposit into the pool.
type FundingBlock struct {
	Index     uint64
	From, To  string
	AmountE8s money.E8s
}

// WeightInput is a pool's sponsors as its latest state has them, its
// voting cap and deposit account, and the blocks above.
type WeightInput struct {
	Sponsors       []Sponsor
	MaxVotingBps   money.Bps
	DepositAccount string
	Blocks         []FundingBlock
	// WindowBlocks: deposits of different identities at most this many
	// blocks apart are hinted as one burst (0: no burst hints).
	WindowBlocks uint64
}

// WeightRow is one sponsor account.
type WeightRow struct {
	Account     string    `json:"account"`
	Identity    string    `json:"identity"`
	AcceptedE8s money.E8s `json:"accepted_e8s"`
	// IdentityE8s is the identity's accepted total (all its accounts);
	// WeightE8s the identity's vote weight, min(IdentityE8s, cap), listed
	// on the identity's first account only (0 on the others): one
	// identity, one weight.
	IdentityE8s money.E8s `json:"identity_e8s"`
	WeightE8s   money.E8s `json:"weight_e8s"`
	Capped      bool      `json:"capped"`
}

// Hint kinds.
const (
	HintSameSource   = "same_funding_source" // one account funded sponsors of different identities
	HintDepositBurst = "deposit_burst"       // deposits of different identities inside one block window
)

// Hint is one sockpuppet hint: the sponsor accounts it links, in byte
// order, with the evidence (a source account, or the first and last block).
type Hint struct {
	Kind       string   `json:"kind"`
	Accounts   []string `json:"accounts"`
	Source     string   `json:"source,omitempty"`
	FirstBlock uint64   `json:"first_block,omitempty"`
	LastBlock  uint64   `json:"last_block,omitempty"`
}

// WeightReport is the report of one pool.
type WeightReport struct {
	AcceptedTotalE8s money.E8s   `json:"accepted_total_e8s"`
	CapE8s           money.E8s   `json:"cap_e8s"`
	WeightTotalE8s   money.E8s   `json:"weight_total_e8s"`
	Rows             []WeightRow `json:"sponsors"`
	Hints            []Hint      `json:"hints"`
}

// Weights computes the report: the same weights openVote freezes (each
// identity's accepted stake capped at floor(S * max_voting_bps / 10000)),
// then the hints.
func Weights(in WeightInput) WeightReport {
	var r WeightReport
	byIdentity := map[string]money.E8s{}
	identityOf := map[string]string{}
	for _, s := range in.Sponsors {
		r.AcceptedTotalE8s += s.AcceptedE8s
		byIdentity[s.Identity] += s.AcceptedE8s
		identityOf[s.Sponsor] = s.Identity
	}
	r.CapE8s = money.ApplyBps(r.AcceptedTotalE8s, in.MaxVotingBps)
	rows := slices.Clone(in.Sponsors)
	slices.SortFunc(rows, func(a, b Sponsor) int {
		return cmp.Or(cmp.Compare(a.Identity, b.Identity), cmp.Compare(a.Sponsor, b.Sponsor))
	})
	seen := map[string]bool{}
	for _, s := range rows {
		row := WeightRow{Account: s.Sponsor, Identity: s.Identity, AcceptedE8s: s.AcceptedE8s, IdentityE8s: byIdentity[s.Identity]}
		row.Capped = row.IdentityE8s > r.CapE8s
		if !seen[s.Identity] {
			seen[s.Identity] = true
			row.WeightE8s = min(row.IdentityE8s, r.CapE8s)
			r.WeightTotalE8s += row.WeightE8s
		}
		r.Rows = append(r.Rows, row)
	}
	r.Hints = append(sameSource(in.Blocks, identityOf), bursts(in, identityOf)...)
	return r
}

// sameSource: an account that sent ICP to sponsor accounts of two or more
// identities (itself not one of them).
func sameSource(blocks []FundingBlock, identityOf map[string]string) []Hint {
	funded := map[string]map[string]bool{} // source -> sponsor accounts
	for _, b := range blocks {
		if _, sponsor := identityOf[b.To]; !sponsor || b.From == "" || b.From == b.To {
			continue
		}
		if identityOf[b.From] != "" && identityOf[b.From] == identityOf[b.To] {
			continue // an identity moving its own ICP
		}
		if funded[b.From] == nil {
			funded[b.From] = map[string]bool{}
		}
		funded[b.From][b.To] = true
	}
	var out []Hint
	for src, accts := range funded {
		ids := map[string]bool{}
		var list []string
		for a := range accts {
			ids[identityOf[a]] = true
			list = append(list, a)
		}
		if len(ids) < 2 {
			continue
		}
		slices.Sort(list)
		out = append(out, Hint{Kind: HintSameSource, Accounts: list, Source: src})
	}
	slices.SortFunc(out, func(a, b Hint) int { return cmp.Compare(a.Source, b.Source) })
	return out
}

// bursts: runs of deposits into the pool, each at most WindowBlocks after
// the one before, holding deposits of two or more identities.
func bursts(in WeightInput, identityOf map[string]string) []Hint {
	if in.WindowBlocks == 0 {
		return nil
	}
	var deps []FundingBlock
	for _, b := range in.Blocks {
		if _, sponsor := identityOf[b.From]; sponsor && b.To == in.DepositAccount {
			deps = append(deps, b)
		}
	}
	slices.SortFunc(deps, func(a, b FundingBlock) int { return cmp.Compare(a.Index, b.Index) })
	var out []Hint
	flush := func(run []FundingBlock) {
		ids, accts := map[string]bool{}, map[string]bool{}
		for _, d := range run {
			ids[identityOf[d.From]] = true
			accts[d.From] = true
		}
		if len(ids) < 2 {
			return
		}
		h := Hint{Kind: HintDepositBurst, FirstBlock: run[0].Index, LastBlock: run[len(run)-1].Index}
		for a := range accts {
			h.Accounts = append(h.Accounts, a)
		}
		slices.Sort(h.Accounts)
		out = append(out, h)
	}
	start := 0
	for i := 1; i <= len(deps); i++ {
		if i == len(deps) || deps[i].Index-deps[i-1].Index > in.WindowBlocks {
			flush(deps[start:i])
			start = i
		}
	}
	return out
}
