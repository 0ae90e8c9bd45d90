package audit

import (
	"crypto/ed25519"
	"strings"
	"testing"
)

func tipRows() []Row {
	mk := func(topic string, off int64, hash string) Row {
		r := Row{RowHash: hash}
		r.Topic, r.Offset = topic, off
		return r
	}
	return []Row{mk("a", 0, "a0"), mk("a", 1, "a1"), mk("a", 2, "a2"), mk("b", 0, "b0")}
}

func TestSignedTips(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	sign := func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil }
	rows := tipRows()
	s, err := SignTips(Tips(rows), "2026-12-07T00:00:00Z", "nodeshare-audit", pub, sign)
	if err != nil || len(s.Tips) != 2 || s.Tips[0].Offset != 2 || s.Tips[1].RowHash != "b0" {
		t.Fatalf("%+v %v", s, err)
	}
	if fs := CheckTips(rows, s); len(fs) != 0 {
		t.Fatalf("intact chains: %v", fs)
	}
	// More rows since the signature: fine.
	more := append(append([]Row(nil), rows[:3]...), Row{RowHash: "a3"}, rows[3])
	more[3].Topic, more[3].Offset = "a", 3
	if fs := CheckTips(more, s); len(fs) != 0 {
		t.Fatalf("a longer chain: %v", fs)
	}
	// The tail cut: offset 2 deleted.
	cut := append(append([]Row(nil), rows[:2]...), rows[3])
	if fs := CheckTips(cut, s); len(fs) != 1 || !strings.Contains(fs[0].Detail, "missing tail") {
		t.Fatalf("cut tail: %v", fs)
	}
	// Rewritten whole (the chain adds up, the tip's hash differs).
	re := tipRows()
	re[2].RowHash = "x2"
	if fs := CheckTips(re, s); len(fs) != 1 || !strings.Contains(fs[0].Detail, "rewritten") {
		t.Fatalf("rewrite: %v", fs)
	}
	// The signature: another key, or the document altered.
	other, _, _ := ed25519.GenerateKey(nil)
	if err := VerifyTipsSignature(s, other); err == nil {
		t.Fatal("verified with another key")
	}
	s.Tips[0].Offset = 1
	if err := VerifyTipsSignature(s, pub); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("altered tips verified: %v", err)
	}
}
