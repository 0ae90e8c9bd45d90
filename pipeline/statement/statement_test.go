package statement

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

	rep "github.com/nodeshare/nodeshare/pipeline/report"
)

func u(v uint64) *uint64 { return &v }

// aReport is two periods of a DAO: the account is the whale of pool-a in
// the first, a plain sponsor in the second (where one transfer has no
// fiat value), and another account is paid beside it.
func aReport() rep.Report {
	const me, other = "aa", "bb"
	return rep.Report{DAO: "d", Currency: "usd", Periods: []rep.Period{
		{Period: "2026-10-01", Pools: []rep.PoolLine{{PoolID: "pool-a", Whale: me}}, Lines: []rep.Line{
			{Period: "2026-10-01", PoolID: "pool-a", Role: "sponsor", Recipient: rep.Account{ID: me}, StakeE8s: 3_000_000_000, ShareE8s: 350_000_000,
				OwedE8s: 350_000_000, TransferE8s: 349_990_000, FeeE8s: 10_000, IntentID: "i1", Status: "paid", BlockIndex: u(7),
				BlockTime: "2026-10-01T07:00:00Z", ValueXDR: "1.22496500", ValueFiat: "1.666586"},
			{Period: "2026-10-01", PoolID: "pool-a", Role: "sponsor", Recipient: rep.Account{ID: other}, TransferE8s: 5, IntentID: "i2"},
		}},
		{Period: "2026-11-01", Pools: []rep.PoolLine{{PoolID: "pool-a", Whale: other}}, Lines: []rep.Line{
			{Period: "2026-11-01", PoolID: "pool-a", Role: "sponsor", Recipient: rep.Account{ID: me}, StakeE8s: 3_000_000_000, ShareE8s: 300_000_000,
				CarryInE8s: 3, OwedE8s: 300_000_003, TransferE8s: 299_990_003, FeeE8s: 10_000, IntentID: "i3", Status: "paid", BlockIndex: u(9),
				BlockTime: "2026-11-01T07:00:00Z", ValueXDR: "1.04996501", Note: "no USD price within 1h0m0s before the block time"},
		}},
	}}
}

func TestStatementFromReport(t *testing.T) {
	st := FromReport(aReport(), "aa", "", "")
	if len(st.Entries) != 2 || !st.Entries[0].Whale || st.Entries[1].Whale || st.Entries[1].CarryInE8s != 3 {
		t.Fatalf("%+v", st.Entries)
	}
	if len(st.Years) != 1 || st.Years[0].TransferE8s != 349_990_000+299_990_003 || st.Years[0].Unvalued != 1 || st.Years[0].ValueFiat != "" {
		t.Fatalf("year %+v", st.Years)
	}
	// One period only: every transfer valued, so the year has a value.
	one := FromReport(aReport(), "aa", "2026-10-01", "2026-10-31")
	if len(one.Entries) != 1 || one.Years[0].ValueXDR != "1.22496500" || one.Years[0].ValueFiat != "1.666586" {
		t.Fatalf("one period: %+v", one.Years)
	}
}

func TestSignedStatementFailsWhenAlteredByOneE8s(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	st, err := Sign(FromReport(aReport(), "aa", "", ""), "nodeshare-statements", pub, func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil })
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, st); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(bytes.NewReader(b.Bytes()))
	if err != nil || Verify(back, pub) != nil || !Equal(back, st) {
		t.Fatalf("the written statement does not verify: %v %v", err, Verify(back, pub))
	}
	altered := strings.Replace(b.String(), `"transfer_e8s": 349990000`, `"transfer_e8s": 349990001`, 1)
	if altered == b.String() {
		t.Fatal("test bug: nothing altered")
	}
	bad, err := ReadJSON(strings.NewReader(altered))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(bad, pub); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("a statement altered by one e8s verified: %v", err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if err := Verify(back, other); err == nil || !strings.Contains(err.Error(), "not the statement key") {
		t.Fatalf("verified against another key: %v", err)
	}
	back.Signature = nil
	if err := Verify(back, pub); err != ErrUnsigned {
		t.Fatalf("unsigned: %v", err)
	}
	if _, err := ReadJSON(strings.NewReader(`{"version":"` + Version + `","surprise":1}`)); err == nil {
		t.Fatal("an unknown field was accepted")
	}
}

func TestStatementFormats(t *testing.T) {
	st := FromReport(aReport(), "aa", "", "")
	var c, h bytes.Buffer
	if err := WriteCSV(&c, st); err != nil || strings.Count(c.String(), "\nentry,") != 2 || !strings.Contains(c.String(), "\nyear,") {
		t.Fatalf("csv %v\n%s", err, c.String())
	}
	st.DAO = "<script>x</script>"
	if err := WriteHTML(&h, st); err != nil || strings.Contains(h.String(), "<script>") || !strings.Contains(h.String(), "3.49990000") {
		t.Fatalf("html %v", err)
	}
}
