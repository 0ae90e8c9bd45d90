package ic_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
	"github.com/nodeshare/nodeshare/schemas"
)

// ConnectSource against the simulator: the connect stage's ports speak
// schemas types with the provenance of each read.
func TestConnectSource(t *testing.T) {
	ctx := context.Background()
	s, hs := startSim(t, icsim.CallModeSync)
	const months = 30
	sc := rewardScenario(months)
	from := icsim.Date{Year: 2025, Month: 9, Day: 1}
	sc.NodeDailyRewards = []icsim.NodeDay{{Day: &from, NodeProvider: npA, NodeID: nrcNode1, NodeRewardType: "type3.1", Region: "Europe,Switzerland", DCID: "zh1",
		Subnet: nrcSubnet, NumBlocksProposed: 100, BaseXDRPermyriadPerMonth: 304_375}}
	if err := s.ApplyScenario(sc); err != nil {
		t.Fatal(err)
	}
	src := ic.ConnectSource{Client: newClient(t, hs.URL, nil)}

	page, full, err := src.RewardEvents(ctx, 0, nil)
	if err != nil || !full || len(page) != ic.MaxListNodeProviderRewards {
		t.Fatalf("first page: %d full=%v %v", len(page), full, err)
	}
	newest := page[0]
	if newest.TimestampSeconds != 1_700_000_000+(months-1)*2_629_800 || newest.XDRPermyriadPerICP != 35_000 || len(newest.Rewards) != 2 ||
		newest.Provenance != (schemas.Provenance{Source: "ic", Canister: ic.GovernanceCanisterID.String(), Method: "list_node_provider_rewards"}) {
		t.Fatalf("newest %+v", newest)
	}
	// npB's reward went to its default account (named by a 28-byte hash):
	// both are the principal's ICRC-1 text.
	if a, b := newest.Rewards[0], newest.Rewards[1]; a.NodeProvider != npA || a.RewardAccount != npA || a.AmountE8s != 4_285_714_285 || b.NodeProvider != npB || b.RewardAccount != npB {
		t.Fatalf("rewards %+v", newest.Rewards)
	}
	end := page[len(page)-1].TimestampSeconds - 1
	rest, full, err := src.RewardEvents(ctx, 0, &end)
	if err != nil || full || len(rest) != months-ic.MaxListNodeProviderRewards {
		t.Fatalf("second page: %d full=%v %v", len(rest), full, err)
	}
	latest, err := src.MostRecentRewardEvent(ctx)
	if err != nil || latest == nil || latest.TimestampSeconds != newest.TimestampSeconds || latest.Provenance.Method != "get_most_recent_monthly_node_provider_rewards" {
		t.Fatalf("most recent %+v %v", latest, err)
	}

	spot, err := src.SpotRate(ctx)
	if err != nil || spot.XDRPermyriadPerICP != 36_000 || spot.Provenance.Canister != ic.CMCCanisterID.String() || spot.Provenance.CertTimeNanos == 0 ||
		spot.Provenance.Method != "get_icp_xdr_conversion_rate" {
		t.Fatalf("spot %+v %v", spot, err)
	}
	if avg, err := src.AverageRate(ctx); err != nil || avg.XDRPermyriadPerICP != 35_000 || avg.Provenance.Method != "get_average_icp_xdr_conversion_rate" {
		t.Fatalf("average %+v %v", avg, err)
	}

	day, err := src.NodeRewards(ctx, schemas.Date{Year: 2025, Month: 9, Day: 1})
	if err != nil || day.Missing != "" || len(day.Nodes) != 1 || day.Provenance.Canister != ic.NRCCanisterID.String() {
		t.Fatalf("nrc day %+v %v", day, err)
	}
	if n := day.Nodes[0]; n.Day != "2025-09-01" || n.NodeProvider != npA || n.NodeID != nrcNode1 || n.Subnet != nrcSubnet || !n.SubnetMember || n.AdjustedXDRPermyriad != "10000" {
		t.Fatalf("node %+v", n)
	}
	// A day without data is the canister's answer, not a failure.
	if day, err := src.NodeRewards(ctx, schemas.Date{Year: 2025, Month: 10, Day: 1}); err != nil || day.Missing == "" || len(day.Nodes) != 0 {
		t.Fatalf("missing day %+v %v", day, err)
	}

	// A transient reject reaches the stage as a transient failure.
	s.SetFaults(icsim.Faults{RejectQueriesNext: 1})
	_, err = src.SpotRate(ctx)
	if c := retry.Classify(fmt.Errorf("cmc: %w", err)); err == nil || c != retry.Transient {
		t.Fatalf("reject: %v classified %s", err, c)
	}
}

// retry.Classify reads the connector's own classification.
func TestErrorsClassifyForRetry(t *testing.T) {
	for _, c := range []struct {
		err  error
		want retry.Class
	}{
		{&ic.Error{Op: "q", Transient: true, Err: fmt.Errorf("(2) busy")}, retry.Transient},
		{&ic.Error{Op: "q", Err: ic.ErrUnverified}, retry.Fatal},
		{&ic.TransferError{Kind: ic.TemporarilyUnavailable}, retry.Transient},
		{&ic.TransferError{Kind: ic.BadFee}, retry.Fatal},
		{&ic.TransferError{Kind: ic.Duplicate}, retry.Fatal},
	} {
		if got := retry.Classify(fmt.Errorf("wrapped: %w", c.err)); got != c.want || (got == retry.Transient) != ic.IsTransient(c.err) {
			t.Errorf("%v: %s, want %s", c.err, got, c.want)
		}
	}
}
