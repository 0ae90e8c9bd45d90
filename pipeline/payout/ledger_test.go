package payout

import "testing"

func TestIsAccountIdentifier(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"36a256f203030303030303030303030303030303030303030303030303030303", true},
		{"36a256f303030303030303030303030303030303030303030303030303030303", false}, // checksum
		{"36A256F203030303030303030303030303030303030303030303030303030303", false}, // upper case
		{"36a256f20303030303030303030303030303030303030303030303030303030", false},  // 63 characters
		{"aaaaa-aa", false},
		{"", false},
	} {
		if got := IsAccountIdentifier(c.s); got != c.want {
			t.Errorf("IsAccountIdentifier(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}

func TestLegacyMemoFoldsTheFirstEightBytes(t *testing.T) {
	memo := []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xff, 0xff}
	if got := LegacyMemo(memo); got != 0x0102030405060708 {
		t.Fatalf("LegacyMemo = %#x", got)
	}
	if got := LegacyMemo([]byte{0xab}); got != 0xab00000000000000 {
		t.Fatalf("short memo: %#x", got)
	}
}
