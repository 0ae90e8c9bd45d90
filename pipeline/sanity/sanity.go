// Package sanity is the check of an NNS reward before any of it is paid
// (as Lido's oracle sanity checker does for its reports), pure: a reward
// or a rate that moves outside its bounds against the previous periods, a
// reward minted to an account that is not the DAO's treasury, or a node
// provider the DAO does not run puts the period on hold. A held period is
// allocated and reported as usual but cannot be planned until an operator
// releases it with a reason, recorded and audited (docs/payouts.md "Sanity
// holds"). No I/O: the payout stage asks through its ports.
package sanity

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/nodeshare/nodeshare/schemas"
)

// Kind names why a period is held.
type Kind string

// The kinds of hold.
const (
	// RewardJump: the reward moved more than MaxRewardChangeBps against
	// the node provider's previous reward.
	RewardJump Kind = "reward_jump"
	// RateDeviation: the reward's ICP/XDR rate is more than
	// MaxRateDeviationBps away from the 30-day average.
	RateDeviation Kind = "rate_deviation"
	// ForeignRewardAccount: the reward was minted to an account that is
	// not the DAO's treasury.
	ForeignRewardAccount Kind = "foreign_reward_account"
	// UnknownNodeProvider: the node provider is not one the DAO runs.
	UnknownNodeProvider Kind = "unknown_node_provider"
)

// Hold is one reason a period may not be planned yet.
type Hold struct {
	Kind   Kind   `json:"kind"`
	Detail string `json:"detail"`
}

// Bounds are the configured limits (0: the default).
type Bounds struct {
	// MaxRewardChangeBps bounds |reward - previous| / previous (default
	// 5,000: half the previous reward up or down).
	MaxRewardChangeBps int64
	// MaxRateDeviationBps bounds |rate - avg30| / avg30 (default 2,000).
	MaxRateDeviationBps int64
}

func (b Bounds) withDefaults() Bounds {
	if b.MaxRewardChangeBps == 0 {
		b.MaxRewardChangeBps = 5_000
	}
	if b.MaxRateDeviationBps == 0 {
		b.MaxRateDeviationBps = 2_000
	}
	return b
}

// Input is one reward and what it is compared with.
type Input struct {
	Reward schemas.NodeReward
	// Previous is the node provider's latest earlier reward (nil: none,
	// the first period is not compared).
	Previous *schemas.NodeReward
	// Avg30 is the 30-day average ICP/XDR rate (XDR permyriad per ICP) at
	// the reward's time (0: unknown, not compared).
	Avg30 int64
	// Treasuries are the forms the DAO's treasury account is written in
	// (ICRC-1 text, account identifier); empty: not checked.
	Treasuries []string
	// Providers are the node providers the DAO runs (principal text);
	// empty: not checked.
	Providers []string
}

// Check returns the holds of a reward, in a fixed order (none: the period
// may be planned).
func Check(in Input, b Bounds) []Hold {
	b = b.withDefaults()
	var out []Hold
	r := in.Reward
	if p := in.Previous; p != nil && p.AmountE8s > 0 && outside(r.AmountE8s, p.AmountE8s, b.MaxRewardChangeBps) {
		out = append(out, Hold{Kind: RewardJump, Detail: fmt.Sprintf("reward %d e8s against %d e8s the period before (bound %d bps)", r.AmountE8s, p.AmountE8s, b.MaxRewardChangeBps)})
	}
	if in.Avg30 > 0 && outside(r.XDRPermyriadPerICP, in.Avg30, b.MaxRateDeviationBps) {
		out = append(out, Hold{Kind: RateDeviation, Detail: fmt.Sprintf("rate %d XDR permyriad per ICP against the 30-day average %d (bound %d bps)", r.XDRPermyriadPerICP, in.Avg30, b.MaxRateDeviationBps)})
	}
	if len(in.Treasuries) > 0 && !slices.Contains(in.Treasuries, r.RewardAccount) {
		out = append(out, Hold{Kind: ForeignRewardAccount, Detail: fmt.Sprintf("minted to %s, not the DAO's treasury %s", r.RewardAccount, strings.Join(in.Treasuries, " / "))})
	}
	if len(in.Providers) > 0 && !slices.Contains(in.Providers, r.NodeProvider) {
		out = append(out, Hold{Kind: UnknownNodeProvider, Detail: fmt.Sprintf("node provider %s is not one the DAO runs (%s)", r.NodeProvider, strings.Join(in.Providers, ", "))})
	}
	return out
}

// outside reports |v - ref| * 10000 > bound * ref, exactly.
func outside(v, ref, boundBps int64) bool {
	d := new(big.Int).Sub(big.NewInt(v), big.NewInt(ref))
	d.Abs(d).Mul(d, big.NewInt(10_000))
	return d.Cmp(new(big.Int).Mul(big.NewInt(boundBps), big.NewInt(ref))) > 0
}

// SHA256 identifies a set of holds: a release names the holds it
// releases, so new or other holds are not released by it.
func SHA256(holds []Hold) string {
	var b strings.Builder
	b.WriteString("nodeshare sanity holds v1\n")
	for _, h := range holds {
		b.WriteString(string(h.Kind) + "\x00" + h.Detail + "\n")
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}
