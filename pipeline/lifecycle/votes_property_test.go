package lifecycle

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// voteWorld is a funded pool whose accounts are grouped into identities
// at random (some identities hold several accounts), one open vote, and
// the accounts that hold weight in it.
type voteWorld struct {
	terms    Terms
	base     []Fact
	voters   []string // accounts with an accepted stake
	identity map[string]string
	weights  map[string]money.E8s // identity -> capped weight
	total    money.E8s
}

func newVoteWorld(t *testing.T, rng *rand.Rand) voteWorld {
	t.Helper()
	w := voteWorld{terms: baseTerms(), identity: map[string]string{}, weights: map[string]money.E8s{}}
	w.terms.MaxVotingBps = money.Bps(1000 + rng.IntN(9001))
	w.terms.Identities = map[string]string{}
	var accounts []string
	group := 1 + rng.IntN(3) // up to 3 accounts per identity: under the 35% sponsor cap
	for i := 0; i < 12; i++ {
		a := acct(byte(0x10 + i))
		accounts = append(accounts, a)
		w.terms.Identities[a] = fmt.Sprintf("kyc:%d", i/group)
	}
	// 12 deposits of 8.5..11 ICP: the 100 ICP target is reached, the
	// deposit that passes it is cut, later ones refunded.
	for i, a := range accounts {
		amount := money.E8s(850_000_000 + rng.Int64N(250_000_001))
		w.base = append(w.base, dep(day(2), uint64(i+1), a, amount))
	}
	w.base = append(w.base, opened(day(5), "v", VoteTerminateHoster, day(20), money.Bps(1+rng.IntN(10000))))
	_, o := run(t, w.terms, w.base...)
	var s money.E8s
	byIdentity := map[string]money.E8s{}
	for _, sp := range o.Sponsors {
		s += sp.AcceptedE8s
		if sp.AcceptedE8s > 0 {
			w.voters = append(w.voters, sp.Sponsor)
			byIdentity[w.terms.Identities[sp.Sponsor]] += sp.AcceptedE8s
		}
	}
	for _, a := range accounts {
		w.identity[a] = w.terms.Identities[a]
	}
	capE8s := money.ApplyBps(s, w.terms.MaxVotingBps)
	for id, e8s := range byIdentity {
		w.weights[id] = min(e8s, capE8s)
		w.total += w.weights[id]
	}
	return w
}

// ballots applies the ballots in order, timed one minute apart after the
// snapshot, and returns the vote's result.
func (w voteWorld) tally(t *testing.T, bs []Fact) VoteResult {
	t.Helper()
	facts := append([]Fact{}, w.base...)
	for i, b := range bs {
		b.At = tm(fmt.Sprintf("2026-01-06T%02d:%02d:00Z", i/60, i%60))
		facts = append(facts, b)
	}
	_, o := run(t, w.terms, facts...)
	return o.Votes[0]
}

// The tally properties of issue "sponsors govern their pool": a tally never
// counts a weight twice (each identity's weight once, under its last
// ballot), never exceeds the snapshot total, and does not depend on the
// order ballots arrive in, except for each identity's last ballot.
func TestTallyProperties(t *testing.T) {
	choices := []Choice{ChoiceYes, ChoiceNo, ChoiceAbstain}
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		w := newVoteWorld(t, rng)
		// Earlier ballots (any voter, any choice), then one last ballot for
		// some identities, from any of their accounts.
		var early, last []Fact
		for i := 0; i < rng.IntN(40); i++ {
			early = append(early, ballot(day(6), "v", w.voters[rng.IntN(len(w.voters))], choices[rng.IntN(3)]))
		}
		final := map[string]Choice{}
		seen := map[string]bool{}
		for _, a := range w.voters {
			id := w.identity[a]
			if seen[id] || rng.IntN(4) == 0 {
				continue
			}
			seen[id] = true
			c := choices[rng.IntN(3)]
			final[id] = c
			last = append(last, ballot(day(6), "v", a, c))
		}
		// An identity with early ballots and no final one: its last early
		// ballot counts; compute the reference from the applied order.
		reference := func(bs []Fact) (yes, no, abstain money.E8s) {
			latest := map[string]Choice{}
			for _, b := range bs {
				latest[w.identity[b.Voter]] = b.Choice
			}
			for id, c := range latest {
				switch c {
				case ChoiceYes:
					yes += w.weights[id]
				case ChoiceNo:
					no += w.weights[id]
				default:
					abstain += w.weights[id]
				}
			}
			return
		}
		order := append(append([]Fact{}, early...), last...)
		v := w.tally(t, order)
		yes, no, abstain := reference(order)
		if v.YesE8s != yes || v.NoE8s != no || v.AbstainE8s != abstain || v.WeightTotalE8s != w.total {
			t.Fatalf("seed %d: tally %+v, reference yes %d no %d abstain %d of %d", seed, v, yes, no, abstain, w.total)
		}
		if v.YesE8s+v.NoE8s+v.AbstainE8s > v.WeightTotalE8s {
			t.Fatalf("seed %d: the ballots count %d of a total weight %d", seed, v.YesE8s+v.NoE8s+v.AbstainE8s, v.WeightTotalE8s)
		}
		// Another arrival order: the early ballots of identities that cast
		// a final one in any order, the finals last: the same tally.
		var earlyFinal, earlyOther []Fact
		for _, b := range early {
			if _, ok := final[w.identity[b.Voter]]; ok {
				earlyFinal = append(earlyFinal, b)
			} else {
				earlyOther = append(earlyOther, b)
			}
		}
		rng.Shuffle(len(earlyFinal), func(i, j int) { earlyFinal[i], earlyFinal[j] = earlyFinal[j], earlyFinal[i] })
		rng.Shuffle(len(last), func(i, j int) { last[i], last[j] = last[j], last[i] })
		shuffled := append(append(append([]Fact{}, earlyOther...), earlyFinal...), last...)
		if v2 := w.tally(t, shuffled); v2 != v {
			t.Fatalf("seed %d: another arrival order gives %+v, not %+v", seed, v2, v)
		}
	}
}

// Signed ballots carry a nonce: a voter's ballot whose nonce is not above
// its last accepted one is a replay and is refused; a higher one replaces
// the earlier choice.
func TestBallotNonceRefusesReplays(t *testing.T) {
	terms := baseTerms()
	base := append(fullyFunded(), opened(day(5), "v1", VoteGrantHosterAccess, day(10), 5000))
	signed := func(at string, c Choice, nonce uint64) Fact {
		f := ballot(at, "v1", s1, c)
		f.Nonce = nonce
		return f
	}
	err := applyErr(terms, append(base, signed(day(6), ChoiceYes, 7), signed(day(7), ChoiceNo, 7))...)
	if place(err) != "facts["+itoa(len(base)+1)+"].nonce" {
		t.Fatalf("the same nonce again: %v", err)
	}
	err = applyErr(terms, append(base, signed(day(6), ChoiceYes, 7), signed(day(7), ChoiceNo, 3))...)
	if place(err) != "facts["+itoa(len(base)+1)+"].nonce" {
		t.Fatalf("an older nonce: %v", err)
	}
	_, o := run(t, terms, append(base, signed(day(6), ChoiceYes, 7), signed(day(7), ChoiceNo, 8))...)
	if v := o.Votes[0]; v.NoE8s == 0 || v.YesE8s != 0 {
		t.Fatalf("a newer ballot did not replace the earlier: %+v", v)
	}
}
