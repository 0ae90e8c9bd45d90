package allocation

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// Rules is one frozen version of docs/allocation-rules.md. A rule change is a new
// implementation registered under a new name beside the old ones, never an
// edit: a period is always recomputed with the version it was paid under.
type Rules interface {
	// Version is the name the rules are registered under, e.g. "v1", "v2".
	Version() string
	// Allocate computes one pool's period (level 2).
	Allocate(in PoolPeriod) (PoolResult, error)
	// SplitReward splits an NP reward between pools by weight (level 1).
	SplitReward(grossE8s money.E8s, weights []PoolWeight) ([]PoolGross, error)
	// VotingWeights computes the sponsors' voting weights and sockpuppet hints.
	VotingWeights(contributions []Contribution, opts VotingOptions) (VotingReport, error)
}

// registry is the one table of rule versions. It is built once from the list
// below and never changes afterwards; registryErr is non-nil only if that
// list is broken (a duplicate name), and then every lookup fails.
var registry, registryErr = newRegistry(strictV1{}, rulesV2{})

// strictV1 is rulesV1 as registered. The frozen rules_v1.go predates the
// fields only v2 reads (hosters and the period bounds) and would ignore
// them; a v1 input that sets one is refused instead, as the JSON contract
// refuses an unknown field. It computes nothing: accepted inputs go to
// rulesV1 untouched.
type strictV1 struct{ rulesV1 }

func (s strictV1) Allocate(in PoolPeriod) (PoolResult, error) {
	switch {
	case in.Hosters != nil:
		return PoolResult{}, inputErr("", "hosters", "is not a field of rules v1 (its one hoster is \"hoster\"); engagements need rules v2")
	case in.PeriodStartUnixSeconds != 0:
		return PoolResult{}, inputErr("", "period_start", "is not a field of rules v1; the period bounds need rules v2, got %d", in.PeriodStartUnixSeconds)
	case in.PeriodEndUnixSeconds != 0:
		return PoolResult{}, inputErr("", "period_end", "is not a field of rules v1; the period bounds need rules v2, got %d", in.PeriodEndUnixSeconds)
	}
	return s.rulesV1.Allocate(in)
}

func newRegistry(rules ...Rules) (map[string]Rules, error) {
	m := make(map[string]Rules, len(rules))
	for _, r := range rules {
		v := r.Version()
		if v == "" {
			return nil, fmt.Errorf("allocation: rules with an empty version")
		}
		if _, dup := m[v]; dup {
			return nil, fmt.Errorf("allocation: rules version %q registered twice", v)
		}
		m[v] = r
	}
	return m, nil
}

// Lookup returns the rules registered under version. There is no default:
// an empty or unknown version is an error that lists the known ones.
func Lookup(version string) (Rules, error) {
	if registryErr != nil {
		return nil, registryErr
	}
	r, ok := registry[version]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownRules, version, strings.Join(Versions(), ", "))
	}
	return r, nil
}

// Versions lists the registered rule versions, sorted.
func Versions() []string {
	vs := make([]string, 0, len(registry))
	for v := range registry {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// Allocate computes one pool's period under the named rules version.
func Allocate(version string, in PoolPeriod) (PoolResult, error) {
	r, err := Lookup(version)
	if err != nil {
		return PoolResult{}, err
	}
	return r.Allocate(in)
}

// SplitReward splits an NP reward between pools under the named rules
// version. The result is sorted by pool id and sums to grossE8s.
func SplitReward(version string, grossE8s money.E8s, weights []PoolWeight) ([]PoolGross, error) {
	r, err := Lookup(version)
	if err != nil {
		return nil, err
	}
	return r.SplitReward(grossE8s, weights)
}

// VotingWeights computes voting weights under the named rules version.
func VotingWeights(version string, contributions []Contribution, opts VotingOptions) (VotingReport, error) {
	r, err := Lookup(version)
	if err != nil {
		return VotingReport{}, err
	}
	return r.VotingWeights(contributions, opts)
}
