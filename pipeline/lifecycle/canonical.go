package lifecycle

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// CanonicalEncoding returns the bytes whose SHA-256 is lifecycle_sha256
// (docs/pool-rules.md "The nodeshare pools replay contract"): the output object
// without lifecycle_sha256, as compact JSON with exactly these keys in
// exactly this order (shown wrapped; the encoding is one line, no trailing
// newline):
//
//	{"pool_id":S,"rules_version":S,"state":S,"funded_at":S|null,"settled_at":S|null,
//	 "stake_held_e8s":N,"bond_held_e8s":N,
//	 "sponsors":[{"sponsor":S,"identity":S,"accepted_e8s":N},...],
//	 "transfers":[{"seq":N,"kind":S,"to":S,"gross_e8s":N,"transfer_e8s":N,"fee_e8s":N,
//	               "reason":S|null,"cause":S,"at":S},...],
//	 "retained":{"slash_e8s":N,"dust_e8s":N},
//	 "votes":[{"vote_id":S,"kind":S,"status":S,"yes_e8s":N,"no_e8s":N,"abstain_e8s":N,
//	           "weight_total_e8s":N},...]}
//
// Integers N are plain decimal digits. Strings S are written between double
// quotes with only `"` and `\` escaped (as \" and \\) and the control
// characters U+0000..U+001F escaped as JSON's short forms \b \t \n \f \r
// where JSON has one and \u00xx (lowercase hex) otherwise; every other
// character, DEL and non-ASCII included, is written as its UTF-8 bytes
// (no HTML escaping, no \u2028). This is what common JSON encoders write in
// compact mode without ASCII or HTML escaping (Python's json.dumps with
// ensure_ascii=False, Go's encoding/json with SetEscapeHTML(false) apart
// from U+2028/U+2029), so an independent implementation gets the same bytes.
//
// The encoding is frozen with RulesVersion: changing a byte of it is a new
// rules version and new golden files, never an edit.
func CanonicalEncoding(o Output) []byte {
	return appendCanonical(make([]byte, 0, 512+300*len(o.Transfers)+200*len(o.Sponsors)+200*len(o.Votes)), &o, nil)
}

// LifecycleSHA256 is the lowercase hex SHA-256 of CanonicalEncoding(o). It
// ignores o.LifecycleSHA256. The encoding is hashed as it is written, in
// chunks, so a pool with a million transfers is never held as bytes.
func LifecycleSHA256(o Output) string {
	sum := canonicalSum(&o)
	return hex.EncodeToString(sum[:])
}

func canonicalSum(o *Output) [sha256.Size]byte {
	h := sha256.New()
	b := appendCanonical(make([]byte, 0, 2*hashChunk), o, func(b []byte) []byte {
		h.Write(b)
		return b[:0]
	})
	h.Write(b)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// hashChunk is how many bytes of the encoding are written to the hash at a
// time.
const hashChunk = 16 << 10

// EncodeOutput is the output object as `nodeshare pools replay` defines
// it: the canonical encoding with "lifecycle_sha256" appended as the last
// key. The hash is recomputed from o (o.LifecycleSHA256 is not trusted), so
// the bytes always verify: drop the last key and hash the rest. No trailing
// newline.
func EncodeOutput(o Output) []byte {
	b := CanonicalEncoding(o)
	sum := sha256.Sum256(b)
	b = b[:len(b)-1] // the closing brace
	b = append(b, `,"lifecycle_sha256":"`...)
	b = hex.AppendEncode(b, sum[:])
	return append(b, `"}`...)
}

// appendCanonical appends o's canonical encoding to b. When flush is set it
// is handed the bytes written so far whenever they pass hashChunk, and
// returns the buffer to go on with.
func appendCanonical(b []byte, o *Output, flush func([]byte) []byte) []byte {
	chunk := func() {
		if flush != nil && len(b) >= hashChunk {
			b = flush(b)
		}
	}
	b = append(b, `{"pool_id":`...)
	b = appendString(b, o.PoolID)
	b = append(b, `,"rules_version":`...)
	b = appendString(b, o.RulesVersion)
	b = append(b, `,"state":`...)
	b = appendString(b, string(o.State))
	b = append(b, `,"funded_at":`...)
	b = appendStringOrNull(b, o.FundedAt)
	b = append(b, `,"settled_at":`...)
	b = appendStringOrNull(b, o.SettledAt)
	b = append(b, `,"stake_held_e8s":`...)
	b = appendE8s(b, o.StakeHeldE8s)
	b = append(b, `,"bond_held_e8s":`...)
	b = appendE8s(b, o.BondHeldE8s)
	b = append(b, `,"sponsors":[`...)
	for i := range o.Sponsors {
		s := &o.Sponsors[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"sponsor":`...)
		b = appendString(b, s.Sponsor)
		b = append(b, `,"identity":`...)
		b = appendString(b, s.Identity)
		b = append(b, `,"accepted_e8s":`...)
		b = appendE8s(b, s.AcceptedE8s)
		b = append(b, '}')
		chunk()
	}
	b = append(b, `],"transfers":[`...)
	for i := range o.Transfers {
		t := &o.Transfers[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"seq":`...)
		b = strconv.AppendInt(b, int64(t.Seq), 10)
		b = append(b, `,"kind":`...)
		b = appendString(b, string(t.Kind))
		b = append(b, `,"to":`...)
		b = appendString(b, t.To)
		b = append(b, `,"gross_e8s":`...)
		b = appendE8s(b, t.GrossE8s)
		b = append(b, `,"transfer_e8s":`...)
		b = appendE8s(b, t.TransferE8s)
		b = append(b, `,"fee_e8s":`...)
		b = appendE8s(b, t.FeeE8s)
		b = append(b, `,"reason":`...)
		b = appendStringOrNull(b, string(t.Reason))
		b = append(b, `,"cause":`...)
		b = appendString(b, t.Cause)
		b = append(b, `,"at":`...)
		b = appendString(b, t.At)
		b = append(b, '}')
		chunk()
	}
	b = append(b, `],"retained":{"slash_e8s":`...)
	b = appendE8s(b, o.Retained.SlashE8s)
	b = append(b, `,"dust_e8s":`...)
	b = strconv.AppendUint(b, o.Retained.DustE8s, 10)
	b = append(b, `},"votes":[`...)
	for i := range o.Votes {
		v := &o.Votes[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"vote_id":`...)
		b = appendString(b, v.VoteID)
		b = append(b, `,"kind":`...)
		b = appendString(b, string(v.Kind))
		b = append(b, `,"status":`...)
		b = appendString(b, string(v.Status))
		b = append(b, `,"yes_e8s":`...)
		b = appendE8s(b, v.YesE8s)
		b = append(b, `,"no_e8s":`...)
		b = appendE8s(b, v.NoE8s)
		b = append(b, `,"abstain_e8s":`...)
		b = appendE8s(b, v.AbstainE8s)
		b = append(b, `,"weight_total_e8s":`...)
		b = appendE8s(b, v.WeightTotalE8s)
		b = append(b, '}')
		chunk()
	}
	return append(b, "]}"...)
}

func appendE8s(b []byte, v money.E8s) []byte { return strconv.AppendInt(b, int64(v), 10) }

func appendStringOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string under the canonical escaping rules
// (see CanonicalEncoding). s is valid UTF-8: New, Apply and the decoder
// refuse anything else.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
