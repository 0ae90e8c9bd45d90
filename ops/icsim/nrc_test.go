package icsim

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
)

const (
	testNP     = "2vxsx-fae"
	testNode1  = "rwlgt-iiaaa-aaaaa-aaaaa-cai"
	testNode2  = "ryjl3-tyaaa-aaaaa-aaaba-cai"
	testNode3  = "qjdve-lqaaa-aaaaa-aaaeq-cai"
	testSubnet = "tdb26-jop6k-aogll-7ltgs-eruif-6kk7m-qpktf-gdiqx-mxtrf-vb5e6-eqe"
)

func nrcScenario() Scenario {
	from, to := Date{Year: 2025, Month: 9, Day: 1}, Date{Year: 2025, Month: 9, Day: 3}
	return Scenario{NodeDailyRewards: []NodeDay{
		// Healthy subnet member.
		{FromDay: &from, ToDay: &to, NodeProvider: testNP, NodeID: testNode1, NodeRewardType: "type1.1", Region: "Europe,Switzerland", DCID: "zh1",
			Subnet: testSubnet, NumBlocksProposed: 100, BaseXDRPermyriadPerMonth: 304_375},
		// Failing subnet member: original_fr 0.5.
		{FromDay: &from, ToDay: &to, NodeProvider: testNP, NodeID: testNode2, NodeRewardType: "type1.1", Region: "Europe,Switzerland", DCID: "zh1",
			Subnet: testSubnet, NumBlocksProposed: 50, NumBlocksFailed: 50, BaseXDRPermyriadPerMonth: 304_375},
		// Unassigned node.
		{Day: &from, NodeProvider: testNP, NodeID: testNode3, NodeRewardType: "type1.1", Region: "Europe,Switzerland", DCID: "zh1", BaseXDRPermyriadPerMonth: 304_375},
	}}
}

func TestNRCCalculationThroughAgent(t *testing.T) {
	s, hs := startSim(t, Options{})
	if err := s.ApplyScenario(nrcScenario()); err != nil {
		t.Fatal(err)
	}
	a := newAgent(t, hs, nil)
	y, m, d := uint32(2025), uint32(9), uint32(1)
	var res candidNRCCalcResponse
	if err := a.Query(NRCID(), "get_node_providers_rewards_calculation", []any{candidNRCCalcRequest{Day: candidNRCDate{Day: &d, Month: &m, Year: &y}}}, []any{&res}); err != nil {
		t.Fatal(err)
	}
	if res.Err != nil || res.Ok == nil {
		t.Fatalf("response %+v", res)
	}
	if len(res.Ok.ProviderResults) != 1 || res.Ok.ProviderResults[0].Provider.String() != testNP {
		t.Fatalf("provider results %+v", res.Ok.ProviderResults)
	}
	// Subnet FR: p75 of {0, 0.5} is index ceil(1.5)-1 = 1 -> 0.5, so both
	// members have relative FR 0 and full rewards; the unassigned node gets
	// the mean relative FR 0 too. Daily base 304375 / 30.4375 = 10000.
	if fr := res.Ok.SubnetsFailureRate; len(fr) != 1 || fr[0].FailureRate != 0.5 || fr[0].Subnet.String() != testSubnet {
		t.Fatalf("subnet failure rates %+v", fr)
	}
	p := res.Ok.ProviderResults[0].Rewards
	if len(p.DailyNodesRewards) != 3 || *p.TotalAdjustedRewardsXDRPermyriad != 30_000 || *p.TotalBaseRewardsXDRPermyriad != 30_000 {
		t.Fatalf("provider rewards %+v", p)
	}
	for _, n := range p.DailyNodesRewards {
		if *n.AdjustedRewardsXDRPermyriad != 10_000 || *n.PerformanceMultiplier != 1 {
			t.Fatalf("node %s: %+v", n.NodeID, n)
		}
	}
	var unassigned int
	for _, n := range p.DailyNodesRewards {
		if n.DailyNodeFailureRate.NonSubnetMember != nil {
			unassigned++
		}
	}
	if unassigned != 1 {
		t.Fatalf("want one NonSubnetMember arm, got %d", unassigned)
	}

	// A day without metrics is Err, not a reject.
	d = 20
	res = candidNRCCalcResponse{}
	if err := a.Query(NRCID(), "get_node_providers_rewards_calculation", []any{candidNRCCalcRequest{Day: candidNRCDate{Day: &d, Month: &m, Year: &y}}}, []any{&res}); err != nil {
		t.Fatal(err)
	}
	if res.Err == nil || !strings.Contains(*res.Err, "no node metrics") {
		t.Fatalf("missing day: %+v", res)
	}
	// The calculation is non-replicated only: as an update it traps.
	d = 1
	if err := a.Call(NRCID(), "get_node_providers_rewards_calculation", []any{candidNRCCalcRequest{Day: candidNRCDate{Day: &d, Month: &m, Year: &y}}}, []any{&res}); err == nil {
		t.Fatal("replicated calculation call must be rejected")
	}
	// get_node_providers_rewards is for Governance only.
	var rr candidNRCRewardsResponse
	if err := a.Call(NRCID(), "get_node_providers_rewards", []any{candidNRCRewardsRequest{}}, []any{&rr}); err == nil || !strings.Contains(err.Error(), "only Governance") {
		t.Fatalf("non-governance caller: %v", err)
	}
}

func TestNRCReduction(t *testing.T) {
	for _, c := range []struct{ fr, want float64 }{{0, 0}, {0.1, 0}, {0.35, 0.4}, {0.6, 0.8}, {0.9, 0.8}} {
		if got := reduction(c.fr); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("reduction(%v) = %v, want %v", c.fr, got, c.want)
		}
	}
	// original_fr 0.5 in a subnet whose p75 is 0 (three healthy nodes and
	// one failing): relative 0.5 -> reduction 0.64, multiplier 0.36.
	day := Date{Year: 2025, Month: 9, Day: 1}
	st := newNRCState()
	ids := []string{testNode1, testNode2, testNode3, "qhbym-qaaaa-aaaaa-aaafq-cai"}
	for i, id := range ids {
		nd := NodeDay{Day: &day, NodeProvider: testNP, NodeID: id, Subnet: testSubnet, NumBlocksProposed: 100, BaseXDRPermyriadPerMonth: 304_375}
		if i == 3 {
			nd.NumBlocksProposed, nd.NumBlocksFailed = 50, 50
		}
		st.add([]NodeDay{nd})
	}
	res, ok := st.dailyResults(day)
	if !ok {
		t.Fatal("no results")
	}
	var total float64
	for _, n := range res.ProviderResults[0].Rewards.DailyNodesRewards {
		total += *n.AdjustedRewardsXDRPermyriad
		if n.NodeID.String() == ids[3] && math.Abs(*n.PerformanceMultiplier-0.36) > 1e-9 {
			t.Fatalf("failing node multiplier %v", *n.PerformanceMultiplier)
		}
	}
	if got := *res.ProviderResults[0].Rewards.TotalAdjustedRewardsXDRPermyriad; got != uint64(total) || got != 33_600 {
		t.Fatalf("total adjusted %d (sum %v)", got, total)
	}
}

func TestDashboardEndpoint(t *testing.T) {
	s, hs := startSim(t, Options{})
	if err := s.ApplyScenario(Scenario{Rate: &ConversionRate{TimestampSeconds: 1_760_000_000, XDRPermyriadPerICP: 36_000},
		AverageRate: &ConversionRate{TimestampSeconds: 1_759_900_000, XDRPermyriadPerICP: 35_000}}); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(hs.URL + DashboardPath + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/icp-xdr-conversion-rates")
	var doc map[string][][]json.RawMessage
	if err := json.Unmarshal([]byte(body), &doc); err != nil || code != 200 {
		t.Fatalf("%d %s %v", code, body, err)
	}
	if p := doc["icp_xdr_conversion_rates"]; len(p) != 1 || string(p[0][0]) != "1760000000" || string(p[0][1]) != "36000" {
		t.Fatalf("spot %s", body)
	}
	if err := s.ApplyScenario(Scenario{Dashboard: &DashboardRates{Average: &DashboardPoint{TimestampSeconds: 1_759_900_000, XDRPermyriadPerICP: "40000.5"},
		ValuesAsStrings: true, FailNext: 1}}); err != nil {
		t.Fatal(err)
	}
	if code, _ := get("/avg-icp-xdr-conversion-rates"); code != http.StatusServiceUnavailable {
		t.Fatalf("fail_next: %d", code)
	}
	if _, body := get("/avg-icp-xdr-conversion-rates"); !strings.Contains(body, `"40000.5"`) || !strings.Contains(body, "avg_icp_xdr_conversion_rates") {
		t.Fatalf("average override %s", body)
	}
	if err := s.ApplyScenario(Scenario{Dashboard: &DashboardRates{Spot: &DashboardPoint{XDRPermyriadPerICP: "NaN"}}}); err == nil {
		t.Fatal("NaN rate accepted")
	}
}

func TestNRCExampleScenarioLoads(t *testing.T) {
	s, _ := startSim(t, Options{})
	if err := s.LoadScenarioFile("scenarios/nrc-example.json"); err != nil {
		t.Fatal(err)
	}
	res, ok := s.nrc.dailyResults(Date{Year: 2025, Month: 9, Day: 30})
	if !ok || len(res.ProviderResults) != 1 || len(res.ProviderResults[0].Rewards.DailyNodesRewards) != 2 {
		t.Fatalf("example scenario: %+v", res)
	}
}

func TestNRCAdminRoutes(t *testing.T) {
	s, hs := startSim(t, Options{})
	body := `[{"day":{"year":2025,"month":9,"day":1},"node_provider":"2vxsx-fae","node_id":"` + testNode1 + `","base_xdr_permyriad_per_month":304375}]`
	resp, err := http.Post(hs.URL+"/admin/nrc/days", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("post days: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, ok := s.nrc.dailyResults(Date{Year: 2025, Month: 9, Day: 1}); !ok {
		t.Fatal("day not stored")
	}
	resp, err = http.Post(hs.URL+"/admin/nrc/days", "application/json", strings.NewReader(`[{"node_provider":"2vxsx-fae","node_id":"`+testNode1+`"}]`))
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("a day-less entry must be refused: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(hs.URL + "/admin/nrc")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), testNode1) {
		t.Fatalf("GET /admin/nrc: %s", b)
	}
}
