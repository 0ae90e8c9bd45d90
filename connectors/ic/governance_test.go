package ic_test

import (
	"context"
	"testing"

	"github.com/aviate-labs/agent-go/principal"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
)

const (
	npA = "2vxsx-fae"
	// A second provider with an explicit 28-byte reward account hash.
	npB = "rwlgt-iiaaa-aaaaa-aaaaa-cai"
)

func rewardScenario(months int) icsim.Scenario {
	bAcct := ic.LegacyAccountID(ic.Account{Owner: principal.MustDecode(npB)})
	hash28 := bAcct.String()[8:]
	sc := icsim.Scenario{
		NodeProviders: []icsim.NodeProvider{{Principal: npA}, {Principal: npB, RewardAccountHex: hash28}},
		MintRewards:   true,
		Rate:          &icsim.ConversionRate{TimestampSeconds: 1_760_000_000, XDRPermyriadPerICP: 36_000},
		AverageRate:   &icsim.ConversionRate{TimestampSeconds: 1_759_900_000, XDRPermyriadPerICP: 35_000},
	}
	for i := 0; i < months; i++ {
		sc.Rewards = append(sc.Rewards, icsim.MonthlyRewards{
			TimestampSeconds:   1_700_000_000 + uint64(i)*2_629_800,
			XDRPermyriadPerICP: 35_000,
			Rewards: []icsim.ProviderReward{
				{NodeProvider: npA, XDRPermyriad: 1_500_000},
				{NodeProvider: npB, RewardAccountHex: hash28, AmountE8s: 1_000},
			},
		})
	}
	return sc
}

func TestGovernanceRewards(t *testing.T) {
	ctx := context.Background()
	s, hs := startSim(t, icsim.CallModeSync)
	c := newClient(t, hs.URL, nil)
	if m, err := c.MostRecentNodeProviderRewards(ctx); err != nil || m != nil {
		t.Fatalf("empty governance: %+v %v", m, err)
	}
	const months = 30
	if err := s.ApplyScenario(rewardScenario(months)); err != nil {
		t.Fatal(err)
	}
	latest, err := c.MostRecentNodeProviderRewards(ctx)
	if err != nil || latest == nil {
		t.Fatal(err)
	}
	if latest.TimestampSeconds != 1_700_000_000+(months-1)*2_629_800 || latest.XDRPermyriadPerICP != 35_000 || len(latest.Rewards) != 2 {
		t.Fatalf("latest %+v", latest)
	}
	// floor(1_500_000 × 1e8 / 35_000) = 4_285_714_285
	if r := latest.Rewards[0]; r.AmountE8s != 4_285_714_285 || r.NodeProvider.ID.String() != npA || r.ToAccount != nil {
		t.Fatalf("reward A %+v", r)
	}
	wantB := ic.LegacyAccountID(ic.Account{Owner: principal.MustDecode(npB)})
	if r := latest.Rewards[1]; r.ToAccount == nil || *r.ToAccount != wantB {
		t.Fatalf("reward B account (28-byte hash normalised): %+v", r)
	}
	page, err := c.ListNodeProviderRewards(ctx, nil, nil)
	if err != nil || len(page) != ic.MaxListNodeProviderRewards {
		t.Fatalf("page %d %v", len(page), err)
	}
	for i := 1; i < len(page); i++ {
		if page[i-1].TimestampSeconds <= page[i].TimestampSeconds {
			t.Fatal("not newest first")
		}
	}
	all, err := c.NodeProviderRewardsSince(ctx, 0)
	if err != nil || len(all) != months {
		t.Fatalf("all %d %v", len(all), err)
	}
	start := uint64(1_700_000_000 + 25*2_629_800)
	recent, err := c.NodeProviderRewardsSince(ctx, start)
	if err != nil || len(recent) != 5 {
		t.Fatalf("since: %d %v", len(recent), err)
	}
	// Minted like Governance: A's default account got every month's amount.
	bal, err := c.BalanceOf(ctx, ic.Account{Owner: principal.MustDecode(npA)})
	if err != nil || bal != months*4_285_714_285 {
		t.Fatalf("A balance %d %v", bal, err)
	}
}

func TestCMCRatesVerified(t *testing.T) {
	ctx := context.Background()
	s, hs := startSim(t, icsim.CallModeSync)
	c := newClient(t, hs.URL, nil)
	if _, err := c.ICPXDRRate(ctx); err == nil {
		t.Fatal("unset rate must fail")
	}
	if err := s.ApplyScenario(rewardScenario(0)); err != nil {
		t.Fatal(err)
	}
	r, err := c.ICPXDRRate(ctx)
	if err != nil || r.XDRPermyriadPerICP != 36_000 || r.TimestampSeconds != 1_760_000_000 {
		t.Fatalf("rate %+v %v", r, err)
	}
	avg, err := c.AverageICPXDRRate(ctx)
	if err != nil || avg.XDRPermyriadPerICP != 35_000 {
		t.Fatalf("average %+v %v", avg, err)
	}
}
