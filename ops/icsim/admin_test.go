package icsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal/icrc"
)

func postJSON(t *testing.T, url string, body any, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func TestAdminAPI(t *testing.T) {
	_, hs := startSim(t, Options{})
	id, _ := identity.NewRandomEd25519Identity()
	acct := icrc.Account{Owner: id.Sender()}.Encode()

	var minted map[string]uint64
	if code := postJSON(t, hs.URL+"/admin/mint", MintRequest{Account: acct, AmountE8s: 500_000}, &minted); code != 200 || minted["block_index"] != 0 {
		t.Fatalf("mint %d %v", code, minted)
	}
	if code := postJSON(t, hs.URL+"/admin/mint", map[string]any{"account": "not-an-account", "amount_e8s": 1}, nil); code != 400 {
		t.Fatalf("bad account: %d", code)
	}
	if code := postJSON(t, hs.URL+"/admin/mode", map[string]string{"call_mode": "fast"}, nil); code != 400 {
		t.Fatalf("bad mode: %d", code)
	}
	var mode map[string]string
	if code := postJSON(t, hs.URL+"/admin/mode", map[string]string{"call_mode": "async"}, &mode); code != 200 || mode["call_mode"] != "async" {
		t.Fatalf("mode %d %v", code, mode)
	}

	// Advance the canister clock by 25 h: a transfer stamped with the wall
	// clock is now TooOld, while the HTTP layer (ingress_expiry, certificate
	// time) keeps working on the wall clock.
	var ci ClockInfo
	adv := int64(25 * 3600)
	if code := postJSON(t, hs.URL+"/admin/clock", ClockRequest{AdvanceSeconds: &adv}, &ci); code != 200 || ci.OffsetNanos != int64(25*time.Hour) {
		t.Fatalf("clock %d %+v", code, ci)
	}
	a := newAgent(t, hs, id)
	now := uint64(time.Now().UnixNano())
	var res candidTransferResult
	if err := a.Call(LedgerID(), "icrc1_transfer", []any{candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: nat(1), CreatedAtTime: &now}}, []any{&res}); err != nil {
		t.Fatal(err)
	}
	if res.Err == nil || res.Err.TooOld == nil {
		t.Fatalf("want TooOld after advancing the clock, got %+v", res)
	}

	resp, err := http.Get(hs.URL + "/admin/ledger")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d LedgerDump
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.ChainLen != 1 || d.TotalE8s != 500_000 || d.Blocks[0].ToAccount != acct || d.FeeE8s != LedgerFeeE8s {
		t.Fatalf("%+v", d)
	}
	var f Faults
	if code := postJSON(t, hs.URL+"/admin/faults", Faults{RejectNext: 2}, &f); code != 200 || f.RejectNext != 2 {
		t.Fatalf("faults %d %+v", code, f)
	}
	if code := postJSON(t, hs.URL+"/admin/faults", map[string]int{"reject_next": -1}, nil); code != 400 {
		t.Fatalf("negative fault: %d", code)
	}
}

func TestDemoScenarioLoads(t *testing.T) {
	s, _ := startSim(t, Options{})
	if err := s.LoadScenarioFile("scenarios/demo.json"); err != nil {
		t.Fatal(err)
	}
	d := s.Ledger()
	// One balance mint plus two minted monthly rewards.
	if d.ChainLen != 3 {
		t.Fatalf("%d blocks", d.ChainLen)
	}
	// floor(1_500_000 × 1e8 / 35_000) + floor(1_500_000 × 1e8 / 36_000)
	if want := uint64(100_000_000_000 + 4_285_714_285 + 4_166_666_666); d.TotalE8s != want {
		t.Fatalf("total %d, want %d", d.TotalE8s, want)
	}
}

func TestScenarioFileAppliedOncePerState(t *testing.T) {
	path := t.TempDir() + "/state.json"
	for i := 0; i < 2; i++ {
		s, err := New(Options{StatePath: path})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.LoadScenarioFile("scenarios/demo.json"); err != nil {
			t.Fatal(err)
		}
		if d := s.Ledger(); d.ChainLen != 3 {
			t.Fatalf("start %d: %d blocks, want 3", i, d.ChainLen)
		}
	}
}

func TestUnknownAPIVersion(t *testing.T) {
	_, hs := startSim(t, Options{})
	resp, err := http.Post(hs.URL+"/api/v9/canister/"+ledgerCanisterTxt+"/query", "application/cbor", bytes.NewReader(nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
