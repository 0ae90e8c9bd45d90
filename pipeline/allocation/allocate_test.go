package allocation

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// forumPool is the proposal's example: a node costs 100 ICP, the whale funds
// 30, sixty others 0.5-2 each (20 x 2 + 20 x 1 + 20 x 0.5 = 70 ICP), and the
// whale's premium is 35%. The reward is 10 ICP, hoster 10%, DAO 2%.
func forumPool() PoolPeriod {
	in := pool(1_000_000_000, contrib("c-whale", "whale", 30*money.E8sPerICP, 0))
	in.Hoster.FeeBps = 1000
	in.DAOFeeBps = 200
	in.WhalePremiumBps = 3500
	in.LedgerFeeE8s = 10_000
	for i := 0; i < 60; i++ {
		amount := []money.E8s{200_000_000, 100_000_000, 50_000_000}[i/20]
		in.Contributions = append(in.Contributions, contrib(fmt.Sprintf("c%02d", i), fmt.Sprintf("s%02d", i), amount, 1+i))
	}
	return in
}

func TestForumExample(t *testing.T) {
	r := mustAllocate(t, forumPool())
	// H     = floor(1,000,000,000 * 1000 / 10000)        = 100,000,000 (fixed part 0)
	// D_fee = floor((1e9 - 1e8) * 200 / 10000)            =  18,000,000
	// D     = 1e9 - 1e8 - 18,000,000                      = 882,000,000
	// P     = floor(882,000,000 * 3500 / 10000)           = 308,700,000
	// W     = floor(882,000,000 * 30e8 / 100e8)           = 264,600,000 < P: premium applies
	// others split D - P = 573,300,000 over T = 70e8:
	//   2 ICP:   573,300,000 * 2e8   / 70e8 = 16,380,000 (exact)
	//   1 ICP:   573,300,000 * 1e8   / 70e8 =  8,190,000 (exact)
	//   0.5 ICP: 573,300,000 * 0.5e8 / 70e8 =  4,095,000 (exact)
	//   20 * (16.38M + 8.19M + 4.095M) = 573,300,000, no leftover.
	if r.HosterFeeE8s != 100_000_000 || r.DAOFeeE8s != 18_000_000 || r.DistributableE8s != 882_000_000 {
		t.Fatalf("H, D_fee, D = %d, %d, %d", r.HosterFeeE8s, r.DAOFeeE8s, r.DistributableE8s)
	}
	if r.Whale != "whale" || r.PremiumE8s != 308_700_000 || r.WhaleProRataE8s != 264_600_000 {
		t.Fatalf("whale %q P %d W %d", r.Whale, r.PremiumE8s, r.WhaleProRataE8s)
	}
	w := shareOf(t, r, "whale")
	if w.ShareE8s != 308_700_000 || w.TransferE8s != 308_690_000 || w.FeeE8s != 10_000 {
		t.Fatalf("whale %+v", w)
	}
	for i, want := range map[int]money.E8s{0: 16_380_000, 19: 16_380_000, 20: 8_190_000, 39: 8_190_000, 40: 4_095_000, 59: 4_095_000} {
		s := shareOf(t, r, fmt.Sprintf("s%02d", i))
		if s.ShareE8s != want || s.TransferE8s != want-10_000 {
			t.Errorf("s%02d: share %d transfer %d, want %d, %d", i, s.ShareE8s, s.TransferE8s, want, want-10_000)
		}
	}
	// Hoster: owed 100,000,000, transfer 99,990,000.
	if h := r.Hoster; h.OwedE8s != 100_000_000 || h.TransferE8s != 99_990_000 || h.FeeE8s != 10_000 {
		t.Fatalf("hoster %+v", h)
	}
}

func TestLargestRemainder(t *testing.T) {
	// 10 e8s over three equal stakes: 3 each, remainders 1,1,1, leftover 1
	// goes to the smallest id: a = 4.
	r := mustAllocate(t, pool(10, contrib("1", "c", 1, 0), contrib("2", "b", 1, 0), contrib("3", "a", 1, 0)))
	wantShares(t, r, map[string]money.E8s{"a": 4, "b": 3, "c": 3})

	// The largest remainder wins over the smaller id: stakes a=1, b=2, T=3,
	// X=10: a = 3 rem 1, b = 6 rem 2; the leftover unit goes to b.
	r = mustAllocate(t, pool(10, contrib("1", "a", 1, 0), contrib("2", "b", 2, 0)))
	wantShares(t, r, map[string]money.E8s{"a": 3, "b": 7})

	// Ids compare as UTF-8 bytes: "B" (0x42) < "a" (0x61) < "é" (0xc3 0xa9).
	r = mustAllocate(t, pool(2, contrib("1", "é", 1, 0), contrib("2", "a", 1, 0), contrib("3", "B", 1, 0)))
	wantShares(t, r, map[string]money.E8s{"B": 1, "a": 1, "é": 0})
	if r.Shares[0].Sponsor != "B" || r.Shares[2].Sponsor != "é" {
		t.Fatalf("order %v", r.Shares)
	}

	// Two leftover units among four remainders: X=7, stakes 1,1,1,1 (T=4):
	// 1 each rem 3; leftover 3 -> a, b, c.
	r = mustAllocate(t, pool(7, contrib("1", "d", 1, 0), contrib("2", "c", 1, 0), contrib("3", "b", 1, 0), contrib("4", "a", 1, 0)))
	wantShares(t, r, map[string]money.E8s{"a": 2, "b": 2, "c": 2, "d": 1})
}

func TestWhaleTieBreaks(t *testing.T) {
	// Premium 60% of D=100 is 60 > W = 50, so a whale is chosen among equals.
	mk := func(cs ...Contribution) PoolPeriod {
		in := pool(100, cs...)
		in.WhalePremiumBps = 6000
		return in
	}
	// Equal stakes, b funded first -> b is the whale.
	r := mustAllocate(t, mk(contrib("1", "a", 50, 5), contrib("2", "b", 50, 3)))
	if r.Whale != "b" {
		t.Fatalf("earliest at: whale %q", r.Whale)
	}
	wantShares(t, r, map[string]money.E8s{"a": 40, "b": 60})
	// b's first contribution is its earliest, even if listed last.
	r = mustAllocate(t, mk(contrib("1", "a", 50, 2), contrib("2", "b", 25, 9), contrib("3", "b", 25, 1)))
	if r.Whale != "b" {
		t.Fatalf("earliest first contribution: whale %q", r.Whale)
	}
	// Equal stakes and times -> smallest id.
	r = mustAllocate(t, mk(contrib("1", "b", 50, 0), contrib("2", "a", 50, 0)))
	if r.Whale != "a" {
		t.Fatalf("smallest id: whale %q", r.Whale)
	}
	// A larger stake beats an earlier time.
	r = mustAllocate(t, mk(contrib("1", "a", 49, 0), contrib("2", "b", 51, 9)))
	if r.Whale != "b" || shareOf(t, r, "b").ShareE8s != 60 {
		t.Fatalf("larger stake: whale %q", r.Whale)
	}
}

func TestPremiumNeverLowersWhale(t *testing.T) {
	// Whale 60 of 100, premium 35%: P = 35 < W = 60, so no premium, pro rata.
	in := pool(100, contrib("1", "w", 60, 0), contrib("2", "x", 40, 0))
	in.WhalePremiumBps = 3500
	r := mustAllocate(t, in)
	if r.Whale != "" || r.WhaleCandidate != "w" || r.PremiumE8s != 35 || r.WhaleProRataE8s != 60 {
		t.Fatalf("%+v", r)
	}
	wantShares(t, r, map[string]money.E8s{"w": 60, "x": 40})
	// P == W: still no premium (the rule is P > W).
	in.WhalePremiumBps = 6000
	if r = mustAllocate(t, in); r.Whale != "" {
		t.Fatalf("P == W gave whale %q", r.Whale)
	}
	// Premium 0: no whale.
	in.WhalePremiumBps = 0
	if r = mustAllocate(t, in); r.Whale != "" {
		t.Fatal("premium 0 gave a whale")
	}
}

func TestSingleSponsor(t *testing.T) {
	in := pool(1_000, contrib("1", "only", 5, 0), contrib("2", "only", 7, 3))
	in.WhalePremiumBps = 9999
	r := mustAllocate(t, in)
	if r.Whale != "" || len(r.Shares) != 1 || r.Shares[0].ShareE8s != 1_000 || r.Shares[0].StakeE8s != 12 {
		t.Fatalf("%+v", r)
	}
}

func TestMinimumPayoutAndCarry(t *testing.T) {
	cases := []struct {
		name                  string
		share, carry, fee, m  money.E8s
		transfer, outFee, out money.E8s
	}{
		// owed - F = 1009 - 10 = 999 < M = 1000: carry all 1009.
		{"below minimum", 1000, 9, 10, 1000, 0, 0, 1009},
		// owed - F = 1010 - 10 = 1000 >= M: transfer 1000, fee 10.
		{"at minimum", 1000, 10, 10, 1000, 1000, 10, 0},
		// owed 5 < F 10: never a negative transfer, carry 5.
		{"below fee", 5, 0, 10, 0, 0, 0, 5},
		// M = 0 still needs owed - F >= 1: owed == F carries.
		{"owed equals fee", 10, 0, 10, 0, 0, 0, 10},
		{"one above fee", 10, 1, 10, 0, 1, 10, 0},
		// Carry-in alone can trigger a payout.
		{"carry only", 0, 500, 10, 100, 490, 10, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := pool(c.share, contrib("1", "a", 1, 0))
			in.LedgerFeeE8s, in.MinPayoutE8s = c.fee, c.m
			in.CarryIn = map[string]money.E8s{"a": c.carry}
			s := mustAllocate(t, in).Shares[0]
			if s.TransferE8s != c.transfer || s.FeeE8s != c.outFee || s.CarryOutE8s != c.out || s.CarryInE8s != c.carry {
				t.Fatalf("got %+v", s)
			}
		})
	}
	// The hoster is paid the same way.
	in := pool(1000, contrib("1", "a", 1, 0))
	in.Hoster.FeeBps, in.Hoster.CarryInE8s = 50, 4 // H = 5, owed 9
	in.LedgerFeeE8s, in.MinPayoutE8s = 1, 10
	if h := mustAllocate(t, in).Hoster; h.OwedE8s != 9 || h.CarryOutE8s != 9 || h.TransferE8s != 0 {
		t.Fatalf("hoster %+v", h)
	}
}

func TestHosterFixedXDRFee(t *testing.T) {
	// 10 XDR fixed at 3.5 XDR/ICP: floor(100,000 * 1e8 / 35,000) = 285,714,285;
	// plus 10% of G = 1,000,000,000 -> 100,000,000; H = 385,714,285.
	in := pool(1_000_000_000, contrib("1", "a", 1, 0))
	in.Hoster.FixedXDRPermyriad, in.Hoster.FeeBps = 100_000, 1000
	r := mustAllocate(t, in)
	if r.HosterFeeE8s != 385_714_285 || r.DistributableE8s != 614_285_715 {
		t.Fatalf("H %d D %d", r.HosterFeeE8s, r.DistributableE8s)
	}
	// Capped at G: G = 1 ICP < fixed + bps part -> H = G, nothing else.
	in.GrossE8s = 100_000_000
	if r = mustAllocate(t, in); r.HosterFeeE8s != 100_000_000 || r.DistributableE8s != 0 || r.Shares[0].ShareE8s != 0 {
		t.Fatalf("cap: %+v", r)
	}
	// A fixed fee beyond int64 e8s is still just capped.
	in.Hoster.FixedXDRPermyriad, in.RateXDRPermyriadPerICP = money.XDRPermyriad(money.MaxE8s), 1
	if r = mustAllocate(t, in); r.HosterFeeE8s != in.GrossE8s {
		t.Fatalf("huge fixed fee: H %d", r.HosterFeeE8s)
	}
	// Hoster and DAO bps of exactly 10,000 are valid.
	in = pool(1000, contrib("1", "a", 1, 0))
	in.Hoster.FeeBps, in.DAOFeeBps = 10_000, 10_000
	if r = mustAllocate(t, in); r.HosterFeeE8s != 1000 {
		t.Fatalf("bps 10000: %+v", r)
	}
	in.Hoster.FeeBps = 0
	if r = mustAllocate(t, in); r.DAOFeeE8s != 1000 || r.DistributableE8s != 0 {
		t.Fatalf("dao 10000: %+v", r)
	}
}

func TestNear2To63(t *testing.T) {
	max := money.MaxE8s
	// Single sponsor, everything at the limit: G * s / S needs 126 bits.
	in := pool(max, contrib("1", "a", max, 0))
	in.LedgerFeeE8s = 10_000
	s := mustAllocate(t, in).Shares[0]
	if s.ShareE8s != max || s.TransferE8s != max-10_000 {
		t.Fatalf("%+v", s)
	}
	// Three sponsors whose stakes sum beyond int64: S = 2^64 - 2: checked
	// against math/big.
	in = pool(max, contrib("1", "a", max, 0), contrib("2", "b", max-1, 0), contrib("3", "c", 1, 0))
	in.WhalePremiumBps = 9999
	r := mustAllocate(t, in)
	S := new(big.Int).SetUint64(r.StakeTotalE8s)
	if want := new(big.Int).Add(new(big.Int).Mul(big.NewInt(int64(max)), big.NewInt(2)), big.NewInt(0)); S.Cmp(want) != 0 {
		t.Fatalf("S = %v, want %v", S, want)
	}
	// P = floor(max * 9999 / 10000) > W = floor(max * max / S) ~ max/2: whale a.
	if r.Whale != "a" {
		t.Fatalf("whale %q", r.Whale)
	}
	if !reflect.DeepEqual(r, referenceAllocate(in)) {
		t.Fatalf("differs from reference:\n%+v\n%+v", r, referenceAllocate(in))
	}
	// Sums that do not fit are invalid input, not a wrap.
	in = pool(1, contrib("1", "a", max, 0), contrib("2", "a", 1, 0))
	if _, err := Allocate("v1", in); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("stake overflow: %v", err)
	}
	in = pool(max, contrib("1", "a", 1, 0))
	in.CarryIn = map[string]money.E8s{"a": 1}
	if _, err := Allocate("v1", in); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("owed overflow: %v", err)
	}
}

func TestRejectedProposalRefunds(t *testing.T) {
	// slash 5%: c1 1001 -> slash floor(50.05) = 50, refund 951;
	// c2 999 -> slash floor(49.95) = 49, refund 950 (per contribution);
	// c3 2000 -> slash 100, refund 1900. a gets 951 + 950 = 1901.
	in := pool(0, contrib("c1", "a", 1001, 0), contrib("c2", "a", 999, 1), contrib("c3", "b", 2000, 2))
	in.Proposal = &Proposal{Status: ProposalRejected, SlashBps: 500}
	in.WhalePremiumBps, in.Hoster.FeeBps, in.LedgerFeeE8s = 3500, 1000, 1
	in.Hoster.CarryInE8s = 7
	r := mustAllocate(t, in)
	if r.GrossE8s != 4000 || r.DAOFeeE8s != 199 || r.DistributableE8s != 3801 || r.HosterFeeE8s != 0 || r.Whale != "" {
		t.Fatalf("%+v", r)
	}
	if r.Proposal == nil || r.Proposal.SlashedE8s != 199 {
		t.Fatalf("proposal %+v", r.Proposal)
	}
	wantShares(t, r, map[string]money.E8s{"a": 1901, "b": 1900})
	if s := shareOf(t, r, "a"); s.TransferE8s != 1900 || s.FeeE8s != 1 {
		t.Fatalf("refund transfer %+v", s)
	}
	if h := r.Hoster; h.OwedE8s != 7 || h.TransferE8s != 6 {
		t.Fatalf("hoster carry in a refund: %+v", h)
	}
	if !reflect.DeepEqual(r, referenceAllocate(in)) {
		t.Fatal("differs from reference")
	}
	// A rejected proposal with a gross is invalid.
	in.GrossE8s = 1
	if _, err := Allocate("v1", in); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("gross with rejection: %v", err)
	}
}

func TestSplitRewardLevel1(t *testing.T) {
	// 10 e8s over three equal weights: 3 each, leftover 1 to the smallest
	// pool id, whatever the input order.
	got, err := SplitReward("v1", 10, []PoolWeight{{"p3", 5}, {"p1", 5}, {"p2", 5}})
	if err != nil {
		t.Fatal(err)
	}
	want := []PoolGross{{"p1", 4}, {"p2", 3}, {"p3", 3}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	// Largest remainder first: 100 e8s by 1:2:4 (W=7): 14 r2, 28 r4, 57 r1;
	// leftover 1 -> p2 (remainder 4).
	got, _ = SplitReward("v1", 100, []PoolWeight{{"p1", 1}, {"p2", 2}, {"p3", 4}})
	if want := []PoolGross{{"p1", 14}, {"p2", 29}, {"p3", 57}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for _, bad := range [][]PoolWeight{nil, {{"p1", 0}}, {{"p1", 1}, {"p1", 2}}, {{"", 1}}, {{"p", -1}}} {
		if _, err := SplitReward("v1", 10, bad); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%v: err %v", bad, err)
		}
	}
	// Near 2^63 on both sides.
	got, err = SplitReward("v1", money.MaxE8s, []PoolWeight{{"a", money.XDRPermyriad(money.MaxE8s)}, {"b", money.XDRPermyriad(money.MaxE8s)}})
	if err != nil || got[0].GrossE8s+got[1].GrossE8s != money.MaxE8s || got[0].GrossE8s != got[1].GrossE8s+1 {
		t.Fatalf("%v %v", got, err)
	}
}

func TestRegistry(t *testing.T) {
	if _, err := Allocate("", forumPool()); !errors.Is(err, ErrUnknownRules) {
		t.Fatalf("empty version must fail (no default): %v", err)
	}
	if _, err := Allocate("v0", forumPool()); !errors.Is(err, ErrUnknownRules) {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := newRegistry(rulesV1{}, rulesV1{}); err == nil {
		t.Fatal("duplicate registration accepted")
	}
	if vs := Versions(); !reflect.DeepEqual(vs, []string{"v1", "v2"}) {
		t.Fatalf("versions %v", vs)
	}
	if r := mustAllocate(t, forumPool()); r.RulesVersion != "v1" {
		t.Fatalf("rules version %q", r.RulesVersion)
	}
}

func TestInvariantCheckerCatchesBreaks(t *testing.T) {
	good := mustAllocate(t, forumPool())
	breaks := map[string]func(r *PoolResult){
		"share +1":         func(r *PoolResult) { r.Shares[3].ShareE8s++ },
		"transfer > owed":  func(r *PoolResult) { r.Shares[3].TransferE8s += 20_000; r.Shares[3].FeeE8s = 0 },
		"hoster fee drift": func(r *PoolResult) { r.HosterFeeE8s-- },
		"unsorted":         func(r *PoolResult) { r.Shares[0], r.Shares[1] = r.Shares[1], r.Shares[0] },
		"whale below W":    func(r *PoolResult) { r.WhaleProRataE8s = r.PremiumE8s + 1 },
		"carry lost":       func(r *PoolResult) { r.Shares[2].CarryOutE8s = 5 },
	}
	for name, brk := range breaks {
		r := good
		r.Shares = append([]Share(nil), good.Shares...)
		brk(&r)
		if err := CheckInvariants(r); !errors.Is(err, ErrInvariant) {
			t.Errorf("%s: not caught: %v", name, err)
		}
	}
	if err := CheckInvariants(good); err != nil {
		t.Fatal(err)
	}
}

func TestVotingWeights(t *testing.T) {
	cs := []Contribution{
		contrib("1", "a", 60, 0), contrib("2", "b", 30, 0), contrib("3", "c", 10, 0),
	}
	cs[1].From, cs[2].From = "src", "src"
	cs[0].BlockIndex, cs[0].HasBlockIndex = 100, true
	cs[1].BlockIndex, cs[1].HasBlockIndex = 103, true
	cs[2].BlockIndex, cs[2].HasBlockIndex = 200, true
	rep, err := VotingWeights("v1", cs, VotingOptions{MaxVotingBps: 4000, BlockWindow: 5})
	if err != nil {
		t.Fatal(err)
	}
	// Cap = floor(100 * 4000 / 10000) = 40: a is capped from 60 to 40.
	if rep.CapE8s != 40 || rep.Weights[0].WeightE8s != 40 || !rep.Weights[0].Capped || rep.Weights[1].WeightE8s != 30 {
		t.Fatalf("%+v", rep)
	}
	want := []VotingHint{
		{Kind: HintBlockWindow, Key: "blocks 100-103", Sponsors: []string{"a", "b"}},
		{Kind: HintSameSource, Key: "src", Sponsors: []string{"b", "c"}},
	}
	if !reflect.DeepEqual(rep.Hints, want) {
		t.Fatalf("hints %+v", rep.Hints)
	}
	rep, _ = VotingWeights("v1", cs, VotingOptions{})
	if rep.Weights[0].WeightE8s != 60 || rep.Weights[0].Capped {
		t.Fatalf("uncapped %+v", rep.Weights[0])
	}
	if _, err := VotingWeights("v1", cs, VotingOptions{MaxVotingBps: 10001}); !errors.Is(err, ErrInvalidInput) {
		t.Fatal("max_voting_bps > 10000 accepted")
	}
}

func TestDuplicateContributionIDs(t *testing.T) {
	cases := map[string][]Contribution{
		"same sponsor":        {contrib("x", "a", 1, 0), contrib("x", "a", 2, 0)},
		"different sponsors":  {contrib("x", "b", 1, 0), contrib("y", "a", 1, 0), contrib("x", "a", 2, 0)},
		"sorted by sponsor":   {contrib("z", "a", 1, 0), contrib("y", "b", 1, 0), contrib("z", "c", 1, 0)},
		"far apart, many ids": nil,
	}
	var many []Contribution
	for i := 0; i < 5000; i++ {
		many = append(many, contrib(fmt.Sprintf("id-%d", (i*7)%5000), fmt.Sprintf("s%d", i%97), 1, 0))
	}
	many = append(many, contrib("id-1234", "zz", 1, 0))
	cases["far apart, many ids"] = many
	for name, cs := range cases {
		_, err := Allocate("v1", pool(100, cs...))
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != "id" || !strings.Contains(err.Error(), "duplicates contributions[") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Allocate("v1", pool(100, many[:5000]...)); err != nil {
		t.Fatalf("unique ids rejected: %v", err)
	}
}
