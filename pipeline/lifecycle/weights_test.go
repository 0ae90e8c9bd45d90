package lifecycle

import (
	"reflect"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

func TestWeightReport(t *testing.T) {
	src, other := acct(0x71), acct(0x72)
	in := WeightInput{
		// s1 and s3 are one identity (35 together: capped at 30).
		Sponsors: []Sponsor{
			{Sponsor: whale, Identity: whale, AcceptedE8s: 40 * icp},
			{Sponsor: s1, Identity: "kyc:ann", AcceptedE8s: 20 * icp},
			{Sponsor: s3, Identity: "kyc:ann", AcceptedE8s: 15 * icp},
			{Sponsor: s2, Identity: s2, AcceptedE8s: 25 * icp},
		},
		MaxVotingBps: 3000, DepositAccount: depositAcct, WindowBlocks: 3,
		Blocks: []FundingBlock{
			{Index: 1, From: src, To: whale, AmountE8s: 41 * icp}, // src funds the whale and s2: a hint
			{Index: 2, From: src, To: s2, AmountE8s: 26 * icp},
			{Index: 3, From: other, To: s1, AmountE8s: 21 * icp}, // other funds ann's two accounts: one identity, no hint
			{Index: 4, From: other, To: s3, AmountE8s: 16 * icp},
			{Index: 10, From: whale, To: depositAcct, AmountE8s: 40 * icp}, // 10, 12: whale and s2 in one window
			{Index: 12, From: s2, To: depositAcct, AmountE8s: 25 * icp},
			{Index: 20, From: s1, To: depositAcct, AmountE8s: 20 * icp}, // 20, 22: one identity only
			{Index: 22, From: s3, To: depositAcct, AmountE8s: 15 * icp},
		},
	}
	r := Weights(in)
	if r.AcceptedTotalE8s != 100*icp || r.CapE8s != 30*icp || r.WeightTotalE8s != 85*icp {
		t.Fatalf("totals: %+v", r)
	}
	weights := map[string]money.E8s{}
	for _, row := range r.Rows {
		weights[row.Account] = row.WeightE8s
	}
	// ann weighs once (30, capped), on her first account in byte order.
	annFirst, annOther := s3, s1 // s3 < s1 in byte order
	if weights[whale] != 30*icp || weights[s2] != 25*icp || weights[annFirst] != 30*icp || weights[annOther] != 0 {
		t.Fatalf("weights %v", weights)
	}
	want := []Hint{
		{Kind: HintSameSource, Accounts: sorted(whale, s2), Source: src},
		{Kind: HintDepositBurst, Accounts: sorted(whale, s2), FirstBlock: 10, LastBlock: 12},
	}
	if !reflect.DeepEqual(r.Hints, want) {
		t.Fatalf("hints\n got %+v\nwant %+v", r.Hints, want)
	}
	in.WindowBlocks = 0
	if r := Weights(in); len(r.Hints) != 1 {
		t.Fatalf("window 0: %+v", r.Hints)
	}
}

func sorted(a, b string) []string {
	if a > b {
		a, b = b, a
	}
	return []string{a, b}
}
