package ic_test

import (
	"context"
	"testing"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
)

const (
	nrcNode1  = "rwlgt-iiaaa-aaaaa-aaaaa-cai"
	nrcNode2  = "ryjl3-tyaaa-aaaaa-aaaba-cai"
	nrcSubnet = "tdb26-jop6k-aogll-7ltgs-eruif-6kk7m-qpktf-gdiqx-mxtrf-vb5e6-eqe"
)

func TestNRCDailyResults(t *testing.T) {
	ctx := context.Background()
	s, hs := startSim(t, icsim.CallModeSync)
	from, to := icsim.Date{Year: 2025, Month: 9, Day: 1}, icsim.Date{Year: 2025, Month: 9, Day: 30}
	if err := s.ApplyScenario(icsim.Scenario{NodeDailyRewards: []icsim.NodeDay{
		{FromDay: &from, ToDay: &to, NodeProvider: npA, NodeID: nrcNode1, NodeRewardType: "type3.1", Region: "Europe,Switzerland", DCID: "zh1",
			Subnet: nrcSubnet, NumBlocksProposed: 100, BaseXDRPermyriadPerMonth: 304_375},
		{Day: &from, NodeProvider: npA, NodeID: nrcNode2, NodeRewardType: "type3.1", Region: "Europe,Switzerland", DCID: "zh1", BaseXDRPermyriadPerMonth: 608_750},
	}}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, hs.URL, nil)
	res, err := c.NodeProvidersRewardsCalculation(ctx, ic.Date{Year: 2025, Month: 9, Day: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Providers) != 1 || res.Providers[0].NodeProvider.String() != npA || len(res.Providers[0].Nodes) != 2 {
		t.Fatalf("providers %+v", res.Providers)
	}
	if got := res.SubnetFailureRates[nrcSubnet]; got != 0 {
		t.Fatalf("subnet failure rate %v", got)
	}
	byID := map[string]ic.NodeDailyRewards{}
	for _, n := range res.Providers[0].Nodes {
		byID[n.NodeID.String()] = n
	}
	n1, n2 := byID[nrcNode1], byID[nrcNode2]
	if !n1.SubnetMember || n1.Subnet == nil || n1.Subnet.String() != nrcSubnet || n1.NumBlocksProposed != 100 || n1.AdjustedXDRPermyriad != 10_000 || n1.Region != "Europe,Switzerland" || n1.NodeRewardType != "type3.1" {
		t.Fatalf("node 1 %+v", n1)
	}
	if n2.SubnetMember || n2.AdjustedXDRPermyriad != 20_000 || n2.PerformanceMultiplier != 1 {
		t.Fatalf("node 2 (NonSubnetMember arm) %+v", n2)
	}
	if tot := res.Providers[0].TotalAdjustedXDRPermyriad; tot == nil || *tot != 30_000 {
		t.Fatalf("total %v", tot)
	}
	// Day 2 has only node 1.
	res, err = c.NodeProvidersRewardsCalculation(ctx, ic.Date{Year: 2025, Month: 9, Day: 2})
	if err != nil || len(res.Providers[0].Nodes) != 1 {
		t.Fatalf("day 2: %+v %v", res, err)
	}
	// A day without data is the NRC's Err arm, typed and not transient.
	_, err = c.NodeProvidersRewardsCalculation(ctx, ic.Date{Year: 2025, Month: 10, Day: 1})
	if !ic.IsNRCError(err) || ic.IsTransient(err) {
		t.Fatalf("missing day: %v", err)
	}
}
