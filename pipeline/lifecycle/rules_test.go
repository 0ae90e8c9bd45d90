package lifecycle

import (
	"bytes"
	"errors"
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// TestRefundReasons: one case per refund reason on arrival, each with the
// exact row it must produce (docs/pool-rules.md "Deposits to the deposit account",
// "Deposits to the bond account", "Transfers and the ledger fee").
func TestRefundReasons(t *testing.T) {
	funded := fullyFunded()
	cases := []struct {
		name  string
		terms func(*Terms)
		facts []Fact
		want  []row // the rows the last fact produced
		state State
	}{
		{
			name:  "late: the pool expired",
			facts: []Fact{dep(day(2), 1, s1, 10*icp), dep("2026-03-01T00:00:01Z", 2, s2, 2*icp)},
			// the deadline refunds s1 first, then the late deposit
			want: []row{
				paid(TransferRefund, s1, 10*icp, "", "deadline", "2026-03-01T00:00:00Z"),
				paid(TransferRefund, s2, 2*icp, ReasonLate, "2", "2026-03-01T00:00:01Z"),
			},
			state: StateExpired,
		},
		{
			name:  "closed: the pool is funded",
			facts: with(funded, dep(day(5), 9, s3, 2*icp)),
			want:  []row{paid(TransferRefund, s3, 2*icp, ReasonClosed, "9", day(5))},
			state: StateFunded,
		},
		{
			name:  "closed beats below_minimum (step 1 before step 2)",
			facts: with(funded, dep(day(5), 9, s3, 1_000_000)),
			want:  []row{paid(TransferRefund, s3, 1_000_000, ReasonClosed, "9", day(5))},
			state: StateFunded,
		},
		{
			name:  "below_minimum",
			facts: []Fact{dep(day(2), 1, s1, 49_999_999)},
			want:  []row{paid(TransferRefund, s1, 49_999_999, ReasonBelowMinimum, "1", day(2))},
			state: StateFunding,
		},
		{
			name:  "exactly the minimum is accepted",
			facts: []Fact{dep(day(2), 1, s1, 50_000_000)},
			want:  nil,
			state: StateFunding,
		},
		{
			name:  "over_target: the target binds",
			facts: []Fact{dep(day(2), 1, whale, 35*icp), dep(day(3), 2, s1, 35*icp), dep(day(4), 3, s2, 32*icp)},
			want:  []row{paid(TransferRefund, s2, 2*icp, ReasonOverTarget, "3", day(4))},
			state: StateFunded,
		},
		{
			name:  "over_sponsor_cap: the cap binds",
			facts: []Fact{dep(day(2), 1, s1, 40*icp)},
			want:  []row{paid(TransferRefund, s1, 5*icp, ReasonOverSponsorCap, "1", day(2))},
			state: StateFunding,
		},
		{
			name:  "both bind equally: over_target",
			facts: []Fact{dep(day(2), 1, whale, 35*icp), dep(day(3), 2, s1, 30*icp), dep(day(4), 3, s2, 30*icp), dep(day(5), 4, s1, 9*icp)},
			// room to the target 5, room under s1's cap 5
			want:  []row{paid(TransferRefund, s1, 4*icp, ReasonOverTarget, "4", day(5))},
			state: StateFunded,
		},
		{
			name:  "the cap is per identity across accounts",
			terms: func(t *Terms) { t.Identities = map[string]string{s1: "kyc:ann", s2: "kyc:ann"} },
			facts: []Fact{dep(day(2), 1, s1, 30*icp), dep(day(3), 2, s2, 10*icp)},
			want:  []row{paid(TransferRefund, s2, 5*icp, ReasonOverSponsorCap, "2", day(3))},
			state: StateFunding,
		},
		{
			name:  "an identity at its cap: the whole deposit back",
			facts: []Fact{dep(day(2), 1, s1, 35*icp), dep(day(3), 2, s1, icp)},
			want:  []row{paid(TransferRefund, s1, icp, ReasonOverSponsorCap, "2", day(3))},
			state: StateFunding,
		},
		{
			name:  "not_purchaser on the bond account",
			facts: []Fact{bond(day(2), 1, s1, icp)},
			want:  []row{paid(TransferRefund, s1, icp, ReasonNotPurchaser, "1", day(2))},
			state: StateFunding,
		},
		{
			name:  "not_purchaser beats closed",
			facts: with(adoptedWithBond(), nodeUp(day(9), "n1"), bond(day(10), 9, s1, icp)),
			want:  []row{paid(TransferRefund, s1, icp, ReasonNotPurchaser, "9", day(10))},
			state: StateActive,
		},
		{
			name:  "over_bond",
			facts: []Fact{bond(day(2), 1, whale, 12*icp)},
			want:  []row{paid(TransferRefund, whale, 2*icp, ReasonOverBond, "1", day(2))},
			state: StateFunding,
		},
		{
			name:  "bond deposit to an active pool: closed",
			facts: with(adoptedWithBond(), nodeUp(day(9), "n1"), bond(day(10), 9, whale, icp)),
			want:  []row{paid(TransferRefund, whale, icp, ReasonClosed, "9", day(10))},
			state: StateActive,
		},
		{
			name:  "bond deposit to an expired pool: closed, not late",
			facts: []Fact{bond("2026-03-02T00:00:00Z", 1, whale, icp)},
			want:  []row{paid(TransferRefund, whale, icp, ReasonClosed, "1", "2026-03-02T00:00:00Z")},
			state: StateExpired,
		},
		{
			name:  "a refund of at most the fee is dust",
			facts: []Fact{dep(day(2), 1, s1, 10_000)},
			want:  []row{{TransferRefund, s1, 10_000, 0, 0, ReasonBelowMinimum, "1", day(2)}},
			state: StateFunding,
		},
		{
			name:  "one e8s over the fee is sent",
			facts: []Fact{dep(day(2), 1, s1, 10_001)},
			want:  []row{{TransferRefund, s1, 10_001, 1, 10_000, ReasonBelowMinimum, "1", day(2)}},
			state: StateFunding,
		},
		{
			name:  "an amount of 0 makes no row",
			terms: func(t *Terms) { t.MinContributionE8s = 0 },
			facts: []Fact{dep(day(2), 1, s1, 0)},
			want:  nil,
			state: StateFunding,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			terms := baseTerms()
			if c.terms != nil {
				c.terms(&terms)
			}
			p, err := New(terms)
			if err != nil {
				t.Fatal(err)
			}
			var last []Transfer
			for i, f := range c.facts {
				if last, err = p.Apply(f); err != nil {
					t.Fatalf("facts[%d]: %v", i, err)
				}
			}
			got := rows(Output{Transfers: last})
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("rows of the last fact:\n got %+v\nwant %+v", got, c.want)
			}
			if p.State() != c.state {
				t.Fatalf("state %s, want %s", p.State(), c.state)
			}
			checkOutput(t, p.Result())
		})
	}
}

// TestStateTransitions walks every arrow of docs/pool-rules.md "States".
func TestStateTransitions(t *testing.T) {
	cases := []struct {
		name  string
		facts []Fact
		want  State
	}{
		{"new pool", nil, StateFunding},
		{"funding -> funded at the target", fullyFunded(), StateFunded},
		{"funding -> expired after the deadline", []Fact{dep(day(2), 1, s1, icp), tick("2026-03-01T00:00:01Z")}, StateExpired},
		{"funded -> proposed", with(fullyFunded(), submitted(day(6), 7)), StateProposed},
		{"proposed -> adopted", with(fullyFunded(), submitted(day(6), 7), decided(day(7), 7, ProposalAdopted)), StateAdopted},
		{"proposed -> rejected", with(fullyFunded(), submitted(day(6), 7), decided(day(7), 7, ProposalRejected)), StateRejected},
		{"proposed -> failed", with(fullyFunded(), submitted(day(6), 7), decided(day(7), 7, ProposalFailed)), StateFailed},
		{"adopted -> active (node up, bond complete)", with(adoptedWithBond(), nodeUp(day(9), "n1")), StateActive},
		{"adopted stays adopted without the bond", with(fullyFunded(), submitted(day(6), 7), decided(day(8), 7, ProposalAdopted), nodeUp(day(9), "n1")), StateAdopted},
		{"active -> retired", with(adoptedWithBond(), nodeUp(day(9), "n1"), nodeDown(day(10), "n1")), StateRetired},
		{"a funded pool does not expire", with(fullyFunded(), tick("2026-04-01T00:00:00Z")), StateFunded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, o := run(t, baseTerms(), c.facts...); o.State != c.want {
				t.Fatalf("state %s, want %s", o.State, c.want)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	t.Run("a deposit at the deadline is on time", func(t *testing.T) {
		terms := baseTerms()
		terms.FundingDeadline = tm("2026-03-01T01:00:00+01:00") // the same instant as 00:00Z
		_, o := run(t, terms, dep("2026-03-01T00:00:00Z", 1, s1, icp))
		if o.State != StateFunding || accepted(o)[s1] != icp {
			t.Fatalf("state %s, accepted %v", o.State, accepted(o))
		}
	})
	t.Run("nothing fires after the last fact", func(t *testing.T) {
		_, o := run(t, baseTerms(), dep(day(2), 1, s1, icp), dep("2026-03-01T00:00:00Z", 2, s2, icp))
		if o.State != StateFunding || len(o.Transfers) != 0 || o.StakeHeldE8s != 2*icp {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("expiry refunds every account in byte order, then the bond, at the deadline's text", func(t *testing.T) {
		terms := baseTerms()
		terms.FundingDeadline = tm("2026-03-01T01:00:00+01:00")
		_, o := run(t, terms,
			dep(day(2), 1, s2, 2*icp), dep(day(3), 2, s1, 3*icp), dep(day(4), 3, s3, 4*icp), dep(day(5), 4, s1, icp),
			bond(day(6), 5, whale, 3*icp),
			tick("2026-03-01T00:00:00.000000001Z"),
		)
		at := "2026-03-01T01:00:00+01:00"
		want := []row{ // s3 < s1 < s2 in bytes
			paid(TransferRefund, s3, 4*icp, "", "deadline", at),
			paid(TransferRefund, s1, 4*icp, "", "deadline", at),
			paid(TransferRefund, s2, 2*icp, "", "deadline", at),
			paid(TransferBondReturn, whale, 3*icp, "", "deadline", at),
		}
		if got := rows(o); !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
		if o.StakeHeldE8s != 0 || o.BondHeldE8s != 0 || accepted(o)[s1] != 4*icp {
			t.Fatalf("after expiry: %+v", o)
		}
	})
}

// TestRejectedSlash: the slash is floored per contribution, then summed per
// account: 3 contributions of 15 e8s at 25% slash lose 3 each (9), where a
// per-account floor would take floor(45/4) = 11.
func TestRejectedSlash(t *testing.T) {
	terms := baseTerms()
	terms.TargetE8s, terms.MinContributionE8s, terms.MaxSponsorBps = 1000, 10, 10_000
	terms.SlashBps, terms.LedgerFeeE8s, terms.BondE8s = 2500, 5, 7
	_, o := run(t, terms,
		dep(day(2), 1, s1, 15), dep(day(2), 2, s1, 15), dep(day(2), 3, s1, 15),
		dep(day(3), 4, s2, 955),
		bond(day(3), 5, whale, 7),
		submitted(day(4), 99), decided(day(5), 99, ProposalRejected),
	)
	// s1: 45 - 9 = 36; s2: 955 - floor(238.75) = 717; bond 7 back.
	want := []row{
		{TransferRefund, s1, 36, 31, 5, "", "99", day(5)},
		{TransferRefund, s2, 717, 712, 5, "", "99", day(5)},
		{TransferBondReturn, whale, 7, 2, 5, "", "99", day(5)},
	}
	if got := rows(o); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if o.Retained.SlashE8s != 9+238 || o.State != StateRejected || o.StakeHeldE8s != 0 {
		t.Fatalf("%+v", o)
	}
}

func TestRejectedFullSlashMakesNoRows(t *testing.T) {
	terms := baseTerms()
	terms.SlashBps = 10_000
	_, o := run(t, terms, with(fullyFunded(), submitted(day(6), 7), decided(day(7), 7, ProposalRejected))...)
	if len(o.Transfers) != 0 || o.Retained.SlashE8s != 100*icp {
		t.Fatalf("%+v", o)
	}
}

func TestFailedRefundsInFull(t *testing.T) {
	_, o := run(t, baseTerms(), with(adoptedWithBond()[:5], decided(day(8), 7, ProposalFailed))...)
	want := []row{ // s1 < whale < s2
		paid(TransferRefund, s1, 35*icp, "", "7", day(8)),
		paid(TransferRefund, whale, 35*icp, "", "7", day(8)),
		paid(TransferRefund, s2, 30*icp, "", "7", day(8)),
		paid(TransferBondReturn, whale, 10*icp, "", "7", day(8)),
	}
	if got := rows(o); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if o.Retained.SlashE8s != 0 || o.State != StateFailed {
		t.Fatalf("%+v", o)
	}
}

func TestSettlement(t *testing.T) {
	t.Run("the node comes up after the bond: cause is the node", func(t *testing.T) {
		_, o := run(t, baseTerms(), with(adoptedWithBond(), nodeUp(day(9), "node-1"))...)
		want := []row{paid(TransferSettlement, whale, 100*icp, "", "node-1", day(9))}
		if got := rows(o); !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v", got)
		}
		if o.SettledAt != day(9) || o.StakeHeldE8s != 0 || o.BondHeldE8s != 10*icp || accepted(o)[s1] != 35*icp {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("the bond completes after the node: cause is the block, the over_bond refund first", func(t *testing.T) {
		facts := append(fullyFunded(),
			bond(day(5), 4, whale, 4*icp),
			submitted(day(6), 7), decided(day(7), 7, ProposalAdopted),
			nodeUp(day(8), "node-1"), nodeUp(day(9), "node-2"), // repeats while adopted; the last counts
			bond(day(10), 5, whale, 7*icp),
		)
		p, o := run(t, baseTerms(), facts...)
		want := []row{
			paid(TransferRefund, whale, icp, ReasonOverBond, "5", day(10)),
			paid(TransferSettlement, whale, 100*icp, "", "5", day(10)),
		}
		if got := rows(o); !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v", got)
		}
		if _, err := p.Apply(nodeDown(day(11), "node-1")); place(err) != "node_id" {
			t.Fatalf("node_down naming the earlier node: %v", err)
		}
		if _, err := p.Apply(nodeDown(day(11), "node-2")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no bond: the first node_up settles", func(t *testing.T) {
		terms := baseTerms()
		terms.BondE8s = 0
		_, o := run(t, terms, with(fullyFunded(), submitted(day(6), 7), decided(day(7), 7, ProposalAdopted), nodeUp(day(8), "n"))...)
		if o.State != StateActive || o.SettledAt != day(8) {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("a settlement of at most the fee is dust", func(t *testing.T) {
		terms := baseTerms()
		terms.TargetE8s, terms.MinContributionE8s, terms.MaxSponsorBps, terms.BondE8s = 10_000, 0, 10_000, 0
		_, o := run(t, terms, dep(day(2), 1, s1, 10_000), submitted(day(3), 1), decided(day(4), 1, ProposalAdopted), nodeUp(day(5), "n"))
		want := []row{{TransferSettlement, whale, 10_000, 0, 0, "", "n", day(5)}}
		if got := rows(o); !reflect.DeepEqual(got, want) || o.Retained.DustE8s != 10_000 {
			t.Fatalf("got %+v, dust %d", got, o.Retained.DustE8s)
		}
	})
}

func TestLockup(t *testing.T) {
	active := func() []Fact { return with(adoptedWithBond(), nodeUp(day(9), "n1")) }
	t.Run("lock-up end returns the bond of an active pool", func(t *testing.T) {
		_, o := run(t, baseTerms(), with(active(), tick("2027-03-01T00:00:01Z"), nodeDown("2027-04-01T00:00:00Z", "n1"))...)
		got := rows(o)[1:]
		want := []row{paid(TransferBondReturn, whale, 10*icp, "", "lockup_end", "2027-03-01T00:00:00Z")}
		if !reflect.DeepEqual(got, want) || o.BondHeldE8s != 0 || o.State != StateRetired {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("node_down exactly at lockup_until returns the bond, cause the node", func(t *testing.T) {
		_, o := run(t, baseTerms(), with(active(), nodeDown("2027-03-01T00:00:00Z", "n1"), tick("2027-03-02T00:00:00Z"))...)
		got := rows(o)[1:]
		want := []row{paid(TransferBondReturn, whale, 10*icp, "", "n1", "2027-03-01T00:00:00Z")}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("lock-up ended before the pool was active: the bond goes back at node_down", func(t *testing.T) {
		terms := baseTerms()
		terms.LockupUntil = tm("2026-01-08T12:00:00Z") // after adoption, before the node is up
		_, o := run(t, terms, with(active(), nodeDown(day(20), "n1"))...)
		got := rows(o)[1:]
		want := []row{paid(TransferBondReturn, whale, 10*icp, "", "n1", day(20))}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("lock-up end with no later fact has not fired", func(t *testing.T) {
		_, o := run(t, baseTerms(), with(active(), tick("2027-03-01T00:00:00Z"))...)
		if o.BondHeldE8s != 10*icp {
			t.Fatalf("bond held %d", o.BondHeldE8s)
		}
	})
}

// TestBondForfeit: node_down before the lock-up ends splits the bond by the
// accounts' accepted totals, largest remainder, ties by smallest account.
func TestBondForfeit(t *testing.T) {
	terms := baseTerms()
	terms.BondE8s = 1_000_000_002
	terms.Identities = map[string]string{s3: "kyc:carol"}
	facts := []Fact{
		dep(day(2), 1, whale, 35*icp), dep(day(2), 2, s2, 20*icp), dep(day(2), 3, s3, 20*icp),
		dep(day(2), 4, s4, 15*icp), dep(day(2), 5, s5, 10*icp),
		bond(day(3), 6, whale, 1_000_000_002),
		submitted(day(4), 1), decided(day(5), 1, ProposalAdopted), nodeUp(day(6), "n"),
		nodeDown(day(7), "n"),
	}
	_, o := run(t, terms, facts...)
	// floor(1_000_000_002 * a / 100 ICP): whale 350_000_000 r .70, s2 and s3
	// 200_000_000 r .40, s4 150_000_000 r .30, s5 100_000_000 r .20; two units
	// left: the whale (largest), then s3 over s2 (tie, s3 < s2 in bytes).
	want := []row{ // account order: s3 < s4 < s5 < whale < s2
		paid(TransferBondForfeit, s3, 200_000_001, "", "n", day(7)),
		paid(TransferBondForfeit, s4, 150_000_000, "", "n", day(7)),
		paid(TransferBondForfeit, s5, 100_000_000, "", "n", day(7)),
		paid(TransferBondForfeit, whale, 350_000_001, "", "n", day(7)),
		paid(TransferBondForfeit, s2, 200_000_000, "", "n", day(7)),
	}
	if got := rows(o)[1:]; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestBondForfeitZeroPartsAndDust(t *testing.T) {
	terms := baseTerms()
	terms.BondE8s, terms.LedgerFeeE8s = 3, 1
	terms.TargetE8s, terms.MinContributionE8s, terms.MaxSponsorBps = 100, 0, 10_000
	_, o := run(t, terms,
		dep(day(2), 1, s1, 60), dep(day(2), 2, s2, 30), dep(day(2), 3, s3, 10),
		bond(day(3), 4, whale, 3), submitted(day(4), 1), decided(day(5), 1, ProposalAdopted),
		nodeUp(day(6), "n"), nodeDown(day(7), "n"),
	)
	// 3 * (60, 30, 10) / 100 = 1.8, 0.9, 0.3: floors 1, 0, 0; two units left,
	// to s2 (.9) and s1 (.8). s3's part is 0: no row. Each part is 1 <= fee: dust.
	want := []row{
		{TransferBondForfeit, s1, 2, 1, 1, "", "n", day(7)},
		{TransferBondForfeit, s2, 1, 0, 0, "", "n", day(7)},
	}
	if got := rows(o)[1:]; !reflect.DeepEqual(got, want) || o.Retained.DustE8s != 1 {
		t.Fatalf("got %+v, dust %d", got, o.Retained.DustE8s)
	}
}

func TestVotes(t *testing.T) {
	terms := baseTerms()
	terms.Identities = map[string]string{s1: "kyc:ann", s3: "kyc:ann"}
	// whale 35, ann 20 + 15 = 35, s2 30: the cap is 30% of 100 = 30 each; W = 90.
	base := []Fact{
		dep(day(2), 1, whale, 35*icp), dep(day(2), 2, s1, 20*icp), dep(day(2), 3, s3, 15*icp), dep(day(2), 4, s2, 30*icp),
		opened(day(3), "v1", VoteGrantHosterAccess, day(10), 6000),
	}
	vote := func(facts ...Fact) VoteResult {
		t.Helper()
		_, o := run(t, terms, append(append([]Fact{}, base...), facts...)...)
		return o.Votes[0]
	}
	t.Run("snapshot weights are capped per identity", func(t *testing.T) {
		v := vote()
		if v.WeightTotalE8s != 90*icp || v.Status != VoteOpen {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("an identity's last ballot counts, from any of its accounts", func(t *testing.T) {
		v := vote(ballot(day(4), "v1", s1, ChoiceNo), ballot(day(5), "v1", s3, ChoiceYes), ballot(day(5), "v1", whale, ChoiceAbstain))
		if v.YesE8s != 30*icp || v.NoE8s != 0 || v.AbstainE8s != 30*icp {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("passed at exactly the threshold of all the weight", func(t *testing.T) {
		// yes 30 + 30 = 60 of 90 = 66.67% >= 60%.
		v := vote(ballot(day(4), "v1", s1, ChoiceYes), ballot(day(4), "v1", s2, ChoiceYes), tick(day(11)))
		if v.Status != VotePassed {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("failed below the threshold even with no no-votes", func(t *testing.T) {
		v := vote(ballot(day(4), "v1", s1, ChoiceYes), tick(day(11)))
		if v.Status != VoteFailed {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("a ballot at closes_at counts", func(t *testing.T) {
		v := vote(ballot(day(4), "v1", s1, ChoiceYes), ballot(day(10), "v1", s2, ChoiceYes), tick(day(11)))
		if v.Status != VotePassed || v.YesE8s != 60*icp {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("the vote stays open through the pool's end", func(t *testing.T) {
		v := vote(
			submitted(day(4), 5), decided(day(5), 5, ProposalRejected),
			ballot(day(6), "v1", s1, ChoiceYes), ballot(day(6), "v1", whale, ChoiceYes), tick(day(11)),
		)
		if v.Status != VotePassed || v.YesE8s != 60*icp {
			t.Fatalf("%+v", v)
		}
	})
}

func TestVoteThresholdBoundary(t *testing.T) {
	// W = 90 ICP; yes = 50 ICP. 50 * 10000 = 500,000 >= 5555 * 90 = 499,950
	// passes; 5556 * 90 = 500,040 fails.
	for _, c := range []struct {
		threshold money.Bps
		want      VoteStatus
	}{{5555, VotePassed}, {5556, VoteFailed}, {1, VotePassed}, {10_000, VoteFailed}} {
		terms := baseTerms()
		terms.MaxSponsorBps = 4000
		_, o := run(t, terms,
			dep(day(2), 1, whale, 40*icp), dep(day(2), 2, s1, 30*icp), dep(day(2), 3, s2, 20*icp), dep(day(2), 4, s3, 10*icp),
			opened(day(3), "v", VoteApproveManifest, day(4), c.threshold),
			ballot(day(3), "v", s1, ChoiceYes), ballot(day(3), "v", s2, ChoiceYes), tick(day(5)),
		)
		// whale 40 capped to 30; W = 30 + 30 + 20 + 10 = 90.
		if v := o.Votes[0]; v.Status != c.want || v.WeightTotalE8s != 90*icp || v.YesE8s != 50*icp {
			t.Errorf("threshold %d: %+v, want %s", c.threshold, v, c.want)
		}
	}
}

// TestTimedRuleOrder: rules due strictly before a fact fire before it, in
// time order; rules due at the same instant as a fact fire after it.
func TestTimedRuleOrder(t *testing.T) {
	terms := baseTerms()
	terms.LockupUntil = tm("2026-01-10T00:00:00Z")
	p, err := New(terms)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range with(adoptedWithBond(), nodeUp(day(9), "n"),
		opened(day(9), "vb", VoteTerminateHoster, day(10), 1), opened(day(9), "va", VoteTerminateHoster, day(10), 1),
		opened(day(9), "vc", VoteTerminateHoster, "2026-01-09T12:00:00Z", 1),
	) {
		if _, err := p.Apply(f); err != nil {
			t.Fatal(err)
		}
	}
	if got := []string{p.openVotes[0].id, p.openVotes[1].id, p.openVotes[2].id}; !reflect.DeepEqual(got, []string{"vc", "va", "vb"}) {
		t.Fatalf("open votes in close order: %v", got)
	}
	// A ballot at day 10 counts for va and vb (due at its at), vc is closed.
	if _, err := p.Apply(ballot(day(10), "vc", s1, ChoiceYes)); place(err) != "at" {
		t.Fatalf("ballot after vc closed: %v", err)
	}
	if _, err := p.Apply(ballot(day(10), "vb", s1, ChoiceYes)); err != nil {
		t.Fatal(err)
	}
	if p.votes["vc"].status != VoteFailed || p.votes["vb"].status != VoteOpen || p.bondHeld != 10*icp {
		t.Fatalf("vc %s vb %s bond %d", p.votes["vc"].status, p.votes["vb"].status, p.bondHeld)
	}
	rowsOut, err := p.Apply(tick(day(11)))
	if err != nil {
		t.Fatal(err)
	}
	// va, vb close (by vote_id), then the lock-up ends and returns the bond.
	if len(rowsOut) != 1 || rowsOut[0].Cause != "lockup_end" || p.votes["va"].status == VoteOpen || p.votes["vb"].status == VoteOpen {
		t.Fatalf("rows %+v", rowsOut)
	}
}

// TestVoteOpenedAfterItsClose: the rules do not make a closes_at earlier
// than the vote_opened's at invalid input. The close is then a timed rule
// already due: it fires before the next fact (even one at the same instant,
// as it is due strictly before it), and no ballot can reach the vote.
func TestVoteOpenedAfterItsClose(t *testing.T) {
	late := opened(day(5), "v", VoteApproveManifest, day(4), 1)
	t.Run("the last fact: still open", func(t *testing.T) {
		_, o := run(t, baseTerms(), with(fullyFunded(), late)...)
		if v := o.Votes[0]; v.Status != VoteOpen || v.WeightTotalE8s != 90*icp {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("closed by the next fact at the same instant", func(t *testing.T) {
		_, o := run(t, baseTerms(), with(fullyFunded(), late, tick(day(5)))...)
		if v := o.Votes[0]; v.Status != VoteFailed {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("a ballot is after its close", func(t *testing.T) {
		if got := place(applyErr(baseTerms(), with(fullyFunded(), late, ballot(day(5), "v", s1, ChoiceYes))...)); got != "facts[4].at" {
			t.Fatalf("place %q", got)
		}
	})
}

// TestEmptyIDs: the rules bound ids only by type (and an identity by not
// being an account), so the empty string is a valid pool_id, identity,
// node_id and vote_id, and the output writes it as "".
func TestEmptyIDs(t *testing.T) {
	terms := baseTerms()
	terms.PoolID = ""
	terms.Identities = map[string]string{s1: "", s3: ""}
	facts := with(fullyFunded()[:2], dep(day(4), 3, s3, 30*icp), dep(day(4), 4, s2, 30*icp),
		bond(day(5), 5, whale, 10*icp), submitted(day(6), 7), decided(day(8), 7, ProposalAdopted),
		nodeUp(day(9), ""), opened(day(10), "", VoteApproveManifest, day(11), 3000),
		ballot(day(10), "", s3, ChoiceYes), tick(day(12)), nodeDown(day(13), ""),
	)
	out, err := ReplayJSON(bytes.NewReader(mustJSON(t, inputDoc(terms, facts))))
	if err != nil {
		t.Fatal(err)
	}
	_, o := run(t, terms, facts...)
	// s1's 35 takes the identity "" to its cap, so s3's 30 is refunded
	// (over_sponsor_cap) and s2's 30 funds the pool. s3 still votes for "":
	// W = 30 + 30 + 30 (capped), yes 30 >= 30% of 90.
	if o.PoolID != "" || o.State != StateRetired || o.Sponsors[0].Identity != "" || o.Votes[0].VoteID != "" ||
		o.Votes[0].Status != VotePassed || o.Transfers[1].Cause != "" || o.Transfers[1].Kind != TransferSettlement {
		t.Fatalf("%+v", o)
	}
	if !bytes.HasPrefix(out, []byte(`{"pool_id":"",`)) || !bytes.Contains(out, []byte(`"identity":"","accepted_e8s":3500000000`)) {
		t.Fatalf("%s", out)
	}
}

func TestApplyReturnsTheRowsItCaused(t *testing.T) {
	p, err := New(baseTerms())
	if err != nil {
		t.Fatal(err)
	}
	if r, err := p.Apply(dep(day(2), 1, s1, icp)); err != nil || r != nil {
		t.Fatalf("%v %v", r, err)
	}
	r, err := p.Apply(dep("2026-03-02T00:00:00Z", 2, s1, 40*icp))
	if err != nil || len(r) != 2 || r[0].Seq != 0 || r[1].Seq != 1 || r[1].Reason != ReasonLate {
		t.Fatalf("%+v %v", r, err)
	}
	r[0].GrossE8s = 1 // the caller's copy
	if p.Result().Transfers[0].GrossE8s != icp {
		t.Fatal("Apply's rows alias the pool's")
	}
}

// TestInvalidFactLeavesPoolUnchanged: a stream processor dead-letters an
// invalid fact and goes on, so Apply must not have fired the timers.
func TestInvalidFactLeavesPoolUnchanged(t *testing.T) {
	p, err := New(baseTerms())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(dep(day(2), 1, s1, icp)); err != nil {
		t.Fatal(err)
	}
	before := EncodeOutput(p.Result())
	if _, err := p.Apply(submitted("2026-04-01T00:00:00Z", 1)); place(err) != "type" {
		t.Fatalf("proposal in an expired pool: %v", err)
	}
	if got := EncodeOutput(p.Result()); string(got) != string(before) || p.State() != StateFunding {
		t.Fatalf("the invalid fact changed the pool:\n%s\n%s", before, got)
	}
	// and the deadline still fires with the next valid fact
	if _, err := p.Apply(tick("2026-04-01T00:00:00Z")); err != nil || p.State() != StateExpired {
		t.Fatalf("%v %s", err, p.State())
	}
}

func TestTimesCompareAsInstants(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00", 0},
		{"2026-01-01T00:00:00Z", "2025-12-31T23:59:59-00:01", -1}, // = 00:00:59Z
		{"2026-01-01T00:00:00.5Z", "2026-01-01T00:00:00.50Z", 0},
		{"2026-01-01T00:00:00.05Z", "2026-01-01T00:00:00.5Z", -1},
		{"2026-01-01T00:00:00.0000000001Z", "2026-01-01T00:00:00Z", 1},
		{"2026-01-01T00:00:00.0000000001Z", "2026-01-01T00:00:00.00000000010Z", 0},
		{"2026-01-01t00:00:00z", "2026-01-01T00:00:00Z", 0},
	}
	for _, c := range cases {
		if got := tm(c.a).Compare(tm(c.b)); got != c.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	for _, bad := range []string{"2026-01-01", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00", "2026-02-29T00:00:00Z",
		"2026-01-01T24:00:00Z", "2026-01-01T00:00:60Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+0100", "2026-13-01T00:00:00Z", ""} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
	if _, err := ParseTime("2028-02-29T00:00:00Z"); err != nil {
		t.Error(err)
	}
}

func TestValidateAccount(t *testing.T) {
	if err := ValidateAccount(s1); err != nil {
		t.Fatal(err)
	}
	bad := []string{
		s1[:63],
		s1 + "0",
		"5B116ADF01010101010101010101010101010101010101010101010101010101", // uppercase
		"5b116ade01010101010101010101010101010101010101010101010101010101", // checksum off by one
		"5b116adf0101010101010101010101010101010101010101010101010101010g",
	}
	for _, b := range bad {
		if err := ValidateAccount(b); err == nil {
			t.Errorf("ValidateAccount(%q) accepted", b)
		}
	}
}

// TestConservationBreakIsAnInvariantError: a broken book (a bug, simulated
// here) is reported as ErrInvariant by the next Apply, never a panic, and
// the pool refuses every fact after it.
func TestConservationBreakIsAnInvariantError(t *testing.T) {
	p, err := New(baseTerms())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(dep(day(2), 1, s1, icp)); err != nil {
		t.Fatal(err)
	}
	p.stakeHeld++ // one e8s from nowhere
	_, err = p.Apply(tick(day(3)))
	if !errors.Is(err, ErrInvariant) || errors.Is(err, ErrInvalidInput) {
		t.Fatalf("got %v", err)
	}
	if _, err := p.Apply(tick(day(4))); !errors.Is(err, ErrInvariant) {
		t.Fatalf("a broken pool accepted a fact: %v", err)
	}
}

// TestLargestRemainderProperties: the parts sum to the amount, each is its
// exact share floored or one more, and the extra units go to the largest
// remainders, ties to the smaller index.
func TestLargestRemainderProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 20_000; i++ {
		n := 1 + rng.IntN(8)
		weights := make([]money.E8s, n)
		var total money.E8s
		for j := range weights {
			weights[j] = money.E8s(rng.Int64N(1 + rng.Int64N(1_000_000)))
			if rng.IntN(3) == 0 && j > 0 {
				weights[j] = weights[j-1] // ties
			}
			total += weights[j]
		}
		if total == 0 {
			continue
		}
		amount := money.E8s(rng.Int64N(1 << 40))
		parts, err := largestRemainder(amount, weights, total)
		if err != nil {
			t.Fatal(err)
		}
		var sum money.E8s
		type rem struct {
			r   *big.Int
			idx int
		}
		var extra, rest []rem
		for j, w := range weights {
			q, r := new(big.Int).QuoRem(new(big.Int).Mul(big.NewInt(int64(amount)), big.NewInt(int64(w))), big.NewInt(int64(total)), new(big.Int))
			switch parts[j] - money.E8s(q.Int64()) {
			case 0:
				rest = append(rest, rem{r, j})
			case 1:
				extra = append(extra, rem{r, j})
			default:
				t.Fatalf("seed case %d: part %d = %d, floor %s", i, j, parts[j], q)
			}
			sum += parts[j]
		}
		if sum != amount {
			t.Fatalf("case %d: parts sum to %d, not %d", i, sum, amount)
		}
		for _, e := range extra {
			for _, o := range rest {
				if c := e.r.Cmp(o.r); c < 0 || (c == 0 && e.idx > o.idx) {
					t.Fatalf("case %d: index %d (remainder %s) got a unit before index %d (remainder %s)", i, e.idx, e.r, o.idx, o.r)
				}
			}
		}
	}
}
