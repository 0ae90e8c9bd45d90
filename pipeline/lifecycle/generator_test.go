package lifecycle

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// scenario is a pool's terms and a valid fact sequence from a seeded
// generator (TigerBeetle's workload idea: random, but every fact is one the
// rules allow, so a rejection is a bug). It drives a live Pool to know the
// state, and records what every Apply returned.
type scenario struct {
	seed    uint64
	terms   Terms
	facts   []Fact
	applied [][]Transfer
}

var genAccounts = []string{acct(0x01), acct(0x02), acct(0x03), acct(0x04), acct(0x05), acct(0x06), acct(0x07), acct(0x08)}

var genEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// genTime writes an instant in one of a few spellings, so that comparisons
// across offsets and fractions are exercised and the text is kept verbatim.
func genTime(rng *rand.Rand, sec int64) Time {
	t := genEpoch.Add(time.Duration(sec) * time.Second)
	var s string
	switch rng.IntN(4) {
	case 0:
		s = t.In(time.FixedZone("", 2*3600)).Format("2006-01-02T15:04:05-07:00")
	case 1:
		s = t.Format("2006-01-02T15:04:05.000Z")
	default:
		s = t.Format("2006-01-02T15:04:05Z")
	}
	return tm(s)
}

func randomScenario(seed uint64, maxFacts int) scenario {
	rng := rand.New(rand.NewPCG(seed, 0x11fec7c1e))
	sc := scenario{seed: seed}
	target := money.E8s(1 + rng.Int64N(10_000))
	if rng.IntN(8) == 0 {
		target = money.E8s(1 + rng.Int64N(1<<62))
	}
	const dayS = 86400
	deadline := int64(10+rng.IntN(40)) * dayS
	sc.terms = Terms{
		PoolID: fmt.Sprintf("pool-%d", seed), DepositAccount: depositAcct,
		TargetE8s:          target,
		MinContributionE8s: money.E8s(rng.Int64N(int64(target)/3 + 1)),
		MaxSponsorBps:      money.Bps(1 + rng.IntN(10_000)),
		FundingDeadline:    genTime(rng, deadline),
		Purchaser:          whale,
		SlashBps:           money.Bps(rng.IntN(10_001)),
		BondE8s:            money.E8s(rng.Int64N(int64(target) + 1)),
		BondAccount:        bondAcct,
		LockupUntil:        genTime(rng, int64(rng.IntN(150))*dayS),
		MaxVotingBps:       money.Bps(1 + rng.IntN(10_000)),
		LedgerFeeE8s:       money.E8s(rng.Int64N(int64(target)/20 + 2)),
	}
	if rng.IntN(4) == 0 {
		sc.terms.BondE8s = 0
	}
	if rng.IntN(2) == 0 {
		sc.terms.Identities = map[string]string{}
		for _, a := range genAccounts {
			if rng.IntN(2) == 0 {
				sc.terms.Identities[a] = fmt.Sprintf("id-%d", rng.IntN(3))
			}
		}
	}
	p, err := New(sc.terms)
	if err != nil {
		panic(fmt.Sprintf("seed %d: generated bad terms: %v", seed, err))
	}
	var now int64
	var block uint64
	voteN := 0
	n := 1 + rng.IntN(maxFacts)
	for len(sc.facts) < n {
		switch rng.IntN(6) {
		case 0:
			now += int64(rng.IntN(4)) * dayS
		case 1:
			now += int64(rng.IntN(3600))
		} // else the same instant
		at := genTime(rng, now)
		block += 1 + uint64(rng.IntN(3))
		var f Fact
		st := p.stateAt(at)
		switch k := rng.IntN(20); {
		case k < 9: // stake deposit
			amt := money.E8s(rng.Int64N(int64(target)/2 + 2))
			if rng.IntN(5) == 0 {
				amt = money.E8s(rng.Int64N(int64(sc.terms.MinContributionE8s) + 1))
			}
			from := genAccounts[rng.IntN(len(genAccounts))]
			if rng.IntN(6) == 0 {
				from = whale
			}
			f = Fact{Type: FactDeposit, At: at, BlockIndex: block, To: depositAcct, From: from, AmountE8s: amt}
		case k < 11: // bond deposit
			from := whale
			if rng.IntN(4) == 0 {
				from = genAccounts[rng.IntN(len(genAccounts))]
			}
			f = Fact{Type: FactDeposit, At: at, BlockIndex: block, To: bondAcct, From: from, AmountE8s: money.E8s(rng.Int64N(int64(sc.terms.BondE8s)/2 + 2))}
		case k < 12:
			f = Fact{Type: FactTick, At: at}
		case k < 13 && st == StateFunded:
			f = Fact{Type: FactProposalSubmitted, At: at, ProposalID: rng.Uint64()}
		case k < 14 && st == StateProposed:
			status := []ProposalStatus{ProposalAdopted, ProposalAdopted, ProposalAdopted, ProposalRejected, ProposalFailed}[rng.IntN(5)]
			f = Fact{Type: FactProposalDecided, At: at, ProposalID: p.proposalID, Status: status}
		case k < 15 && st == StateAdopted:
			f = Fact{Type: FactNodeUp, At: at, NodeID: []string{"n1", "n2"}[rng.IntN(2)]}
		case k < 16 && st == StateActive && rng.IntN(3) == 0:
			f = Fact{Type: FactNodeDown, At: at, NodeID: p.nodeID}
		case k < 17 && inRange(st, StateFunded, StateActive):
			voteN++
			kinds := []VoteKind{VoteGrantHosterAccess, VoteTerminateHoster, VoteChangeHosterTerms, VoteAdoptRulesVersion, VoteApproveManifest}
			closes := genTime(rng, now+int64(rng.IntN(20))*dayS)
			f = Fact{Type: FactVoteOpened, At: at, VoteID: fmt.Sprintf("v%02d", voteN), Kind: kinds[rng.IntN(5)],
				Subject: "s", ClosesAt: closes, ThresholdBps: money.Bps(1 + rng.IntN(10_000))}
		default: // a ballot on a vote still open at `at`, by an account with weight
			var candidates []Fact
			for _, id := range sortedKeys(p.votes) {
				v := p.votes[id]
				if v.closesAt.Before(at) {
					continue
				}
				for _, a := range append([]string{whale}, genAccounts...) {
					if v.weights[p.identityOf(a)] > 0 {
						c := []Choice{ChoiceYes, ChoiceNo, ChoiceAbstain}[rng.IntN(3)]
						candidates = append(candidates, Fact{Type: FactBallot, At: at, VoteID: id, Voter: a, Choice: c})
					}
				}
			}
			if len(candidates) == 0 {
				continue
			}
			f = candidates[rng.IntN(len(candidates))]
		}
		if f.Type == FactDeposit && uint64(f.AmountE8s) > math.MaxUint64-p.depositedE8s {
			f.AmountE8s = 0 // deposits beyond 2^64-1 in total are invalid input
		}
		rows, err := p.Apply(f)
		if err != nil {
			panic(fmt.Sprintf("seed %d: the engine refused generated fact %d (%+v): %v", seed, len(sc.facts), f, err))
		}
		sc.facts = append(sc.facts, f)
		sc.applied = append(sc.applied, rows)
	}
	return sc
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
