package payout

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/schemas"
)

func inputPools() []schemas.PoolPeriod {
	return []schemas.PoolPeriod{{DAO: "d", Period: "2026-10-01", PoolID: "a", RulesVersion: "v1", ManifestSHA256: "pa",
		InputJSON: `{"hoster":{"account":"h"},"contributions":[{"sponsor":"x"}],"carry_in":{"y":5}}`}}
}

func inputEnts() []schemas.Entitlement {
	es := ents()
	for i := range es {
		es[i].RulesVersion, es[i].ManifestSHA256 = "v1", "pa"
	}
	return es
}

func TestPlanWithInputsBindsInputs(t *testing.T) {
	m, err := PlanWithInputs("d", "2026-10-01", inputEnts(), inputPools(), 42)
	if err != nil {
		t.Fatal(err)
	}
	if m.RulesVersion != "v1" || m.InputHashes["a"] != "pa" {
		t.Fatalf("inputs not recorded: %+v", m)
	}
	p := inputPools()
	p[0].ManifestSHA256 = "pb"
	e := inputEnts()
	for i := range e {
		e[i].ManifestSHA256 = "pb"
	}
	m2, err := PlanWithInputs("d", "2026-10-01", e, p, 42)
	if err != nil || m2.SHA256 == m.SHA256 {
		t.Fatalf("the manifest hash does not bind the input hashes: %v", err)
	}
	v1, _ := Plan("d", "2026-10-01", ents(), 42)
	if v1.SHA256 == m.SHA256 {
		t.Fatal("v1 and v2 manifests hash alike")
	}
	// Stored header + intents rebuild the same manifest; a changed total
	// or a missing intent is caught.
	r, err := FromStored(m.Header(), m.Intents)
	if err != nil || r.SHA256 != m.SHA256 {
		t.Fatalf("FromStored: %v", err)
	}
	if _, err := FromStored(m.Header(), m.Intents[1:]); err == nil {
		t.Fatal("a missing intent was not detected")
	}
	h := m.Header()
	h.TotalAmountE8s++
	if _, err := FromStored(h, m.Intents); err == nil {
		t.Fatal("a changed header total was not detected")
	}
	// An entitlement of another pool manifest is refused.
	e = inputEnts()
	e[0].ManifestSHA256 = "other"
	if _, err := PlanWithInputs("d", "2026-10-01", e, inputPools(), 42); err == nil {
		t.Fatal("an entitlement from another pool manifest was accepted")
	}
}

func TestCheckManifest(t *testing.T) {
	m, err := PlanWithInputs("d", "2026-10-01", inputEnts(), inputPools(), 42)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		ents  func([]schemas.Entitlement) []schemas.Entitlement
		pools func([]schemas.PoolPeriod) []schemas.PoolPeriod
		caps  Caps
		want  string
	}{
		{"ok", nil, nil, Caps{}, ""},
		{"caps hold", nil, nil, Caps{MaxRunE8s: 1300, MaxRecipientE8s: 990}, ""},
		{"run cap", nil, nil, Caps{MaxRunE8s: 1299}, "per-run cap"},
		{"recipient cap", nil, nil, Caps{MaxRecipientE8s: 989}, "per-recipient cap"},
		{"amount differs", func(e []schemas.Entitlement) []schemas.Entitlement { e[0].TransferE8s--; return e }, nil, Caps{}, "conservation"},
		{"extra entitlement", func(e []schemas.Entitlement) []schemas.Entitlement {
			return append(e, schemas.Entitlement{DAO: "d", Period: "2026-10-01", PoolID: "a", Role: "sponsor", Recipient: "z", TransferE8s: 1, FeeE8s: 1})
		}, nil, Caps{}, "conservation"},
		{"unknown sponsor", nil, func(p []schemas.PoolPeriod) []schemas.PoolPeriod {
			p[0].InputJSON = `{"hoster":{"account":"h"},"contributions":[{"sponsor":"q"}]}`
			return p
		}, Caps{}, "not a sponsor"},
		{"hoster paid as sponsor", nil, func(p []schemas.PoolPeriod) []schemas.PoolPeriod {
			p[0].InputJSON = `{"hoster":{"account":"x"},"contributions":[{"sponsor":"h"}]}`
			return p
		}, Caps{}, "unknown account"},
		{"no pool period", nil, func(p []schemas.PoolPeriod) []schemas.PoolPeriod { return nil }, Caps{}, "has no pool period"},
		{"bad input json", nil, func(p []schemas.PoolPeriod) []schemas.PoolPeriod { p[0].InputJSON = "{"; return p }, Caps{}, "allocation input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, p := inputEnts(), inputPools()
			if c.ents != nil {
				e = c.ents(e)
			}
			if c.pools != nil {
				p = c.pools(p)
			}
			err := CheckManifest(m, e, p, m.Intents, c.caps)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("want %q, got %v", c.want, err)
			}
		})
	}
}

// ed25519Verifier checks Ed25519 signatures under a raw-key "DER" (the
// test keys are raw: the rules only pass the configured bytes through).
type ed25519Verifier struct{}

func (ed25519Verifier) Verify(pub, msg, sig []byte) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, msg, sig) {
		return errors.New("does not verify")
	}
	return nil
}

func TestApproval(t *testing.T) {
	keys := map[string]ed25519.PrivateKey{}
	var set []Approver
	for i, n := range []string{"alice", "bob", "carol", "mallory"} {
		priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize))
		keys[n] = priv
		if n != "mallory" {
			set = append(set, Approver{Name: n, PublicKeyDER: priv.Public().(ed25519.PublicKey)})
		}
	}
	a := Approval{Approvers: set, Threshold: 2}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	k := []byte{1}
	for _, bad := range []Approval{{},
		{Approvers: []Approver{{"a", k}}, Threshold: 2},
		{Approvers: []Approver{{"a", k}, {"a", []byte{2}}}, Threshold: 1},
		{Approvers: []Approver{{"a", k}, {"b", k}}, Threshold: 1},
		{Approvers: []Approver{{"a b", k}}, Threshold: 1},
		{Approvers: []Approver{{"a", nil}}, Threshold: 1},
		{Approvers: []Approver{{"a", k}}}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	signed := func(sha, who, signer string) schemas.PayoutApproval {
		sig := ed25519.Sign(keys[signer], schemas.PayoutApprovalMessage("d", "p", sha))
		return schemas.PayoutApproval{ManifestSHA256: sha, Approver: who, Signature: hex.EncodeToString(sig)}
	}
	unsigned := schemas.PayoutApproval{ManifestSHA256: "m", Approver: "bob"}
	otherPeriod := signed("m", "bob", "bob")
	otherPeriod.Signature = hex.EncodeToString(ed25519.Sign(keys["bob"], schemas.PayoutApprovalMessage("d", "p2", "m")))
	cases := []struct {
		name    string
		aps     []schemas.PayoutApproval
		want    bool
		refused string
	}{
		{"none", nil, false, ""},
		{"one", []schemas.PayoutApproval{signed("m", "alice", "alice")}, false, ""},
		{"one twice", []schemas.PayoutApproval{signed("m", "alice", "alice"), signed("m", "alice", "alice")}, false, ""},
		{"other hash", []schemas.PayoutApproval{signed("m", "alice", "alice"), signed("other", "bob", "bob")}, false, "is of manifest other"},
		{"outsider", []schemas.PayoutApproval{signed("m", "alice", "alice"), signed("m", "mallory", "mallory")}, false, "not in the approver set"},
		{"name alone", []schemas.PayoutApproval{signed("m", "alice", "alice"), unsigned}, false, "is not signed"},
		{"signed by another key", []schemas.PayoutApproval{signed("m", "alice", "alice"), signed("m", "bob", "mallory")}, false, "not by the configured key"},
		{"signature of another period", []schemas.PayoutApproval{signed("m", "alice", "alice"), otherPeriod}, false, "not by the configured key"},
		{"two members", []schemas.PayoutApproval{signed("m", "alice", "alice"), signed("m", "carol", "carol")}, true, ""},
	}
	for _, c := range cases {
		got, who, refused := a.Approved("d", "p", "m", c.aps, ed25519Verifier{})
		if got != c.want {
			t.Errorf("%s: approved %v (by %v), want %v", c.name, got, who, c.want)
		}
		if c.refused != "" && (len(refused) != 1 || !strings.Contains(refused[0], c.refused)) {
			t.Errorf("%s: refused %q, want one containing %q", c.name, refused, c.refused)
		}
	}
	if _, err := ParseApprovers([]string{"alice"}); err == nil || !strings.Contains(err.Error(), `approver "alice" has no public key`) {
		t.Errorf("bare name: %v", err)
	}
	if _, err := ParseApprovers([]string{"alice=zz"}); err == nil || !strings.Contains(err.Error(), `"zz"`) {
		t.Errorf("bad hex: %v", err)
	}
	if got, err := ParseApprovers([]string{"alice=0102"}); err != nil || got[0].Name != "alice" || !bytes.Equal(got[0].PublicKeyDER, []byte{1, 2}) {
		t.Errorf("parse: %v %v", got, err)
	}
}

func TestAttemptsAndMatch(t *testing.T) {
	m, _ := Plan("d", "2026-10-01", ents(), 100)
	in := m.Intents[0]
	atts, err := Attempts(in, []schemas.PayoutAttempt{{IntentID: in.IntentID, Attempt: 1, CreatedAtNanos: 200}})
	if err != nil || len(atts) != 2 || atts[1].CreatedAtNanos != 200 {
		t.Fatalf("attempts: %v %v", atts, err)
	}
	if _, err := Attempts(in, []schemas.PayoutAttempt{{IntentID: in.IntentID, Attempt: 2, CreatedAtNanos: 200}}); err == nil {
		t.Fatal("a gap in attempt numbers was accepted")
	}
	if _, err := Attempts(in, []schemas.PayoutAttempt{{IntentID: in.IntentID, Attempt: 1, CreatedAtNanos: 50}}); err == nil {
		t.Fatal("an attempt older than the one before was accepted")
	}
	var from, to, other [32]byte
	from[0], to[0], other[0] = 1, 2, 3
	mb, _ := hex.DecodeString(in.MemoHex)
	ok := Block{Index: 7, Op: "transfer", From: from, To: to, AmountE8s: uint64(in.AmountE8s), FeeE8s: uint64(in.FeeE8s), Memo: mb, CreatedAtNanos: 200}
	blocks := []Block{
		ok,
		{Index: 1, Op: "transfer", From: from, To: other, AmountE8s: ok.AmountE8s, FeeE8s: ok.FeeE8s, Memo: mb, CreatedAtNanos: 200},
		{Index: 2, Op: "transfer", From: from, To: to, AmountE8s: ok.AmountE8s + 1, FeeE8s: ok.FeeE8s, Memo: mb, CreatedAtNanos: 200},
		{Index: 3, Op: "transfer", From: from, To: to, AmountE8s: ok.AmountE8s, FeeE8s: ok.FeeE8s, Memo: mb, CreatedAtNanos: 300},
		{Index: 4, Op: "transfer", From: from, To: to, AmountE8s: ok.AmountE8s, FeeE8s: ok.FeeE8s, Memo: nil, CreatedAtNanos: 200},
		{Index: 5, Op: "transfer", From: other, To: to, AmountE8s: ok.AmountE8s, FeeE8s: ok.FeeE8s, Memo: mb, CreatedAtNanos: 100},
	}
	got, err := Match(in, atts, from, to, blocks)
	if err != nil || len(got) != 1 || got[0].Index != 7 {
		t.Fatalf("match: %v %v", got, err)
	}
}
