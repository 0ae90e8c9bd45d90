package icsim

import (
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go"
	"github.com/aviate-labs/agent-go/candid/idl"
	"github.com/aviate-labs/agent-go/certification"
	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal/icrc"
	"github.com/fxamacker/cbor/v2"
)

func startSim(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs
}

func newAgent(t *testing.T, hs *httptest.Server, id identity.Identity) *agent.Agent {
	t.Helper()
	u, _ := url.Parse(hs.URL)
	a, err := agent.New(agent.Config{
		Identity:     id,
		FetchRootKey: true,
		PollDelay:    20 * time.Millisecond,
		PollTimeout:  5 * time.Second,
		ClientConfig: []agent.ClientOption{agent.WithHostURL(u)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAgentTransferSyncAndAsync(t *testing.T) {
	for _, mode := range []CallMode{CallModeSync, CallModeAsync} {
		t.Run(string(mode), func(t *testing.T) {
			s, hs := startSim(t, Options{CallMode: mode})
			id, _ := identity.NewRandomEd25519Identity()
			a := newAgent(t, hs, id)
			from := icrc.Account{Owner: id.Sender()}
			if _, err := s.Mint(from.Encode(), 1_000_000); err != nil {
				t.Fatal(err)
			}
			to := icrc.Account{Owner: LedgerID()}
			var res candidTransferResult
			now := uint64(time.Now().UnixNano())
			arg := candidTransferArg{To: candidAccount{Owner: to.Owner}, Amount: idl.NewNat(uint64(500)), CreatedAtTime: &now}
			if err := a.Call(LedgerID(), "icrc1_transfer", []any{arg}, []any{&res}); err != nil {
				t.Fatal(err)
			}
			if res.Ok == nil || res.Ok.BigInt().Uint64() != 1 {
				t.Fatalf("want Ok(1), got %+v", res)
			}
			var bal idl.Nat
			if err := a.Query(LedgerID(), "icrc1_balance_of", []any{candidAccount{Owner: id.Sender()}}, []any{&bal}); err != nil {
				t.Fatal(err)
			}
			if got := bal.BigInt().Uint64(); got != 1_000_000-500-LedgerFeeE8s {
				t.Fatalf("balance %d", got)
			}
			// Same call again: Duplicate{duplicate_of = 1}.
			res = candidTransferResult{}
			if err := a.Call(LedgerID(), "icrc1_transfer", []any{arg}, []any{&res}); err != nil {
				t.Fatal(err)
			}
			if res.Err == nil || res.Err.Duplicate == nil || res.Err.Duplicate.DuplicateOf.BigInt().Uint64() != 1 {
				t.Fatalf("want Duplicate{1}, got %+v", res)
			}
		})
	}
}

func TestEmittedCertificatesVerify(t *testing.T) {
	s, _ := startSim(t, Options{})
	tr := newStateTree()
	cert, err := s.certify(tr)
	if err != nil {
		t.Fatal(err)
	}
	var c certification.Certificate
	if err := cbor.Unmarshal(cert, &c); err != nil {
		t.Fatal(err)
	}
	if err := certification.VerifyCertificate(c, LedgerID(), s.RootKeyDER()); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyTime(time.Minute); err != nil {
		t.Fatal(err)
	}
}
