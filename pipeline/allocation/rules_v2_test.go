package allocation

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// The v2 test period: July 2026, 30 days. A third of it is 864,000 s.
const (
	periodStart = int64(1_782_864_000) // 2026-07-01T00:00:00Z
	periodLen   = int64(2_592_000)     // 30 days
	periodEnd   = periodStart + periodLen
	third       = periodStart + periodLen/3 // 2026-07-11T00:00:00Z
	half        = periodStart + periodLen/2 // 2026-07-16T00:00:00Z
)

// poolV2 is pool() under v2: no single hoster, the given engagements, the
// test period.
func poolV2(gross money.E8s, hosters []HosterEngagement, cs ...Contribution) PoolPeriod {
	in := pool(gross, cs...)
	in.Hoster = HosterTerms{}
	in.Hosters = hosters
	if in.Hosters == nil {
		in.Hosters = []HosterEngagement{}
	}
	in.PeriodStartUnixSeconds, in.PeriodEndUnixSeconds = periodStart, periodEnd
	return in
}

func engagement(acct string, fixed money.XDRPermyriad, bps money.Bps, from, to int64, carry money.E8s) HosterEngagement {
	return HosterEngagement{Account: acct, FixedXDRPermyriad: fixed, FeeBps: bps, FromUnixSeconds: from, ToUnixSeconds: to, CarryInE8s: carry}
}

func mustAllocateV2(t testing.TB, in PoolPeriod) PoolResult {
	t.Helper()
	r, err := Allocate("v2", in)
	if err != nil {
		t.Fatalf("Allocate v2: %v", err)
	}
	return r
}

// v2Pools are the hand-checked v2 cases; their numbers are worked out in
// TestV2HandChecked and pinned by the golden files (v2_*.*).
func v2Pools() map[string]PoolPeriod {
	handover := poolV2(1_000_000_000, []HosterEngagement{
		engagement("hoster-b", 10_000, 500, third, periodEnd+5_000_000, 0),
		engagement("hoster-a", 0, 1000, periodStart-1_000_000, third, 0),
	},
		contrib("c1", "whale", 30*money.E8sPerICP, 0),
		contrib("c2", "s1", 25*money.E8sPerICP, 1),
		contrib("c3", "s2", 25*money.E8sPerICP, 2),
		contrib("c4", "s3", 20*money.E8sPerICP, 3),
	)
	handover.DAOFeeBps, handover.WhalePremiumBps, handover.LedgerFeeE8s = 200, 3500, 10_000

	fixedAboveGross := poolV2(100_000_000, []HosterEngagement{
		engagement("hoster-a", 70_000, 0, periodStart, third, 0),
		engagement("hoster-b", 70_000, 0, third, periodEnd, 0),
	}, contrib("c1", "s1", money.E8sPerICP, 0))
	fixedAboveGross.LedgerFeeE8s = 10_000
	fixedAboveGross.CarryIn = map[string]money.E8s{"s1": 50_000}

	touching := poolV2(1_000_000_001, []HosterEngagement{
		engagement("hoster-w", 0, 1000, periodEnd, periodEnd+1_000, 5_000),
		engagement("hoster-b", 0, 1000, half, periodEnd, 0),
		engagement("hoster-x", 0, 0, periodStart-100_000, periodStart, 250_000),
		engagement("hoster-b", 0, 1000, periodStart, half, 0),
	}, contrib("c1", "solo", 5*money.E8sPerICP, 0))
	touching.DAOFeeBps, touching.WhalePremiumBps, touching.LedgerFeeE8s = 200, 3500, 10_000

	empty := poolV2(1_000_000_000, nil, contrib("c1", "a", 60*money.E8sPerICP, 0), contrib("c2", "b", 40*money.E8sPerICP, 1))
	empty.DAOFeeBps, empty.LedgerFeeE8s = 200, 10_000

	rejected := poolV2(0, []HosterEngagement{engagement("hoster-a", 0, 1000, periodStart, periodEnd, 30_000)},
		contrib("c1", "a", 1_000_000_001, 0), contrib("c2", "b", 999, 1))
	rejected.Proposal = &Proposal{Status: ProposalRejected, SlashBps: 500}
	rejected.LedgerFeeE8s = 10_000

	return map[string]PoolPeriod{
		"v2_handover": handover, "v2_fixed_above_gross": fixedAboveGross, "v2_touching_outside": touching,
		"v2_empty": empty, "v2_rejected": rejected,
	}
}

// engLine is what a test expects of one engagement (in order of from).
type engLine struct {
	account                        string
	overlap                        int64
	fee, owed, transfer, ledgerFee money.E8s
	carryOut                       money.E8s
}

func TestV2HandChecked(t *testing.T) {
	pools := v2Pools()
	cases := []struct {
		name       string
		H, Dfee, D money.E8s
		whale      string
		hosters    []engLine
		shares     map[string]money.E8s
		transfers  map[string]money.E8s
	}{
		{
			// G = 10 ICP, rate 3.5 XDR/ICP, L = 2,592,000 s. hoster-a runs
			// until a third of the period (o = 864,000) and hoster-b from
			// then on (o = 1,728,000; its to after the period is cut off).
			//   H_a = floor((0 + floor(1e9 * 1000 / 1e4)) * 864,000 / 2,592,000)
			//       = floor(100,000,000 / 3)                           = 33,333,333
			//   H_b = floor((floor(10,000 * 1e8 / 35,000) + floor(1e9 * 500 / 1e4)) * 2/3)
			//       = floor((28,571,428 + 50,000,000) * 2 / 3)
			//       = floor(157,142,856 / 3)                           = 52,380,952
			//   H = 85,714,285; D_fee = floor(914,285,715 * 200 / 1e4) = 18,285,714
			//   D = 896,000,001; P = floor(D * 0.35) = 313,600,000 > W = floor(D * 0.3) = 268,800,000
			//   others share D - P = 582,400,001 over 70 ICP: s1, s2 25/70 -> 208,000,000 (remainder 25),
			//   s3 20/70 -> 166,400,000 (remainder 20); one leftover e8s to s1 (tie with s2, smaller id).
			name: "v2_handover", H: 85_714_285, Dfee: 18_285_714, D: 896_000_001, whale: "whale",
			hosters: []engLine{
				{"hoster-a", 864_000, 33_333_333, 33_333_333, 33_323_333, 10_000, 0},
				{"hoster-b", 1_728_000, 52_380_952, 52_380_952, 52_370_952, 10_000, 0},
			},
			shares:    map[string]money.E8s{"whale": 313_600_000, "s1": 208_000_001, "s2": 208_000_000, "s3": 166_400_000},
			transfers: map[string]money.E8s{"whale": 313_590_000, "s1": 207_990_001, "s2": 207_990_000, "s3": 166_390_000},
		},
		{
			// The fixed fee alone is twice G: floor(70,000 * 1e8 / 35,000) = 200,000,000.
			// No shortcut: it is prorated first, then capped.
			//   H_a = min(1e8, floor(200,000,000 * 864,000 / 2,592,000)) = 66,666,666
			//         (capping first would give floor(1e8 / 3) = 33,333,333)
			//   H_b = min(1e8 - 66,666,666, floor(200,000,000 * 2 / 3))
			//       = min(33,333,334, 133,333,333)                      = 33,333,334
			//   H = G, D_fee = D = 0; s1 gets its carry-in 50,000 less the ledger fee.
			name: "v2_fixed_above_gross", H: 100_000_000, Dfee: 0, D: 0,
			hosters: []engLine{
				{"hoster-a", 864_000, 66_666_666, 66_666_666, 66_656_666, 10_000, 0},
				{"hoster-b", 1_728_000, 33_333_334, 33_333_334, 33_323_334, 10_000, 0},
			},
			shares:    map[string]money.E8s{"s1": 0},
			transfers: map[string]money.E8s{"s1": 40_000},
		},
		{
			// hoster-x ended at period_start (o = 0): no fee, its carry-in
			// 250,000 is paid (240,000 after the ledger fee). hoster-b holds
			// two touching engagements, each half the period:
			//   floor(floor(1,000,000,001 * 1000 / 1e4) * 1,296,000 / 2,592,000)
			//   = floor(100,000,000 / 2) = 50,000,000 each (v1's one hoster at 10% would be 100,000,000).
			// hoster-w starts at period_end (o = 0): its carry-in 5,000 is below
			// F + 1 and carried on. D_fee = floor(900,000,001 * 0.02) = 18,000,000,
			// D = 882,000,001, all to the single sponsor (no whale).
			name: "v2_touching_outside", H: 100_000_000, Dfee: 18_000_000, D: 882_000_001,
			hosters: []engLine{
				{"hoster-x", 0, 0, 250_000, 240_000, 10_000, 0},
				{"hoster-b", 1_296_000, 50_000_000, 50_000_000, 49_990_000, 10_000, 0},
				{"hoster-b", 1_296_000, 50_000_000, 50_000_000, 49_990_000, 10_000, 0},
				{"hoster-w", 0, 0, 5_000, 0, 0, 5_000},
			},
			shares:    map[string]money.E8s{"solo": 882_000_001},
			transfers: map[string]money.E8s{"solo": 881_990_001},
		},
		{
			// No engagement: H = 0, D_fee = 20,000,000, D = 980,000,000 split 60/40.
			name: "v2_empty", H: 0, Dfee: 20_000_000, D: 980_000_000,
			shares:    map[string]money.E8s{"a": 588_000_000, "b": 392_000_000},
			transfers: map[string]money.E8s{"a": 587_990_000, "b": 391_990_000},
		},
		{
			// Rejected proposal, as v1: refunds less a 5% slash floored per
			// contribution (a: 50,000,000, b: floor(49.95) = 49), and the
			// engagement gets only its carry-in 30,000 (H_j = 0, G = 0).
			// b's refund 950 is below F + 1 and carried on.
			name: "v2_rejected", H: 0, Dfee: 50_000_049, D: 950_000_951,
			hosters: []engLine{
				{"hoster-a", periodLen, 0, 30_000, 20_000, 10_000, 0},
			},
			shares:    map[string]money.E8s{"a": 950_000_001, "b": 950},
			transfers: map[string]money.E8s{"a": 949_990_001, "b": 0},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := mustAllocateV2(t, pools[c.name])
			if r.RulesVersion != "v2" || r.HosterFeeE8s != c.H || r.DAOFeeE8s != c.Dfee || r.DistributableE8s != c.D || r.Whale != c.whale {
				t.Fatalf("rules %s H %d D_fee %d D %d whale %q", r.RulesVersion, r.HosterFeeE8s, r.DAOFeeE8s, r.DistributableE8s, r.Whale)
			}
			if len(r.Hosters) != len(c.hosters) {
				t.Fatalf("%d engagements, want %d", len(r.Hosters), len(c.hosters))
			}
			for j, w := range c.hosters {
				h := r.Hosters[j]
				got := engLine{h.Account, h.OverlapSeconds, h.HosterFeeE8s, h.OwedE8s, h.TransferE8s, h.FeeE8s, h.CarryOutE8s}
				if got != w {
					t.Errorf("hosters[%d] = %+v, want %+v", j, got, w)
				}
			}
			wantShares(t, r, c.shares)
			for sp, tr := range c.transfers {
				if s := shareOf(t, r, sp); s.TransferE8s != tr {
					t.Errorf("%s transfer %d, want %d", sp, s.TransferE8s, tr)
				}
			}
		})
	}
}

// TestGoldenV2 pins the v2 cases byte for byte: the input document, the
// output, the canonical encoding and the explanation; and the contract run
// on the input document gives exactly the output.
func TestGoldenV2(t *testing.T) {
	for name, in := range v2Pools() {
		t.Run(name, func(t *testing.T) {
			r := mustAllocateV2(t, in)
			var input, out, explain bytes.Buffer
			if err := EncodePoolPeriodJSONV2(&input, in); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".input.json", input.Bytes())
			canon, err := CanonicalEncoding(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(canon, []byte(`{"format":"nodeshare.allocation.manifest/2","rules_version":"v2",`)) {
				t.Fatalf("canonical encoding does not start with the v2 format: %.80s", canon)
			}
			golden(t, name+".canonical.json", canon)
			if err := EncodeResultJSON(&out, r); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".output.json", out.Bytes())
			if err := Explain(&explain, r); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".explain.txt", explain.Bytes())
			run, err := RunContract(bytes.NewReader(input.Bytes()), "v2", false)
			if err != nil || !bytes.Equal(run, out.Bytes()) {
				t.Fatalf("RunContract on the input document: %v\n%s", err, run)
			}
		})
	}
}

// toV2 turns a v1 input into the v2 input with one engagement covering
// the whole period (from <= period_start, to >= period_end), which the rules
// say gives exactly v1's numbers.
func toV2(rng *rand.Rand, in PoolPeriod) PoolPeriod {
	out := in
	L := 1 + rng.Int64N([]int64{10, periodLen, 1 << 40}[rng.IntN(3)])
	start := []int64{0, periodStart, rng.Int64N(1 << 60), int64(money.MaxE8s) - L}[rng.IntN(4)]
	from, to := start, start+L
	if rng.IntN(2) == 0 {
		from -= rng.Int64N(from + 1)
	}
	if rng.IntN(2) == 0 {
		to += rng.Int64N(int64(money.MaxE8s) - to + 1)
	}
	out.Hoster = HosterTerms{}
	out.Hosters = []HosterEngagement{{
		Account: in.Hoster.Account, FixedXDRPermyriad: in.Hoster.FixedXDRPermyriad, FeeBps: in.Hoster.FeeBps,
		FromUnixSeconds: from, ToUnixSeconds: to, CarryInE8s: in.Hoster.CarryInE8s,
	}}
	out.PeriodStartUnixSeconds, out.PeriodEndUnixSeconds = start, start+L
	return out
}

// TestV2OneEngagementIsV1 is the rules' equivalence, on random pools: one
// engagement covering the whole period gives exactly v1's result (every
// amount, the whale, the shares, the hoster's settlement), v1's hoster
// moved into Hosters; and an input v1 rejects, v2 rejects too.
func TestV2OneEngagementIsV1(t *testing.T) {
	for i := 0; i < *propCases; i++ {
		seed := *propSeed + 2_000_000 + uint64(i)
		rng := rand.New(rand.NewPCG(seed, 13))
		in := randomPool(rng)
		if rng.IntN(4) == 0 {
			// Fixed fees beyond 64 bits once converted, and hoster carries
			// near the top.
			in.Hoster.FixedXDRPermyriad = money.XDRPermyriad(rng.Int64N(int64(money.MaxE8s)))
			in.RateXDRPermyriadPerICP = money.XDRPermyriadPerICP(1 + rng.Int64N(3))
		}
		in2 := toV2(rng, in)
		r1, err1 := Allocate("v1", in)
		r2, err2 := Allocate("v2", in2)
		if err1 != nil || err2 != nil {
			if !errors.Is(err1, ErrInvalidInput) || !errors.Is(err2, ErrInvalidInput) {
				t.Fatalf("seed %d: v1 error %v, v2 error %v", seed, err1, err2)
			}
			continue
		}
		want := r1
		want.RulesVersion = "v2"
		want.HosterFixedXDRPermyriad, want.HosterFeeBps = 0, 0
		want.Hoster = HosterPayout{}
		e := in2.Hosters[0]
		want.Hosters = []EngagementPayout{{
			Account: e.Account, FixedXDRPermyriad: e.FixedXDRPermyriad, FeeBps: e.FeeBps,
			FromUnixSeconds: e.FromUnixSeconds, ToUnixSeconds: e.ToUnixSeconds,
			OverlapSeconds: in2.PeriodEndUnixSeconds - in2.PeriodStartUnixSeconds,
			HosterFeeE8s:   r1.HosterFeeE8s, CarryInE8s: r1.Hoster.CarryInE8s, Payout: r1.Hoster.Payout,
		}}
		want.PeriodStartUnixSeconds, want.PeriodEndUnixSeconds = in2.PeriodStartUnixSeconds, in2.PeriodEndUnixSeconds
		if !reflect.DeepEqual(r2, want) {
			t.Fatalf("seed %d (rerun with -prop.seed=%d -prop.cases=1): v2 with one full engagement differs from v1:\n got %+v\nwant %+v", seed, seed-2_000_000, r2, want)
		}
	}
}

// randomPoolV2 draws a v2 pool: randomPool's sponsors and fees, a period
// anywhere in 0..2^63-1, and 0-6 engagements before, across, inside and
// after it, some touching, some sharing an account, with fixed fees up to
// 2^63-1.
func randomPoolV2(rng *rand.Rand) PoolPeriod {
	in := randomPool(rng)
	in.Hoster = HosterTerms{}
	L := 1 + rng.Int64N([]int64{3, 1_000, periodLen, 1 << 50}[rng.IntN(4)])
	start := []int64{0, periodStart, rng.Int64N(1 << 61), int64(money.MaxE8s) - L}[rng.IntN(4)]
	in.PeriodStartUnixSeconds, in.PeriodEndUnixSeconds = start, start+L
	if rng.IntN(4) == 0 {
		in.RateXDRPermyriadPerICP = money.XDRPermyriadPerICP(1 + rng.Int64N(3))
	}
	n := rng.IntN(7)
	in.Hosters = []HosterEngagement{}
	cursor := max(0, start-rng.Int64N(L+1))
	for j := 0; j < n; j++ {
		gap := int64(0) // touching
		if rng.IntN(2) == 0 {
			gap = rng.Int64N(L/2 + 1)
		}
		length := 1 + rng.Int64N(L)
		if cursor > int64(money.MaxE8s)-gap-length {
			break
		}
		from := cursor + gap
		to := from + length
		cursor = to
		acct := []string{"hoster", "h2", "h3é"}[rng.IntN(3)]
		in.Hosters = append(in.Hosters, HosterEngagement{
			Account:           acct,
			FixedXDRPermyriad: money.XDRPermyriad([]int64{0, rng.Int64N(1_000_000), rng.Int64N(int64(money.MaxE8s))}[rng.IntN(3)]),
			FeeBps:            money.Bps(rng.Int64N(10_001)),
			FromUnixSeconds:   from, ToUnixSeconds: to,
			CarryInE8s: money.E8s(rng.Int64N(2) * rng.Int64N(100_000)),
		})
	}
	rng.Shuffle(len(in.Hosters), func(i, j int) { in.Hosters[i], in.Hosters[j] = in.Hosters[j], in.Hosters[i] })
	return in
}

// referenceEngagementFees is step 2 of v2 written plainly with math/big
// (no shared helper): the H_j in order of from.
func referenceEngagementFees(in PoolPeriod) []money.E8s {
	hs := append([]HosterEngagement(nil), in.Hosters...)
	for i := 1; i < len(hs); i++ { // insertion sort by from
		for k := i; k > 0 && hs[k].FromUnixSeconds < hs[k-1].FromUnixSeconds; k-- {
			hs[k], hs[k-1] = hs[k-1], hs[k]
		}
	}
	bi := func(v int64) *big.Int { return big.NewInt(v) }
	G := bi(int64(in.GrossE8s))
	if in.Proposal != nil && in.Proposal.Status == ProposalRejected {
		G = bi(0)
	}
	L := bi(in.PeriodEndUnixSeconds - in.PeriodStartUnixSeconds)
	sum := bi(0)
	var out []money.E8s
	for _, h := range hs {
		o := min(h.ToUnixSeconds, in.PeriodEndUnixSeconds) - max(h.FromUnixSeconds, in.PeriodStartUnixSeconds)
		if o < 0 {
			o = 0
		}
		fixed := new(big.Int).Div(new(big.Int).Mul(bi(int64(h.FixedXDRPermyriad)), bi(100_000_000)), bi(int64(in.RateXDRPermyriadPerICP)))
		prop := new(big.Int).Div(new(big.Int).Mul(G, bi(int64(h.FeeBps))), bi(10_000))
		x := new(big.Int).Div(new(big.Int).Mul(new(big.Int).Add(fixed, prop), bi(o)), L)
		left := new(big.Int).Sub(G, sum)
		if x.Cmp(left) > 0 {
			x = left
		}
		sum.Add(sum, x)
		out = append(out, money.E8s(x.Int64()))
	}
	return out
}

// checkV2Properties checks a v2 result against the plain step 2, v1's
// decimal reference model for the sponsors (with step 2 set to the same
// H), conservation in math/big and step 7 for every engagement.
func checkV2Properties(in PoolPeriod, r PoolResult) error {
	ref := referenceEngagementFees(in)
	if len(ref) != len(r.Hosters) {
		return fmt.Errorf("%d engagements, want %d", len(r.Hosters), len(ref))
	}
	var H money.E8s
	for j, h := range r.Hosters {
		if h.HosterFeeE8s != ref[j] {
			return fmt.Errorf("hosters[%d] (from %d): H_j %d, reference %d", j, h.FromUnixSeconds, h.HosterFeeE8s, ref[j])
		}
		H += h.HosterFeeE8s
		if want := settle(h.HosterFeeE8s+h.CarryInE8s, in.LedgerFeeE8s, in.MinPayoutE8s); h.Payout != want {
			return fmt.Errorf("hosters[%d]: payout %+v, want %+v", j, h.Payout, want)
		}
	}
	if H != r.HosterFeeE8s {
		return fmt.Errorf("H %d != sum H_j %d", r.HosterFeeE8s, H)
	}
	v1 := in
	v1.Hosters, v1.PeriodStartUnixSeconds, v1.PeriodEndUnixSeconds = nil, 0, 0
	v1.Hoster = HosterTerms{Account: "h", FixedXDRPermyriad: money.XDRPermyriad(H)}
	v1.RateXDRPermyriadPerICP = money.XDRPermyriadPerICP(money.E8sPerICP)
	want := referenceAllocate(v1)
	if r.HosterFeeE8s != want.HosterFeeE8s || r.DAOFeeE8s != want.DAOFeeE8s || r.DistributableE8s != want.DistributableE8s ||
		r.Whale != want.Whale || r.StakeTotalE8s != want.StakeTotalE8s || !reflect.DeepEqual(r.Shares, want.Shares) {
		return fmt.Errorf("sponsors differ from the reference model given H = %d", H)
	}
	total := new(big.Int).Add(big.NewInt(int64(r.HosterFeeE8s)), big.NewInt(int64(r.DAOFeeE8s)))
	for _, s := range r.Shares {
		total.Add(total, big.NewInt(int64(s.ShareE8s)))
	}
	if total.Cmp(big.NewInt(int64(r.GrossE8s))) != 0 {
		return fmt.Errorf("conservation: H + D_fee + sum(shares) = %v != G %d", total, r.GrossE8s)
	}
	return CheckInvariants(r)
}

// TestV2PropertiesAndReordering: random v2 pools satisfy the properties,
// and any reordering of the input lists (contributions, hosters, the carry
// map) gives the same result, the same canonical bytes and manifest.
func TestV2PropertiesAndReordering(t *testing.T) {
	valid := 0
	for i := 0; i < *propCases; i++ {
		seed := *propSeed + 3_000_000 + uint64(i)
		rng := rand.New(rand.NewPCG(seed, 17))
		in := randomPoolV2(rng)
		r, err := Allocate("v2", in)
		if errors.Is(err, ErrInvalidInput) {
			continue
		}
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		valid++
		if err := checkV2Properties(in, r); err != nil {
			t.Fatalf("seed %d (rerun with -prop.seed=%d -prop.cases=1): %v", seed, seed-3_000_000, err)
		}
		p := permute(rng, in)
		p.Hosters = append([]HosterEngagement(nil), in.Hosters...)
		rng.Shuffle(len(p.Hosters), func(i, j int) { p.Hosters[i], p.Hosters[j] = p.Hosters[j], p.Hosters[i] })
		r2, err := Allocate("v2", p)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("seed %d: reordered input changed the result (%v)", seed, err)
		}
		c1, err1 := CanonicalEncoding(r)
		c2, err2 := CanonicalEncoding(r2)
		if err1 != nil || err2 != nil || !bytes.Equal(c1, c2) {
			t.Fatalf("seed %d: canonical encoding differs (%v, %v)", seed, err1, err2)
		}
	}
	if valid < *propCases*9/10 {
		t.Fatalf("only %d of %d random v2 pools were valid: the generator is off", valid, *propCases)
	}
}

// TestV2ManifestBindsEngagements: every term of every engagement and the
// period bounds are in the manifest, even where they change no amount
// (a to beyond the period's end, the account).
func TestV2ManifestBindsEngagements(t *testing.T) {
	base := v2Pools()["v2_handover"]
	hash := func(in PoolPeriod) string {
		t.Helper()
		h, err := ManifestSHA256(mustAllocateV2(t, in))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h0 := hash(base)
	edits := map[string]func(in *PoolPeriod){
		"account":      func(in *PoolPeriod) { in.Hosters[0].Account = "hoster-c" },
		"fixed":        func(in *PoolPeriod) { in.Hosters[0].FixedXDRPermyriad++ },
		"bps":          func(in *PoolPeriod) { in.Hosters[0].FeeBps++ },
		"from":         func(in *PoolPeriod) { in.Hosters[1].FromUnixSeconds-- },
		"to":           func(in *PoolPeriod) { in.Hosters[0].ToUnixSeconds++ },
		"carry":        func(in *PoolPeriod) { in.Hosters[0].CarryInE8s++ },
		"period_start": func(in *PoolPeriod) { in.PeriodStartUnixSeconds-- },
		"period_end":   func(in *PoolPeriod) { in.PeriodEndUnixSeconds++ },
	}
	for name, edit := range edits {
		in := base
		in.Hosters = append([]HosterEngagement(nil), base.Hosters...)
		edit(&in)
		if hash(in) == h0 {
			t.Errorf("%s: the manifest does not bind it", name)
		}
	}
}

// TestV2EngagementFeeWide: the fixed part beyond 64 bits is prorated
// exactly, never treated as "more than G" before the proration.
func TestV2EngagementFeeWide(t *testing.T) {
	// floor(2^62 * 1e8 / 1) ~ 4.6e26 e8s, for 1 second of a 2^62-second
	// period: (2^62 * 1e8 + floor(G * 10000 / 1e4)) * 1 / 2^62 = 1e8 + floor(1e9 / 2^62) = 1e8.
	const L = int64(1) << 62
	if got := engagementFee(1_000_000_000, 1, 1<<62, 10_000, 1, L, 1_000_000_000); got != 100_000_000 {
		t.Fatalf("H_j = %d, want 100,000,000", got)
	}
	// The largest terms: fixed 2^63-1 at rate 1, G = 2^63-1 at 100%, o = L - 1.
	maxI := int64(money.MaxE8s)
	in := PoolPeriod{GrossE8s: money.MaxE8s, RateXDRPermyriadPerICP: 1, PeriodStartUnixSeconds: 0, PeriodEndUnixSeconds: maxI,
		Hosters: []HosterEngagement{{FixedXDRPermyriad: money.XDRPermyriad(maxI), FeeBps: 10_000, FromUnixSeconds: 1, ToUnixSeconds: maxI}}}
	if got, want := engagementFee(money.MaxE8s, 1, money.XDRPermyriad(maxI), 10_000, maxI-1, maxI, money.MaxE8s), referenceEngagementFees(in)[0]; got != want || got != money.MaxE8s {
		t.Fatalf("H_j = %d, reference %d", got, want)
	}
	// Tiny share of a huge fee: o = 1 of L = 3e17 with fixed 2^63-1 at
	// rate 7: floor(floor((2^63-1) * 1e8 / 7) / 3e17).
	in = PoolPeriod{GrossE8s: money.MaxE8s, RateXDRPermyriadPerICP: 7, PeriodStartUnixSeconds: 0, PeriodEndUnixSeconds: 300_000_000_000_000_000,
		Hosters: []HosterEngagement{{FixedXDRPermyriad: money.XDRPermyriad(maxI), FromUnixSeconds: 5, ToUnixSeconds: 6}}}
	want := new(big.Int).Mul(big.NewInt(maxI), big.NewInt(100_000_000))
	want.Div(want, big.NewInt(7))
	want.Div(want, big.NewInt(300_000_000_000_000_000))
	if got := engagementFee(money.MaxE8s, 7, money.XDRPermyriad(maxI), 0, 1, 300_000_000_000_000_000, money.MaxE8s); int64(got) != want.Int64() || referenceEngagementFees(in)[0] != got {
		t.Fatalf("H_j = %d, want %v", got, want)
	}
}

// TestV2InvalidGoAPI: what the Go API refuses under v2 (and v1 refusing
// v2's fields).
func TestV2InvalidGoAPI(t *testing.T) {
	base := v2Pools()["v2_handover"]
	cases := map[string]struct {
		edit  func(in *PoolPeriod)
		field string
	}{
		"v1 hoster set":    {func(in *PoolPeriod) { in.Hoster = HosterTerms{Account: "h"} }, "hoster"},
		"L = 0":            {func(in *PoolPeriod) { in.PeriodEndUnixSeconds = in.PeriodStartUnixSeconds }, "period_end"},
		"L < 0":            {func(in *PoolPeriod) { in.PeriodEndUnixSeconds = in.PeriodStartUnixSeconds - 1 }, "period_end"},
		"negative start":   {func(in *PoolPeriod) { in.PeriodStartUnixSeconds = -1 }, "period_start"},
		"negative from":    {func(in *PoolPeriod) { in.Hosters[1].FromUnixSeconds = -5 }, "hosters[1].from"},
		"from = to":        {func(in *PoolPeriod) { in.Hosters[1].ToUnixSeconds = in.Hosters[1].FromUnixSeconds }, "hosters[1].to"},
		"overlap":          {func(in *PoolPeriod) { in.Hosters[1].ToUnixSeconds = third + 1 }, "hosters[0].from"},
		"same from":        {func(in *PoolPeriod) { in.Hosters[1].FromUnixSeconds = third; in.Hosters[1].ToUnixSeconds = third + 10 }, "hosters[1].from"},
		"negative carry":   {func(in *PoolPeriod) { in.Hosters[0].CarryInE8s = -1 }, "hosters[0].carry_in_e8s"},
		"bps above 10000":  {func(in *PoolPeriod) { in.Hosters[0].FeeBps = 10_001 }, "hosters[0].bps"},
		"negative fixed":   {func(in *PoolPeriod) { in.Hosters[0].FixedXDRPermyriad = -1 }, "hosters[0].fixed_xdr_permyriad"},
		"empty account":    {func(in *PoolPeriod) { in.Hosters[0].Account = "" }, "hosters[0].account"},
		"bad UTF-8":        {func(in *PoolPeriod) { in.Hosters[0].Account = "\xff" }, "hosters[0].account"},
		"rate zero":        {func(in *PoolPeriod) { in.RateXDRPermyriadPerICP = 0 }, "xdr_permyriad_per_icp"},
		"carry overflow":   {func(in *PoolPeriod) { in.Hosters[0].CarryInE8s = money.MaxE8s }, "hosters[0].carry_in_e8s"},
		"sponsor carry":    {func(in *PoolPeriod) { in.CarryIn = map[string]money.E8s{"nobody": 1} }, `carry_in["nobody"]`},
		"no contributions": {func(in *PoolPeriod) { in.Contributions = nil }, "contributions"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			in := base
			in.Hosters = append([]HosterEngagement(nil), base.Hosters...)
			c.edit(&in)
			_, err := Allocate("v2", in)
			var ie *InputError
			if !errors.As(err, &ie) || ie.Field != c.field {
				t.Fatalf("error %v, want an InputError on %s", err, c.field)
			}
		})
	}
	v1 := forumPool()
	v1.Hosters = []HosterEngagement{}
	if _, err := Allocate("v1", v1); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "hosters") {
		t.Fatalf("v1 with hosters: %v", err)
	}
	v1 = forumPool()
	v1.PeriodEndUnixSeconds = 5
	if _, err := Allocate("v1", v1); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "period_end") {
		t.Fatalf("v1 with period_end: %v", err)
	}
}

func TestV2InvariantCheckerCatchesBreaks(t *testing.T) {
	good := mustAllocateV2(t, v2Pools()["v2_touching_outside"])
	breaks := map[string]func(r *PoolResult){
		"H_j +1, H +1": func(r *PoolResult) {
			r.Hosters[1].HosterFeeE8s++
			r.Hosters[1].OwedE8s++
			r.Hosters[1].TransferE8s++
			r.HosterFeeE8s++
		},
		"H != sum H_j":      func(r *PoolResult) { r.Hosters[1].HosterFeeE8s--; r.Hosters[1].OwedE8s--; r.Hosters[1].TransferE8s-- },
		"owed != transfer":  func(r *PoolResult) { r.Hosters[0].TransferE8s++ },
		"overlap edited":    func(r *PoolResult) { r.Hosters[0].OverlapSeconds = 1 },
		"unsorted":          func(r *PoolResult) { r.Hosters[1], r.Hosters[2] = r.Hosters[2], r.Hosters[1] },
		"overlapping":       func(r *PoolResult) { r.Hosters[1].ToUnixSeconds++ },
		"v1 hoster set":     func(r *PoolResult) { r.Hoster.Account = "h" },
		"empty period":      func(r *PoolResult) { r.PeriodEndUnixSeconds = r.PeriodStartUnixSeconds },
		"bps edited":        func(r *PoolResult) { r.Hosters[1].FeeBps++ },
		"v1 with hosters":   func(r *PoolResult) { r.RulesVersion = "v1" },
		"carry out dropped": func(r *PoolResult) { r.Hosters[3].CarryOutE8s = 0 },
	}
	for name, brk := range breaks {
		r := good
		r.Hosters = append([]EngagementPayout(nil), good.Hosters...)
		brk(&r)
		if err := CheckInvariants(r); !errors.Is(err, ErrInvariant) {
			t.Errorf("%s: not caught: %v", name, err)
		}
	}
	if err := CheckInvariants(good); err != nil {
		t.Fatal(err)
	}
	// The encoder refuses a v1 result carrying engagements.
	bad := good
	bad.RulesVersion = "v1"
	if _, err := ManifestSHA256(bad); !errors.Is(err, ErrInvariant) {
		t.Fatalf("v1 result with engagements hashed: %v", err)
	}
}
