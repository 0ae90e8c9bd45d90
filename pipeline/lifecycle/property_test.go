package lifecycle

import (
	"bytes"
	"fmt"
	"math/big"
	"reflect"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// TestProperties runs seeded random scenarios (the seed is in every failure)
// through the engine and through the JSON contract and checks: the replay
// equals the engine run; determinism; the hash matches the re-encoding;
// conservation recomputed from the input and the output alone; nothing
// negative; the stakes, funding time and refunds on arrival equal an
// independent reference model; the rows Apply returned are the output's.
func TestProperties(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		sc := randomScenario(seed, 80)
		if err := checkScenario(t, sc); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

func checkScenario(t *testing.T, sc scenario) error {
	p, err := New(sc.terms)
	if err != nil {
		return err
	}
	var streamed []Transfer
	for i, f := range sc.facts {
		rows, err := p.Apply(f)
		if err != nil {
			return fmt.Errorf("facts[%d]: %v", i, err)
		}
		if !reflect.DeepEqual(rows, sc.applied[i]) {
			return fmt.Errorf("facts[%d]: a second run returned other rows", i)
		}
		streamed = append(streamed, rows...)
	}
	direct := p.Result()
	checkOutput(t, direct)
	if !reflect.DeepEqual(streamed, direct.Transfers) && len(streamed)+len(direct.Transfers) > 0 {
		return fmt.Errorf("the rows Apply returned are not the output's transfers")
	}

	input := mustJSON(t, inputDoc(sc.terms, sc.facts))
	replayed, err := Replay(input)
	if err != nil {
		return fmt.Errorf("Replay: %v", err)
	}
	if !reflect.DeepEqual(replayed, direct) {
		return fmt.Errorf("Replay differs from the engine run")
	}
	b1, err := ReplayJSON(bytes.NewReader(input))
	if err != nil {
		return err
	}
	b2, _ := ReplayJSON(bytes.NewReader(input))
	if !bytes.Equal(b1, b2) {
		return fmt.Errorf("two replays differ")
	}
	canon := CanonicalEncoding(direct)
	if want := append(append(canon[:len(canon)-1:len(canon)-1], `,"lifecycle_sha256":"`+direct.LifecycleSHA256+`"}`...), '\n'); !bytes.Equal(b1, want) {
		return fmt.Errorf("printed bytes are not the canonical encoding plus the hash")
	}

	// Conservation from the outside, in big integers.
	deposits, out := new(big.Int), new(big.Int)
	for _, f := range sc.facts {
		if f.Type == FactDeposit {
			deposits.Add(deposits, big.NewInt(int64(f.AmountE8s)))
		}
	}
	out.Add(out, big.NewInt(int64(direct.StakeHeldE8s)))
	out.Add(out, big.NewInt(int64(direct.BondHeldE8s)))
	out.Add(out, big.NewInt(int64(direct.Retained.SlashE8s)))
	out.Add(out, new(big.Int).SetUint64(direct.Retained.DustE8s))
	for _, tr := range direct.Transfers {
		out.Add(out, big.NewInt(int64(tr.TransferE8s+tr.FeeE8s)))
	}
	if deposits.Cmp(out) != 0 {
		return fmt.Errorf("conservation: deposits %s, accounted %s", deposits, out)
	}

	ref := referenceStakes(sc.terms, sc.facts)
	if got := accepted(direct); !reflect.DeepEqual(got, ref.accepted) {
		return fmt.Errorf("stakes %v, reference %v", got, ref.accepted)
	}
	if direct.FundedAt != ref.fundedAt {
		return fmt.Errorf("funded_at %q, reference %q", direct.FundedAt, ref.fundedAt)
	}
	gotRefunds := map[string]money.E8s{}
	for _, tr := range direct.Transfers {
		if tr.Reason != "" {
			gotRefunds[tr.Cause+"/"+string(tr.Reason)] += tr.GrossE8s
		}
	}
	if !reflect.DeepEqual(gotRefunds, ref.refunds) {
		return fmt.Errorf("refunds on arrival %v, reference %v", gotRefunds, ref.refunds)
	}
	var total money.E8s
	for _, s := range direct.Sponsors {
		total += s.AcceptedE8s
	}
	if total > sc.terms.TargetE8s || (direct.FundedAt != "") != (total == sc.terms.TargetE8s) {
		return fmt.Errorf("accepted total %d vs target %d, funded_at %q", total, sc.terms.TargetE8s, direct.FundedAt)
	}
	switch direct.State {
	case StateExpired, StateRejected, StateFailed, StateActive, StateRetired:
		if direct.StakeHeldE8s != 0 {
			return fmt.Errorf("state %s still holds stake %d", direct.State, direct.StakeHeldE8s)
		}
	}
	return nil
}

type reference struct {
	accepted map[string]money.E8s
	fundedAt string
	refunds  map[string]money.E8s // "<block>/<reason>" -> gross
}

// referenceStakes recomputes who holds what stake straight from the rules
// text, sharing no code with the engine: a deposit to the deposit account
// is on time while the pool is funding and no later than the deadline; the
// target and each identity's cap bound what is accepted; the pool leaves
// funding when the target is reached. Bond deposits are refunded on
// arrival by their own three rules; the pool's later states only matter
// here in that they are not funding (funded, proposed, ... all refund
// "closed", and only funding..adopted take a bond).
func referenceStakes(terms Terms, facts []Fact) reference {
	r := reference{accepted: map[string]money.E8s{}, refunds: map[string]money.E8s{}}
	capE8s := money.E8s(new(big.Int).Div(new(big.Int).Mul(big.NewInt(int64(terms.TargetE8s)), big.NewInt(int64(terms.MaxSponsorBps))), big.NewInt(10_000)).Int64())
	identity := func(a string) string {
		if id, ok := terms.Identities[a]; ok {
			return id
		}
		return a
	}
	byIdentity := map[string]money.E8s{}
	var total, bondIn money.E8s
	funding, expired, takesBond := true, false, true
	for _, f := range facts {
		if funding && terms.FundingDeadline.Compare(f.At) < 0 {
			funding, expired, takesBond = false, true, false
		}
		switch {
		case f.Type == FactProposalDecided && f.Status != ProposalAdopted, f.Type == FactNodeUp:
			// rejected/failed end the pool; node_up may settle it (active)
			// only if the bond is complete, checked below.
			if f.Type == FactProposalDecided {
				takesBond = false
			} else if bondIn == terms.BondE8s {
				takesBond = false
			}
		case f.Type == FactNodeDown:
			takesBond = false
		}
		if f.Type != FactDeposit {
			continue
		}
		key := func(reason RefundReason) string { return fmt.Sprint(f.BlockIndex) + "/" + string(reason) }
		refund := func(amount money.E8s, reason RefundReason) {
			if amount > 0 {
				r.refunds[key(reason)] += amount
			}
		}
		if f.To == terms.BondAccount {
			switch {
			case f.From != terms.Purchaser:
				refund(f.AmountE8s, ReasonNotPurchaser)
			case !takesBond:
				refund(f.AmountE8s, ReasonClosed)
			default:
				acc := f.AmountE8s
				if room := terms.BondE8s - bondIn; acc > room {
					acc = room
				}
				bondIn += acc
				refund(f.AmountE8s-acc, ReasonOverBond)
				if acc > 0 && bondIn == terms.BondE8s && nodeUpBefore(facts, f) {
					takesBond = false // settled: active
				}
			}
			continue
		}
		switch {
		case expired:
			refund(f.AmountE8s, ReasonLate)
		case !funding:
			refund(f.AmountE8s, ReasonClosed)
		case f.AmountE8s < terms.MinContributionE8s:
			refund(f.AmountE8s, ReasonBelowMinimum)
		default:
			toTarget, toCap := terms.TargetE8s-total, capE8s-byIdentity[identity(f.From)]
			acc := f.AmountE8s
			if toTarget < acc {
				acc = toTarget
			}
			if toCap < acc {
				acc = toCap
			}
			if acc > 0 {
				r.accepted[f.From] += acc
				byIdentity[identity(f.From)] += acc
				total += acc
			}
			if toTarget <= toCap {
				refund(f.AmountE8s-acc, ReasonOverTarget)
			} else {
				refund(f.AmountE8s-acc, ReasonOverSponsorCap)
			}
			if total == terms.TargetE8s {
				funding, r.fundedAt = false, f.At.String()
			}
		}
	}
	return r
}

// nodeUpBefore reports whether a node_up precedes deposit d in facts (the
// generator only emits node_up in adopted, so it means "the node is up").
func nodeUpBefore(facts []Fact, d Fact) bool {
	for _, f := range facts {
		if f.Type == FactDeposit && f.BlockIndex == d.BlockIndex {
			return false
		}
		if f.Type == FactNodeUp {
			return true
		}
	}
	return false
}
