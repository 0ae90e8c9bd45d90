package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/aviate-labs/agent-go/principal"
	"github.com/aviate-labs/agent-go/principal/icrc"
)

// Ledger accounts as the wire names them: an ICRC-1 account is an owner
// principal and a 32-byte subaccount, written as ICRC-1 text; the ICP
// ledger's blocks name it by its 32-byte account identifier (CRC32 of the
// 28-byte SHA-224 hash, big endian, then the hash), written as 64
// lowercase hex characters (docs/ic-interfaces.md §4.3, §4.4).

// Account is an ICRC-1 account of owner (principal text) and subaccount,
// in both written forms.
type Account struct {
	ICRC1 string // ICRC-1 text
	ID    string // legacy account identifier, 64 lowercase hex
}

// AccountOf is owner's account with subaccount sub.
func AccountOf(owner string, sub [32]byte) (Account, error) {
	p, err := principal.Decode(owner)
	if err != nil {
		return Account{}, fmt.Errorf("principal %q: %w", owner, err)
	}
	s := sub
	id := principal.NewAccountID(p, s)
	return Account{ICRC1: icrc.Account{Owner: p, SubAccount: &s}.Encode(), ID: hex.EncodeToString(id.Bytes())}, nil
}

// DepositSubaccount is the treasury subaccount sponsors of pool poolID of
// dao send ICP to: SHA-256 of "nodeshare/pool-deposit/v1", a zero byte,
// dao, a zero byte, poolID (the zero bytes keep "a/b"+"c" apart from
// "a"+"b/c"). Anyone can recompute it from the DAO and pool names.
func DepositSubaccount(dao, poolID string) [32]byte {
	return poolSubaccount("nodeshare/pool-deposit/v1", dao, poolID)
}

// BondSubaccount is the treasury subaccount the purchaser's bond of the
// pool goes to: the same derivation with "nodeshare/pool-bond/v1".
func BondSubaccount(dao, poolID string) [32]byte {
	return poolSubaccount("nodeshare/pool-bond/v1", dao, poolID)
}

func poolSubaccount(domain, dao, poolID string) [32]byte {
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write([]byte{0})
	h.Write([]byte(dao))
	h.Write([]byte{0})
	h.Write([]byte(poolID))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// AccountIDFromText accepts an account as ICRC-1 text or as a 64-hex
// account identifier and returns the identifier (lowercase hex), checking
// the CRC of a hex identifier.
func AccountIDFromText(s string) (string, error) {
	if len(s) == 64 {
		if _, err := principal.DecodeAccountID(s); err == nil {
			b, _ := hex.DecodeString(s)
			return hex.EncodeToString(b), nil
		}
	}
	a, err := DecodeICRC1Account(s)
	if err != nil {
		return "", fmt.Errorf("account %q: neither a 64-hex account identifier with a valid checksum nor ICRC-1 text: %w", s, err)
	}
	var sub [32]byte
	if a.SubAccount != nil {
		sub = *a.SubAccount
	}
	return hex.EncodeToString(principal.NewAccountID(a.Owner, sub).Bytes()), nil
}

// DecodeICRC1Account parses ICRC-1 account text ("<principal>" or
// "<principal>-<checksum>.<hex subaccount>"). agent-go's decoder indexes
// into its input without bounds checks; a malformed text is an error here,
// never a panic.
func DecodeICRC1Account(s string) (a icrc.Account, err error) {
	defer func() {
		if r := recover(); r != nil {
			a, err = icrc.Account{}, fmt.Errorf("malformed ICRC-1 account text")
		}
	}()
	if s == "" {
		return a, fmt.Errorf("empty text")
	}
	return icrc.Decode(s)
}

// OpaqueAccountText is the ICRC-1 text of the default account of the
// opaque principal made from id (28 bytes then the opaque class byte
// 0x01): a valid ledger owner nobody holds a key for, as a sponsor's
// wallet is to nodeshare. Simulations and the demo name accounts with it.
func OpaqueAccountText(id [28]byte) string {
	return icrc.Account{Owner: principal.Principal{Raw: append(id[:], 0x01)}}.Encode()
}
