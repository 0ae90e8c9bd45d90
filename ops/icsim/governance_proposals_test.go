package icsim

import (
	"testing"

	"github.com/aviate-labs/agent-go/identity"
)

// TestProposalLifecycle: get_proposal_info : (nat64) -> (opt ProposalInfo)
// (rs/nns/governance/canister/governance.did) with the status Governance
// derives from the timestamps (ProposalData::status): open until decided;
// then executed, failed or adopted; rejected when not adopted.
func TestProposalLifecycle(t *testing.T) {
	_, hs := startSim(t, Options{})
	a := newAgent(t, hs, new(identity.AnonymousIdentity))
	info := func(id uint64) *candidProposalInfo {
		t.Helper()
		var out *candidProposalInfo
		if err := a.Query(GovernanceID(), "get_proposal_info", []any{id}, []any{&out}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if info(1) != nil {
		t.Fatal("an unknown proposal must be null")
	}
	at := func(v uint64) *uint64 { return &v }
	var p ProposalView
	if code := postJSON(t, hs.URL+"/admin/governance/proposals", ProposalRequest{Title: "Add node provider", Topic: 6, AtSeconds: at(1_000)}, &p); code != 200 || p.ID != 1 || p.Status != ProposalOpen {
		t.Fatalf("submit: %d %+v", code, p)
	}
	if got := info(1); got == nil || got.Status != proposalStatusOpen || got.DecidedTimestampSeconds != 0 || got.Topic != 6 ||
		got.ProposalTimestampSeconds != 1_000 || *got.DeadlineTimestampSeconds != 1_000+votingPeriodSeconds || *got.Proposal.Title != "Add node provider" {
		t.Fatalf("open: %+v", got)
	}
	if code := postJSON(t, hs.URL+"/admin/governance/proposals", ProposalRequest{ID: at(1), Status: ProposalExecuted, AtSeconds: at(2_000)}, &p); code != 200 || p.Status != ProposalExecuted {
		t.Fatalf("execute: %d %+v", code, p)
	}
	if got := info(1); got.Status != proposalStatusExecuted || got.DecidedTimestampSeconds != 2_000 || got.ExecutedTimestampSeconds != 2_000 {
		t.Fatalf("executed: %+v", got)
	}
	// Nothing leaves executed.
	if code := postJSON(t, hs.URL+"/admin/governance/proposals", ProposalRequest{ID: at(1), Status: ProposalFailed}, nil); code != 400 {
		t.Fatalf("executed -> failed: %d", code)
	}
	for _, tc := range []struct {
		steps  []string
		status int32
	}{
		{[]string{ProposalRejected}, proposalStatusRejected},
		{[]string{ProposalAdopted}, proposalStatusAdopted},
		{[]string{ProposalAdopted, ProposalFailed}, proposalStatusFailed},
	} {
		if code := postJSON(t, hs.URL+"/admin/governance/proposals", ProposalRequest{Title: "t", AtSeconds: at(3_000)}, &p); code != 200 {
			t.Fatal(code)
		}
		for i, st := range tc.steps {
			if code := postJSON(t, hs.URL+"/admin/governance/proposals", ProposalRequest{ID: &p.ID, Status: st, FailureReason: "canister trapped", AtSeconds: at(4_000 + uint64(i))}, nil); code != 200 {
				t.Fatalf("%v: %d", tc.steps, code)
			}
		}
		got := info(p.ID)
		if got.Status != tc.status || got.DecidedTimestampSeconds != 4_000 {
			t.Fatalf("%v: %+v", tc.steps, got)
		}
		if tc.status == proposalStatusFailed && (got.FailedTimestampSeconds != 4_001 || got.FailureReason == nil || got.FailureReason.ErrorMessage != "canister trapped") {
			t.Fatalf("failed: %+v", got)
		}
	}
	if code := postJSON(t, hs.URL+"/admin/governance/proposals", ProposalRequest{ID: at(2), Status: ProposalAdopted}, nil); code != 400 {
		t.Fatalf("rejected -> adopted: %d", code)
	}
}
