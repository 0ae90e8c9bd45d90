package schemas

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// AccountIDLen is the length of an account identifier's text: the 32-byte
// ICP ledger AccountIdentifier in lowercase hex.
const AccountIDLen = 64

// ValidateAccountIdentifier reports whether s is an ICP ledger account
// identifier as blocks and the pool rules write them: 64 lowercase hex
// characters whose first 4 bytes are the big-endian CRC32 (IEEE) of the 28
// bytes that follow. Uppercase hex is refused: accounts compare as the
// bytes of their text, so one account has one spelling. The error reads
// after a field name ("facts[3].from must be ...").
func ValidateAccountIdentifier(s string) error {
	if len(s) != AccountIDLen {
		return fmt.Errorf("must be an account identifier of %d lowercase hex characters, got %d characters: %s", AccountIDLen, len(s), quoteShort(s))
	}
	var b [AccountIDLen / 2]byte
	for i := range b {
		hi, lo := lowerHex[s[2*i]], lowerHex[s[2*i+1]]
		if hi|lo == notHex {
			return fmt.Errorf("must be an account identifier of lowercase hex characters, got %s", quoteShort(s))
		}
		b[i] = hi<<4 | lo
	}
	if want, got := crc32.ChecksumIEEE(b[4:]), binary.BigEndian.Uint32(b[:4]); want != got {
		return fmt.Errorf("is not a valid account identifier: checksum %08x, but the CRC32 of the 28-byte hash is %08x, in %s", got, want, quoteShort(s))
	}
	return nil
}

// quoteShort quotes s for an error, cut at 80 bytes.
func quoteShort(s string) string {
	const max = 80
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// notHex marks a byte that is not a lowercase hex digit in lowerHex; its
// bit 7 survives an OR with any digit's value (0..15).
const notHex = 0xff

// lowerHex maps '0'-'9' and 'a'-'f' to their values and every other byte to
// notHex. It is built once at package initialisation and only read.
var lowerHex = func() (t [256]byte) {
	for i := range t {
		t[i] = notHex
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
	}
	return t
}()
