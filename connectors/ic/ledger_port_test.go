package ic_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
	"github.com/nodeshare/nodeshare/schemas"
)

// TestLedgerSourceMapsProvenBlocks: the connect stage's Ledger port reads
// the blocks through the archives, proven against the certified tip, as
// schemas.LedgerBlock: hex accounts, the hash chain in hex, RFC 3339 times
// with nanoseconds, ICRC-1 and legacy memos.
func TestLedgerSourceMapsProvenBlocks(t *testing.T) {
	ctx := context.Background()
	s, hs, c := archivedLedger(t) // a mint, then 39 transfers with memos, mostly archived
	sponsor := funded(t, s, hs, 500_000_000)
	now := uint64(time.Now().UnixNano())
	to := dest(t)
	if _, err := sponsor.TransferToAccountID(ctx, ic.AccountIDTransferRequest{To: ic.LegacyAccountID(to), AmountE8s: 7, FeeE8s: 10_000, Memo: 99, CreatedAtNanos: now}); err != nil {
		t.Fatal(err)
	}
	src := ic.LedgerSource{Client: c}
	if src.Canister() != ic.LedgerCanisterID.String() {
		t.Fatal(src.Canister())
	}
	dump := s.Ledger()
	if n, err := src.ChainLength(ctx); err != nil || n != dump.ChainLen || n != 42 {
		t.Fatalf("chain length %d %v (dump %d)", n, err, dump.ChainLen)
	}

	all, chain, prov, err := src.ReadBlocks(ctx, 0, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	if chain != 42 || len(all) != 42 || prov.Source != "ic" || prov.Canister != ic.LedgerCanisterID.String() || prov.Method != "query_blocks" || prov.CertTimeNanos == 0 {
		t.Fatalf("chain %d, %d blocks, provenance %+v", chain, len(all), prov)
	}
	for i, b := range all {
		if b.Index != uint64(i) || b.Ledger != ic.LedgerCanisterID.String() || len(b.HashHex) != 64 {
			t.Fatalf("block %d: %+v", i, b)
		}
		if at, err := time.Parse(time.RFC3339Nano, b.Time); err != nil || uint64(at.UnixNano()) != b.TimestampNanos || at.Location() != time.UTC {
			t.Fatalf("block %d time %q (%d): %v", i, b.Time, b.TimestampNanos, err)
		}
		if i > 0 && b.ParentHashHex != all[i-1].HashHex {
			t.Fatalf("block %d names parent %s, block %d hashes to %s", i, b.ParentHashHex, i-1, all[i-1].HashHex)
		}
	}
	if all[0].ParentHashHex != "" || all[0].Op != "mint" || all[0].From != "" || len(all[0].To) != 64 {
		t.Fatalf("block 0: %+v", all[0])
	}
	if last := all[41]; last.HashHex != dump.TipHashHex {
		t.Fatalf("tip %s, certified %s", last.HashHex, dump.TipHashHex)
	}
	icrc := all[5] // transfer 4 of archivedLedger: memo {4}
	if icrc.Op != "transfer" || icrc.To != ic.LegacyAccountID(to).String() || icrc.AmountE8s != 1004 || icrc.FeeE8s != 10_000 ||
		icrc.MemoHex == nil || *icrc.MemoHex != "04" || icrc.LegacyMemo != 0 || len(icrc.From) != 64 {
		t.Fatalf("icrc-1 transfer: %+v", icrc)
	}
	legacy := all[41]
	if legacy.Op != "transfer" || legacy.MemoHex != nil || legacy.LegacyMemo != 99 || legacy.CreatedAtNanos != now || legacy.AmountE8s != 7 ||
		legacy.From != ic.LegacyAccountID(ic.Account{Owner: sponsor.Sender()}).String() {
		t.Fatalf("legacy transfer: %+v", legacy)
	}

	// A window: the same blocks, and the last one's hash from its
	// successor's parent hash.
	win, chain, _, err := src.ReadBlocks(ctx, 8, 13)
	if err != nil || chain != 42 || len(win) != 5 {
		t.Fatalf("window: %d blocks, chain %d, %v", len(win), chain, err)
	}
	for i, b := range win {
		w := all[8+i]
		if b.MemoHex == nil || w.MemoHex == nil || *b.MemoHex != *w.MemoHex {
			t.Fatalf("window block %d memo: %+v, want %+v", i, b, w)
		}
		b.MemoHex = w.MemoHex
		if b != w {
			t.Fatalf("window block %d: %+v, want %+v", i, b, w)
		}
	}
	if at, _, _, err := src.ReadBlocks(ctx, 42, math.MaxUint64); err != nil || len(at) != 0 {
		t.Fatalf("at the tip: %d blocks, %v", len(at), err)
	}
	if _, _, _, err := src.ReadBlocks(ctx, 43, math.MaxUint64); err == nil {
		t.Fatal("a read past the tip succeeded")
	}

	// A replica that forges a block: nothing is returned.
	s.SetFaults(icsim.Faults{ForgeBlockNext: 1})
	bs, _, _, err := src.ReadBlocks(ctx, 38, math.MaxUint64)
	if !errors.Is(err, ic.ErrBrokenChain) || bs != nil {
		t.Fatalf("forged block: %d blocks, %v", len(bs), err)
	}
}

// TestProposalDecision: Governance's statuses in the lifecycle's words;
// only a final outcome is reported.
func TestProposalDecision(t *testing.T) {
	ctx := context.Background()
	_, hs := startSim(t, icsim.CallModeSync)
	src := ic.ConnectSource{Client: newClient(t, hs.URL, nil)}
	if d, _, err := src.ProposalDecision(ctx, 77); err == nil || d != nil {
		t.Fatalf("unknown proposal: %+v %v", d, err)
	}
	at := func(v uint64) *uint64 { return &v }
	for _, tc := range []struct {
		steps          []string
		status, atText string // "": not final
	}{
		{nil, "", ""},
		{[]string{icsim.ProposalAdopted}, "", ""},
		{[]string{icsim.ProposalRejected}, "rejected", "2026-01-01T00:00:00Z"},
		{[]string{icsim.ProposalAdopted, icsim.ProposalExecuted}, "adopted", "2026-01-01T00:00:00Z"},
		{[]string{icsim.ProposalExecuted}, "adopted", "2026-01-01T00:00:00Z"},
		{[]string{icsim.ProposalAdopted, icsim.ProposalFailed}, "failed", "2026-01-01T00:00:01Z"},
	} {
		var p icsim.ProposalView
		postAdmin(t, hs.URL, "/admin/governance/proposals", icsim.ProposalRequest{Title: "Add node provider", Topic: 6, AtSeconds: at(1_767_000_000)}, &p)
		for i, st := range tc.steps {
			postAdmin(t, hs.URL, "/admin/governance/proposals", icsim.ProposalRequest{ID: &p.ID, Status: st, AtSeconds: at(1_767_225_600 + uint64(i))}, nil)
		}
		d, prov, err := src.ProposalDecision(ctx, p.ID)
		if err != nil {
			t.Fatalf("%v: %v", tc.steps, err)
		}
		if prov.Source != "ic" || prov.Canister != ic.GovernanceCanisterID.String() || prov.Method != "get_proposal_info" {
			t.Fatalf("provenance %+v", prov)
		}
		if tc.status == "" {
			if d != nil {
				t.Fatalf("%v: reported %+v before the outcome is final", tc.steps, d)
			}
			continue
		}
		if d == nil || d.Type != "proposal_decided" || d.Status != tc.status || d.At != tc.atText || d.ProposalID == nil || *d.ProposalID != p.ID {
			t.Fatalf("%v: %+v", tc.steps, d)
		}
		if _, err := schemas.NewEnvelope(schemas.TypePoolFact, "k", prov, d); err != nil {
			t.Fatal(err)
		}
	}
}
