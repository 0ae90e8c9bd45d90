package ic

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/aviate-labs/agent-go/principal"
	"github.com/aviate-labs/agent-go/principal/icrc"

	"github.com/nodeshare/nodeshare/schemas"
)

// Account is an ICRC-1 account: an owner principal and an optional 32-byte
// subaccount (nil and all-zero are the same account).
type Account = icrc.Account

// AccountFromText parses the ICRC-1 textual form ("<principal>" or
// "<principal>-<checksum>.<hex subaccount>").
func AccountFromText(s string) (Account, error) {
	a, err := schemas.DecodeICRC1Account(strings.TrimSpace(s))
	if err != nil {
		return Account{}, fmt.Errorf("ic: account %q: %w (want <principal> or <principal>-<checksum>.<hex subaccount>)", s, err)
	}
	return a, nil
}

// AccountText is the canonical ICRC-1 text of a.
func AccountText(a Account) string { return a.Encode() }

// AccountIdentifier is the ICP ledger's legacy 32-byte account identifier:
// CRC32 (big-endian) followed by SHA-224("\x0Aaccount-id" || owner ||
// subaccount). Ledger blocks name accounts this way.
type AccountIdentifier [32]byte

// LegacyAccountID derives the 32-byte account identifier of a.
func LegacyAccountID(a Account) AccountIdentifier {
	var sub [32]byte
	if a.SubAccount != nil {
		sub = *a.SubAccount
	}
	var id AccountIdentifier
	copy(id[:], principal.NewAccountID(a.Owner, sub).Bytes())
	return id
}

// String is the 64-character hex form.
func (id AccountIdentifier) String() string { return hex.EncodeToString(id[:]) }

// ParseAccountIdentifier parses 64 hex characters and checks the CRC.
func ParseAccountIdentifier(s string) (AccountIdentifier, error) {
	h, err := principal.DecodeAccountID(strings.TrimSpace(s))
	if err != nil {
		return AccountIdentifier{}, fmt.Errorf("ic: account identifier %q: %w (want 64 hex characters with a valid CRC32)", s, err)
	}
	var id AccountIdentifier
	copy(id[:], h.Bytes())
	return id, nil
}

// NormalizeAccountIdentifier accepts the 28-byte hash (as Governance may
// report it) or the 32-byte identifier and returns the 32-byte form; a
// 32-byte input must carry a valid CRC.
func NormalizeAccountIdentifier(b []byte) (AccountIdentifier, error) {
	switch len(b) {
	case 28:
		var h principal.AccountIdentifier
		copy(h[:], b)
		var id AccountIdentifier
		copy(id[:], h.Bytes())
		return id, nil
	case 32:
		return ParseAccountIdentifier(hex.EncodeToString(b))
	}
	return AccountIdentifier{}, fmt.Errorf("ic: account identifier must be 28 or 32 bytes, got %d", len(b))
}
