package ic_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
)

// postAdmin posts a JSON body to the simulator's admin API.
func postAdmin(t *testing.T, base, path string, body, out any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&e)
		t.Fatalf("POST %s: %d %v", path, resp.StatusCode, e)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

func TestProposalInfo(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []icsim.CallMode{icsim.CallModeSync, icsim.CallModeAsync} {
		t.Run(string(mode), func(t *testing.T) {
			_, hs := startSim(t, mode)
			c := newClient(t, hs.URL, nil)
			if p, err := c.ProposalInfo(ctx, 1); err != nil || p != nil {
				t.Fatalf("unknown proposal: %+v %v", p, err)
			}
			at := func(v uint64) *uint64 { return &v }
			for _, tc := range []struct {
				steps []string
				want  ic.ProposalStatus
			}{
				{nil, ic.ProposalOpen},
				{[]string{icsim.ProposalAdopted}, ic.ProposalAdopted},
				{[]string{icsim.ProposalRejected}, ic.ProposalRejected},
				{[]string{icsim.ProposalAdopted, icsim.ProposalExecuted}, ic.ProposalExecuted},
				{[]string{icsim.ProposalAdopted, icsim.ProposalFailed}, ic.ProposalFailed},
			} {
				var p icsim.ProposalView
				postAdmin(t, hs.URL, "/admin/governance/proposals", icsim.ProposalRequest{Title: "Add node provider", Topic: 6, AtSeconds: at(1_000)}, &p)
				for i, st := range tc.steps {
					postAdmin(t, hs.URL, "/admin/governance/proposals", icsim.ProposalRequest{ID: &p.ID, Status: st, FailureReason: "install failed", AtSeconds: at(2_000 + uint64(i))}, nil)
				}
				got, err := c.ProposalInfo(ctx, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.ID != p.ID || got.Status != tc.want || got.Topic != 6 || got.SubmittedSeconds != 1_000 || got.Status.Decided() != (tc.want != ic.ProposalOpen) {
					t.Fatalf("%v: %+v", tc.steps, got)
				}
				if tc.want != ic.ProposalOpen && got.DecidedSeconds != 2_000 {
					t.Fatalf("%v: decided at %d", tc.steps, got.DecidedSeconds)
				}
				if tc.want == ic.ProposalExecuted && got.ExecutedSeconds != 2_001 {
					t.Fatalf("executed at %d", got.ExecutedSeconds)
				}
				if tc.want == ic.ProposalFailed && (got.FailedSeconds != 2_001 || got.FailureReason != "install failed") {
					t.Fatalf("failed: %+v", got)
				}
			}
		})
	}
}

// TestNodeJoinsAndLeaves: a node added to a provider appears in the NRC's
// daily results from the day it joins and is gone from the day it leaves.
func TestNodeJoinsAndLeaves(t *testing.T) {
	ctx := context.Background()
	_, hs := startSim(t, icsim.CallModeSync)
	c := newClient(t, hs.URL, nil)
	join := icsim.Date{Year: 2025, Month: 9, Day: 10}
	postAdmin(t, hs.URL, "/admin/nrc/nodes", icsim.NodeDay{FromDay: &join, NodeProvider: npA, NodeID: nrcNode1, NodeRewardType: "type1.1",
		Region: "Europe,Switzerland", DCID: "zh1", NumBlocksProposed: 100, BaseXDRPermyriadPerMonth: 304_375}, nil)
	nodes := func(day uint32) int {
		t.Helper()
		res, err := c.NodeProvidersRewardsCalculation(ctx, ic.Date{Year: 2025, Month: 9, Day: day})
		if ic.IsNRCError(err) {
			return 0 // no metrics that day
		}
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range res.Providers {
			n += len(p.Nodes)
		}
		return n
	}
	if nodes(9) != 0 || nodes(10) != 1 || nodes(20) != 1 {
		t.Fatal("the node must appear on 2025-09-10")
	}
	req, _ := http.NewRequest(http.MethodDelete, hs.URL+"/admin/nrc/nodes/"+nrcNode1+"?from_day=2025-09-15", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("remove: %v %v", resp, err)
	}
	resp.Body.Close()
	if nodes(14) != 1 || nodes(15) != 0 || nodes(20) != 0 {
		t.Fatal("the node must be gone from 2025-09-15 and stay before")
	}
}
