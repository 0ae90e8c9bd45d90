package allocation

import (
	"errors"
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

var (
	propCases = flag.Int("prop.cases", 3000, "random pools per property test")
	propSeed  = flag.Uint64("prop.seed", 20260701, "base seed of the property tests (case i uses seed+i)")
)

const idAlphabet = "abcAB09-_éß"

func randomID(rng *rand.Rand, prefix string) string {
	n := 1 + rng.IntN(4)
	r := []rune(idAlphabet)
	b := []rune(prefix)
	for i := 0; i < n; i++ {
		b = append(b, r[rng.IntN(len(r))])
	}
	return string(b)
}

// randomPool draws a pool that exercises ties (equal stakes, equal times,
// equal remainders), zero stakes, several contributions per sponsor, amounts
// up to 2^63-1, every fee from 0 to its maximum, carries and refunds.
func randomPool(rng *rand.Rand) PoolPeriod {
	var nSponsors int
	switch rng.IntN(4) {
	case 0:
		nSponsors = 1 + rng.IntN(3)
	case 1, 2:
		nSponsors = 2 + rng.IntN(30)
	default:
		nSponsors = 30 + rng.IntN(300)
	}
	maxAmount := []int64{10, 1_000, 1_000_000_000_000, int64(money.MaxE8s) / int64(4*nSponsors)}[rng.IntN(4)]
	equal := rng.IntN(3) == 0
	equalAmount := 1 + rng.Int64N(maxAmount)
	var in PoolPeriod
	in.PoolID, in.Period = "pool-"+randomID(rng, ""), "2026-07"
	in.RateXDRPermyriadPerICP = money.XDRPermyriadPerICP(1 + rng.Int64N(100_000))
	in.Hoster = HosterTerms{Account: "hoster", FixedXDRPermyriad: money.XDRPermyriad(rng.Int64N(3) * rng.Int64N(1_000_000)),
		FeeBps: money.Bps(rng.Int64N(3) * rng.Int64N(5001)), CarryInE8s: money.E8s(rng.Int64N(2) * rng.Int64N(100_000))}
	if rng.IntN(20) == 0 {
		in.Hoster.FeeBps = 10_000
	}
	in.DAOFeeBps = money.Bps(rng.Int64N(2) * rng.Int64N(10_001))
	in.WhalePremiumBps = money.Bps(rng.Int64N(10_000))
	in.LedgerFeeE8s = money.E8s(rng.Int64N(3) * rng.Int64N(20_000))
	in.MinPayoutE8s = money.E8s(rng.Int64N(2) * rng.Int64N(1_000_000))
	gross := []int64{rng.Int64N(100), rng.Int64N(1_000_000_000_000), int64(money.MaxE8s) - rng.Int64N(1000)}[rng.IntN(3)]
	in.GrossE8s = money.E8s(gross)
	in.CarryIn = map[string]money.E8s{}
	seen := map[string]bool{}
	cid := 0
	for len(seen) < nSponsors {
		sp := randomID(rng, "s")
		if seen[sp] {
			continue
		}
		seen[sp] = true
		k := 1 + rng.IntN(3)
		for j := 0; j < k; j++ {
			amt := equalAmount
			if !equal {
				amt = rng.Int64N(maxAmount + 1)
				if rng.IntN(10) == 0 {
					amt = 0
				}
			} else if j > 0 {
				amt = 0 // keep stakes equal while adding contributions (and times)
			}
			cid++
			in.Contributions = append(in.Contributions, Contribution{
				ID: fmt.Sprintf("c%d", cid), Sponsor: sp, AmountE8s: money.E8s(amt),
				At: day0.Add(time.Duration(rng.IntN(5)) * time.Hour),
			})
		}
		if rng.IntN(4) == 0 {
			in.CarryIn[sp] = money.E8s(rng.Int64N(50_000))
		}
	}
	if in.Contributions[0].AmountE8s == 0 {
		in.Contributions[0].AmountE8s = 1 // some funded stake
	}
	switch rng.IntN(12) {
	case 0:
		in.Proposal = &Proposal{Status: ProposalRejected, SlashBps: money.Bps(rng.Int64N(10_001))}
		in.GrossE8s = 0
	case 1:
		in.Proposal = &Proposal{Status: ProposalAdopted}
	}
	return in
}

// permute returns a copy of in with the contributions shuffled and the carry
// map rebuilt in a different insertion order.
func permute(rng *rand.Rand, in PoolPeriod) PoolPeriod {
	out := in
	out.Contributions = append([]Contribution(nil), in.Contributions...)
	rng.Shuffle(len(out.Contributions), func(i, j int) {
		out.Contributions[i], out.Contributions[j] = out.Contributions[j], out.Contributions[i]
	})
	out.CarryIn = make(map[string]money.E8s, len(in.CarryIn))
	for k, v := range in.CarryIn {
		out.CarryIn[k] = v
	}
	return out
}

func TestPropertiesRandomPools(t *testing.T) {
	valid := 0
	for i := 0; i < *propCases; i++ {
		seed := *propSeed + uint64(i)
		rng := rand.New(rand.NewPCG(seed, 7))
		in := randomPool(rng)
		r, err := Allocate("v1", in)
		if errors.Is(err, ErrInvalidInput) {
			continue // e.g. stakes summing past 2^64; Allocate refused, fine
		}
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		valid++
		if err := checkProperties(in, r); err != nil {
			t.Fatalf("seed %d (rerun with -prop.seed=%d -prop.cases=1): %v", seed, seed, err)
		}
		// Permutation invariance of every output and of the manifest hash.
		p := permute(rng, in)
		r2, err := Allocate("v1", p)
		if err != nil {
			t.Fatalf("seed %d: permuted input failed: %v", seed, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("seed %d: result depends on input order", seed)
		}
		// The sorted permutation takes the fast paths (no index sort).
		sorted := permute(rng, in)
		slices.SortFunc(sorted.Contributions, func(a, b Contribution) int {
			if c := strings.Compare(a.Sponsor, b.Sponsor); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		if r3, err := Allocate("v1", sorted); err != nil || !reflect.DeepEqual(r, r3) {
			t.Fatalf("seed %d: sorted input differs (%v)", seed, err)
		}
		h1, err1 := ManifestSHA256(r)
		h2, err2 := ManifestSHA256(r2)
		if err1 != nil || err2 != nil || h1 != h2 {
			t.Fatalf("seed %d: manifest %s vs %s (%v, %v)", seed, h1, h2, err1, err2)
		}
	}
	if valid < *propCases*9/10 {
		t.Fatalf("only %d of %d random pools were valid: the generator is off", valid, *propCases)
	}
}

// checkProperties checks r against the independent reference model and the
// rules' properties, computing sums with math/big.
func checkProperties(in PoolPeriod, r PoolResult) error {
	if ref := referenceAllocate(in); !reflect.DeepEqual(r, ref) {
		return fmt.Errorf("differs from the decimal reference model:\n got %+v\nwant %+v", r, ref)
	}
	sum := new(big.Int)
	for _, s := range r.Shares {
		sum.Add(sum, big.NewInt(int64(s.ShareE8s)))
		owed := new(big.Int).Add(big.NewInt(int64(s.ShareE8s)), big.NewInt(int64(s.CarryInE8s)))
		paid := new(big.Int).Add(big.NewInt(int64(s.TransferE8s)), big.NewInt(int64(s.FeeE8s)))
		if paid.Add(paid, big.NewInt(int64(s.CarryOutE8s))).Cmp(owed) != 0 {
			return fmt.Errorf("sponsor %q: owed %v != transfer + fee + carry-out", s.Sponsor, owed)
		}
		if big.NewInt(int64(s.TransferE8s)).Cmp(owed) > 0 {
			return fmt.Errorf("sponsor %q paid %d, more than owed %v", s.Sponsor, s.TransferE8s, owed)
		}
	}
	total := sum.Add(sum, big.NewInt(int64(r.HosterFeeE8s)))
	total.Add(total, big.NewInt(int64(r.DAOFeeE8s)))
	if total.Cmp(big.NewInt(int64(r.GrossE8s))) != 0 {
		return fmt.Errorf("conservation: H + D_fee + sum(shares) = %v != G = %d", total, r.GrossE8s)
	}
	if r.Hoster.TransferE8s > r.Hoster.OwedE8s {
		return fmt.Errorf("hoster paid more than owed")
	}
	// The whale never below its pro-rata share.
	if r.Whale != "" {
		for _, s := range r.Shares {
			if s.Sponsor == r.Whale && s.ShareE8s < r.WhaleProRataE8s {
				return fmt.Errorf("whale %q share %d below pro rata %d", s.Sponsor, s.ShareE8s, r.WhaleProRataE8s)
			}
		}
	}
	// Equal stakes, equal shares within one e8s (outside refunds, the whale
	// aside).
	if r.Proposal == nil || r.Proposal.Status != ProposalRejected {
		byStake := map[money.E8s][2]money.E8s{} // stake -> min, max share
		for _, s := range r.Shares {
			if s.Sponsor == r.Whale {
				continue
			}
			mm, ok := byStake[s.StakeE8s]
			if !ok {
				mm = [2]money.E8s{s.ShareE8s, s.ShareE8s}
			}
			mm[0], mm[1] = min(mm[0], s.ShareE8s), max(mm[1], s.ShareE8s)
			byStake[s.StakeE8s] = mm
			if mm[1]-mm[0] > 1 {
				return fmt.Errorf("equal stakes %d got shares %d and %d", s.StakeE8s, mm[0], mm[1])
			}
		}
	}
	return CheckInvariants(r)
}

// TestLargePools exercises the radix select beyond its stack buffer: pools
// of thousands of sponsors with equal stakes (every remainder in one bucket,
// so every digit is narrowed) and with random stakes and remainders up to
// 2^63, sorted and unsorted input, each against the reference model.
func TestLargePools(t *testing.T) {
	for i := 0; i < 12; i++ {
		seed := *propSeed + 1_000_000 + uint64(i)
		rng := rand.New(rand.NewPCG(seed, 3))
		n := 2000 + rng.IntN(6000)
		in := pool(money.E8s(rng.Int64N(int64(money.MaxE8s))))
		in.WhalePremiumBps = money.Bps(rng.Int64N(10_000))
		in.LedgerFeeE8s = money.E8s(rng.Int64N(1000))
		equal := i%2 == 0
		maxAmt := int64(money.MaxE8s) / int64(n+1)
		if i%4 == 1 {
			maxAmt = 1_000
		}
		for k := 0; k < n; k++ {
			amt := maxAmt
			if !equal {
				amt = rng.Int64N(maxAmt) + 1
			}
			in.Contributions = append(in.Contributions, Contribution{
				ID: fmt.Sprintf("c%06d", k), Sponsor: fmt.Sprintf("s%06d", k), AmountE8s: money.E8s(amt), At: day0,
			})
		}
		if i%3 == 0 {
			in = permute(rng, in)
		}
		r, err := Allocate("v1", in)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if err := checkProperties(in, r); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}
