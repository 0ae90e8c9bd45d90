package ic

import (
	"testing"

	"github.com/aviate-labs/agent-go/candid"
	"github.com/aviate-labs/agent-go/principal"
)

func nrcSeed(t testing.TB, res nrcCalcResponse) []byte {
	b, err := candid.Marshal([]any{res})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptrTo[T any](v T) *T { return &v }

func sampleNRCResponse() nrcCalcResponse {
	node := principal.MustDecode("rwlgt-iiaaa-aaaaa-aaaaa-cai")
	subnet := principal.MustDecode("tdb26-jop6k-aogll-7ltgs-eruif-6kk7m-qpktf-gdiqx-mxtrf-vb5e6-eqe")
	fr := &nrcFailureRate{}
	fr.SubnetMember = &struct {
		NodeMetrics *nrcNodeMetrics `ic:"node_metrics"`
	}{&nrcNodeMetrics{SubnetAssigned: &subnet, NumBlocksProposed: ptrTo(uint64(10)), NumBlocksFailed: ptrTo(uint64(1)),
		OriginalFailureRate: ptrTo(1.0 / 11), RelativeFailureRate: ptrTo(0.0), SubnetAssignedFailureRate: ptrTo(0.2)}}
	return nrcCalcResponse{Ok: &nrcDailyResults{
		SubnetsFailureRate: []nrcSubnetFailureRate{{Subnet: subnet, FailureRate: 0.2}},
		ProviderResults: []nrcProviderResult{{Provider: principal.AnonymousID, Rewards: nrcProviderRewards{
			TotalBaseRewardsXDRPermyriad: ptrTo(uint64(10_000)), TotalAdjustedRewardsXDRPermyriad: ptrTo(uint64(10_000)),
			BaseRewards:      []nrcBaseRewards{{MonthlyXDRPermyriad: ptrTo(304_375.0), DailyXDRPermyriad: ptrTo(10_000.0), NodeRewardType: ptrTo("type1"), Region: ptrTo("Europe")}},
			BaseRewardsType3: []nrcType3BaseRewards{},
			DailyNodesRewards: []nrcNodeRewards{{NodeID: &node, NodeRewardType: ptrTo("type1"), Region: ptrTo("Europe"), DCID: ptrTo("zh1"),
				DailyNodeFailureRate: fr, PerformanceMultiplier: ptrTo(1.0), RewardsReduction: ptrTo(0.0),
				BaseRewardsXDRPermyriad: ptrTo(10_000.0), AdjustedRewardsXDRPermyriad: ptrTo(10_000.0)}},
		}}},
	}}
}

func TestDecodeNRCCalculationReply(t *testing.T) {
	day := Date{Year: 2025, Month: 9, Day: 1}
	res, err := DecodeNRCCalculationReply(day, nrcSeed(t, sampleNRCResponse()))
	if err != nil {
		t.Fatal(err)
	}
	n := res.Providers[0].Nodes[0]
	if !n.SubnetMember || n.NumBlocksFailed != 1 || n.AdjustedXDRPermyriad != 10_000 || n.DCID != "zh1" || res.SubnetFailureRates[n.Subnet.String()] != 0.2 {
		t.Fatalf("decoded %+v", res)
	}
	msg := "day is in the future"
	if _, err := DecodeNRCCalculationReply(day, nrcSeed(t, nrcCalcResponse{Err: &msg})); !IsNRCError(err) {
		t.Fatalf("Err arm: %v", err)
	}
	bad := sampleNRCResponse()
	bad.Ok.ProviderResults[0].Rewards.DailyNodesRewards[0].AdjustedRewardsXDRPermyriad = ptrTo(-1.0)
	if _, err := DecodeNRCCalculationReply(day, nrcSeed(t, bad)); err == nil {
		t.Fatal("negative reward accepted")
	}
	if _, err := DecodeNRCCalculationReply(day, []byte("DIDL\x00")); err == nil {
		t.Fatal("garbage accepted")
	}
}

// There is no fuzz target for this decoder: fuzzing it finds agent-go
// v0.9.2's Candid decoder allocating whatever a type table declares (a
// future-type opcode with a huge byte count, "DIDLxA\xf8\xd4\xd2\xdfA",
// runs out of memory inside candid.decodeTypes). The replies it decodes come
// from verified, node-signed queries; candidHeaderSane bounds only the type
// count.
