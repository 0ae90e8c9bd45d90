package icsim

import (
	"testing"
	"time"

	"github.com/aviate-labs/agent-go"
	"github.com/aviate-labs/agent-go/certification/hashtree"
	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal"
	"github.com/aviate-labs/agent-go/principal/icrc"
	"github.com/fxamacker/cbor/v2"
)

// envelope builds a real agent-go envelope for the fuzz corpus.
func envelope(t testing.TB, id identity.Identity, req agent.Request) []byte {
	rid := agent.NewRequestID(req)
	sig, err := rid.Sign(id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cbor.Marshal(agent.Envelope{Content: req, SenderPubKey: id.PublicKey(), SenderSig: sig})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecodeEnvelope: no input makes envelope decoding panic, and an
// accepted envelope always has a request type the server knows.
func FuzzDecodeEnvelope(f *testing.F) {
	id, _ := identity.NewRandomEd25519Identity()
	exp := uint64(time.Now().Add(time.Minute).UnixNano())
	f.Add(envelope(f, id, agent.Request{Type: agent.RequestTypeCall, Sender: id.Sender(), CanisterID: ledgerID, MethodName: "icrc1_transfer", Arguments: []byte("DIDL\x00\x00"), IngressExpiry: exp, Nonce: []byte{1, 2}}))
	f.Add(envelope(f, id, agent.Request{Type: agent.RequestTypeReadState, Sender: id.Sender(), IngressExpiry: exp, Paths: [][]hashtree.Label{{hashtree.Label("time")}}}))
	f.Add(envelope(f, new(identity.AnonymousIdentity), agent.Request{Type: agent.RequestTypeQuery, Sender: principal.AnonymousID, CanisterID: ledgerID, MethodName: "icrc1_fee", Arguments: []byte("DIDL\x00\x00"), IngressExpiry: exp}))
	f.Add([]byte{0xa1, 0x67, 'c', 'o', 'n', 't', 'e', 'n', 't', 0xa0})
	f.Add([]byte{})
	now := time.Now()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeEnvelope(body, now)
		if err == nil {
			switch req.typ {
			case "call", "query", "read_state":
			default:
				t.Fatalf("accepted request type %q", req.typ)
			}
		}
	})
}

// FuzzCanisterArgs: no Candid argument makes any canister method panic or
// commit a ledger block that breaks conservation.
func FuzzCanisterArgs(f *testing.F) {
	to := candidAccount{Owner: cmcID}
	now := uint64(time.Now().UnixNano())
	for _, v := range [][]any{
		{candidTransferArg{To: to, Amount: nat(1), CreatedAtTime: &now}},
		{candidLegacyTransferArgs{To: mustHex(accountID(icrc.Account{Owner: cmcID})), Amount: candidTokens{1}, Fee: candidTokens{LedgerFeeE8s}, Memo: 7}},
		{candidAccountBalanceArgs{Account: mustHex(accountID(icrc.Account{Owner: cmcID}))}},
		{uint64(1)},
		{candidAccount{Owner: governanceID}},
		{candidGetBlocksArgs{Start: 0, Length: 5}},
		{candidListRewardsRequest{}},
		{},
	} {
		b, err := encode(v...)
		if err != nil {
			f.Fatal(err)
		}
		for m := range 8 {
			f.Add(uint8(m), b)
		}
	}
	for _, b := range candidCrashers {
		for m := range 8 {
			f.Add(uint8(m), b)
		}
	}
	s, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	caller := nnsCanisterID(77) // not anonymous: the ledger refuses anonymous senders
	if _, err := s.Mint(caller.String(), 1_000_000); err != nil {
		f.Fatal(err)
	}
	if err := s.ApplyScenario(Scenario{Rate: &ConversionRate{1, 2}, AverageRate: &ConversionRate{3, 4}}); err != nil {
		f.Fatal(err)
	}
	type target struct {
		canister principal.Principal
		method   string
	}
	var targets []target
	for _, c := range []principal.Principal{ledgerID, governanceID, cmcID} {
		for m := range s.methods(c) {
			targets = append(targets, target{c, m})
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, arg []byte) {
		tg := targets[int(which)%len(targets)]
		s.mu.Lock()
		defer s.mu.Unlock()
		s.execute(&request{canisterID: tg.canister, method: tg.method, arg: arg, sender: caller}, false, faultShot{})
		var total uint64
		for _, b := range s.ledger.balances {
			total += b
		}
		var minted, burned uint64
		for _, b := range s.ledger.blocks {
			switch b.Op {
			case OpMint:
				minted += b.AmountE8s
			default:
				burned += b.AmountE8s*boolU(b.Op == OpBurn) + b.FeeE8s
			}
		}
		if total != minted-burned {
			t.Fatalf("conservation broken: balances %d, minted %d, burned+fees %d", total, minted, burned)
		}
	})
}

func boolU(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
