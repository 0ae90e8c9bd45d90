package schemas

import (
	"bytes"
	"testing"
)

func TestSignedMessageIsInjective(t *testing.T) {
	// Moving a byte from one field to the next changes the message.
	a := SignedMessage(DomainBallot, "ab", "c")
	b := SignedMessage(DomainBallot, "a", "bc")
	if bytes.Equal(a, b) {
		t.Fatalf("fields ab|c and a|bc encode alike: %x", a)
	}
	// The same fields under another domain differ.
	if bytes.Equal(SignedMessage(DomainBallot, "x"), SignedMessage(DomainPayoutApproval, "x")) {
		t.Fatal("two domains encode alike")
	}
	want := append([]byte{byte(len(DomainPayoutApproval))}, DomainPayoutApproval...)
	want = append(want, 1, 'd', 1, 'p', 2, 'f', 'f')
	if got := PayoutApprovalMessage("d", "p", "ff"); !bytes.Equal(got, want) {
		t.Fatalf("PayoutApprovalMessage = %x, want %x", got, want)
	}
}

func TestDecodeHexFieldNamesFieldAndValue(t *testing.T) {
	if _, err := DecodeHexField("signature", "zz"); err == nil || !bytes.Contains([]byte(err.Error()), []byte(`signature "zz"`)) {
		t.Fatalf("err = %v", err)
	}
	if b, err := DecodeHexField("signature", "0aff"); err != nil || !bytes.Equal(b, []byte{0x0a, 0xff}) {
		t.Fatalf("b = %x, err = %v", b, err)
	}
}
