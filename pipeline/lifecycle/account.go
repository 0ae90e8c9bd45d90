package lifecycle

import "github.com/nodeshare/nodeshare/schemas"

// AccountLen is the length of an account's text: the 32-byte ICP ledger
// AccountIdentifier in lowercase hex.
const AccountLen = schemas.AccountIDLen

// ValidateAccount reports whether s is an ICP ledger account identifier as
// docs/pool-rules.md "Terms" writes them (schemas.ValidateAccountIdentifier:
// 64 lowercase hex characters, the first 4 bytes the big-endian CRC32 of the
// other 28).
func ValidateAccount(s string) error { return schemas.ValidateAccountIdentifier(s) }
