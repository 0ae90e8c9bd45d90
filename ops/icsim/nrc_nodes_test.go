package icsim

import (
	"net/http"
	"testing"
)

// TestNodesJoinAndLeave: a node added through the admin API appears in the
// NRC's daily results from the day it joins, and is gone from the day it
// is removed; the days before stay as they were.
func TestNodesJoinAndLeave(t *testing.T) {
	s, hs := startSim(t, Options{})
	d := func(day uint32) *Date { return &Date{Year: 2025, Month: 9, Day: day} }
	node := NodeDay{NodeProvider: testNP, NodeID: testNode1, NodeRewardType: "type1.1", Region: "Europe,CH", DCID: "zh1",
		NumBlocksProposed: 100, BaseXDRPermyriadPerMonth: 304375, FromDay: d(10)}
	if code := postJSON(t, hs.URL+"/admin/nrc/nodes", node, nil); code != 200 {
		t.Fatalf("add: %d", code)
	}
	if code := postJSON(t, hs.URL+"/admin/nrc/nodes", node, nil); code != 400 {
		t.Fatalf("adding an active node again: %d", code)
	}
	has := func(day uint32) bool {
		res, ok := s.nrc.dailyResults(*d(day))
		return ok && len(res.ProviderResults) == 1 && len(res.ProviderResults[0].Rewards.DailyNodesRewards) == 1
	}
	if has(9) || !has(10) || !has(25) {
		t.Fatal("the node must appear from 2025-09-10 on")
	}
	req, _ := http.NewRequest(http.MethodDelete, hs.URL+"/admin/nrc/nodes/"+testNode1+"?from_day=2025-09-20", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("remove: %v %v", resp, err)
	}
	resp.Body.Close()
	if !has(19) || has(20) || has(30) {
		t.Fatal("the node must be gone from 2025-09-20 on and stay before")
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 404 {
		t.Fatalf("removing it again: %v %v", resp, err)
	}
	resp.Body.Close()
	// It may join again later.
	node.FromDay = d(25)
	if code := postJSON(t, hs.URL+"/admin/nrc/nodes", node, nil); code != 200 || !has(26) || has(22) {
		t.Fatalf("rejoin: %d", code)
	}
}
