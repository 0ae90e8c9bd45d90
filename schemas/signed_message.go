package schemas

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Domains of the messages people sign. A signature made for one domain can
// never be replayed as a signature of another: the domain is the message's
// first bytes.
const (
	DomainPayoutApproval = "nodeshare-payout-approval-v1"
	DomainBallot         = "nodeshare-ballot-v1"
	DomainMemberAttest   = "nodeshare-member-attestation-v1"
)

// SignedMessage is the exact byte string a signer signs for domain and
// fields: the domain's length (one byte) and bytes, then each field as an
// unsigned LEB128 length and its bytes (the IC's own domain separation
// style: "\x0Aic-request"). The lengths make the encoding injective: no two
// different field lists give the same bytes.
func SignedMessage(domain string, fields ...string) []byte {
	if len(domain) > 255 {
		panic("schemas: signed message domain longer than 255 bytes")
	}
	n := 1 + len(domain)
	for _, f := range fields {
		n += binary.MaxVarintLen64 + len(f)
	}
	out := make([]byte, 0, n)
	out = append(out, byte(len(domain)))
	out = append(out, domain...)
	for _, f := range fields {
		out = binary.AppendUvarint(out, uint64(len(f)))
		out = append(out, f...)
	}
	return out
}

// PayoutApprovalMessage is what an approver signs to approve the manifest
// manifestSHA256 (hex) of dao's period.
func PayoutApprovalMessage(dao, period, manifestSHA256 string) []byte {
	return SignedMessage(DomainPayoutApproval, dao, period, manifestSHA256)
}

// DecodeHexField decodes a hex field of a signed record, naming the field
// and value when it is not hex.
func DecodeHexField(field, value string) ([]byte, error) {
	b, err := hex.DecodeString(value)
	if err != nil {
		return nil, fmt.Errorf("%s %q is not hex: %v", field, shorten(value), err)
	}
	return b, nil
}

// shorten keeps the first 80 bytes of a value quoted in an error.
func shorten(v string) string {
	if len(v) > 80 {
		return v[:80] + "..."
	}
	return v
}
