package allocation

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// ManifestFormat names the canonical encoding of v1 results below, and
// ManifestFormatV2 that of results with hoster engagements (rules v2).
// Changing an encoding in any way (a field, its order, a separator) changes
// every hash: it must then get a new format name and golden file, never an
// edit of these.
const (
	ManifestFormat   = "nodeshare.allocation.manifest/1"
	ManifestFormatV2 = "nodeshare.allocation.manifest/2"
)

// WriteCanonical writes the canonical encoding of r: the bytes whose SHA-256
// is the manifest hash. It is compact JSON (no whitespace) with exactly these
// keys in exactly this order, every integer as plain decimal digits, `null`
// for an absent whale/candidate/proposal, and shares in ascending bytewise
// sponsor order:
//
//	{"format":"nodeshare.allocation.manifest/1","rules_version":S,"pool_id":S,"period":S,
//	 "params":{"xdr_permyriad_per_icp":N,"hoster_fixed_xdr_permyriad":N,"hoster_bps":N,
//	   "dao_fee_bps":N,"whale_premium_bps":N,"ledger_fee_e8s":N,"min_payout_e8s":N},
//	 "gross_e8s":N,"hoster_fee_e8s":N,"dao_fee_e8s":N,"distributable_e8s":N,"stake_total_e8s":N,
//	 "whale":S|null,"whale_candidate":S|null,"premium_e8s":N,"whale_pro_rata_e8s":N,
//	 "proposal":null|{"status":S,"slash_bps":N,"slashed_e8s":N},
//	 "hoster":{"account":S,"carry_in_e8s":N,"owed_e8s":N,"transfer_e8s":N,"fee_e8s":N,"carry_out_e8s":N},
//	 "shares":[{"sponsor":S,"stake_e8s":N,"share_e8s":N,"carry_in_e8s":N,"transfer_e8s":N,"fee_e8s":N,"carry_out_e8s":N},...]}
//
// (shown wrapped; the real encoding is one line without a trailing newline).
//
// A v2 result (HasEngagements) is written in format ManifestFormatV2: the
// same keys, except that params binds the period bounds instead of the one
// hoster's terms and "hosters" (every engagement with all its terms, in
// order of from) replaces "hoster":
//
//	{"format":"nodeshare.allocation.manifest/2","rules_version":S,"pool_id":S,"period":S,
//	 "params":{"period_start":N,"period_end":N,"xdr_permyriad_per_icp":N,
//	   "dao_fee_bps":N,"whale_premium_bps":N,"ledger_fee_e8s":N,"min_payout_e8s":N},
//	 "gross_e8s":N, ... as above ... ,"proposal":null|{...},
//	 "hosters":[{"account":S,"fixed_xdr_permyriad":N,"bps":N,"from":N,"to":N,"overlap_seconds":N,
//	   "hoster_fee_e8s":N,"carry_in_e8s":N,"owed_e8s":N,"transfer_e8s":N,"fee_e8s":N,"carry_out_e8s":N},...],
//	 "shares":[...as above...]}
//
// Engagements never share a from (they are disjoint and non-empty), so the
// order of from is total and any order of the input's hosters gives the
// same bytes.
// Strings S are written between double quotes with only `"` and `\` escaped
// as \" and \\ and bytes below 0x20 as \u00XX (lowercase hex); every other
// byte is written as is, and a string that is not valid UTF-8 is an error.
// The hoster account and the parameters are part of it, so the hash binds
// who is paid and under which terms, not only the amounts. Because Allocate
// sorts everything by id, any permutation of the input gives the same bytes.
func WriteCanonical(w io.Writer, r PoolResult) error {
	if err := checkEncodable(r); err != nil {
		return err
	}
	b := bufio.NewWriterSize(w, 64<<10)
	e := &enc{w: b}
	if r.HasEngagements() {
		e.canonicalV2(&r)
	} else {
		e.canonicalV1(&r)
	}
	if e.err != nil {
		return e.err
	}
	return b.Flush()
}

// canonicalV1 writes format ManifestFormat (see WriteCanonical).
func (e *enc) canonicalV1(r *PoolResult) {
	e.raw(`{"format":`)
	e.str(ManifestFormat)
	e.raw(`,"rules_version":`)
	e.str(r.RulesVersion)
	e.raw(`,"pool_id":`)
	e.str(r.PoolID)
	e.raw(`,"period":`)
	e.str(r.Period)
	e.raw(`,"params":{"xdr_permyriad_per_icp":`)
	e.int(int64(r.RateXDRPermyriadPerICP))
	e.raw(`,"hoster_fixed_xdr_permyriad":`)
	e.int(int64(r.HosterFixedXDRPermyriad))
	e.raw(`,"hoster_bps":`)
	e.int(int64(r.HosterFeeBps))
	e.raw(`,"dao_fee_bps":`)
	e.int(int64(r.DAOFeeBps))
	e.raw(`,"whale_premium_bps":`)
	e.int(int64(r.WhalePremiumBps))
	e.raw(`,"ledger_fee_e8s":`)
	e.e8s(r.LedgerFeeE8s)
	e.raw(`,"min_payout_e8s":`)
	e.e8s(r.MinPayoutE8s)
	e.raw(`},"gross_e8s":`)
	e.canonicalAmounts(r)
	e.raw(`,"hoster":{"account":`)
	e.str(r.Hoster.Account)
	e.raw(`,"carry_in_e8s":`)
	e.e8s(r.Hoster.CarryInE8s)
	e.payout(r.Hoster.Payout)
	e.raw(`},"shares":`)
	e.canonicalShares(r.Shares)
	e.raw("}")
}

// canonicalAmounts writes the values from gross_e8s to proposal, shared by
// both formats: gross, hoster fee, DAO fee, distributable, total stake,
// whale, candidate, premium, whale pro rata and the proposal.
func (e *enc) canonicalAmounts(r *PoolResult) {
	e.e8s(r.GrossE8s)
	e.raw(`,"hoster_fee_e8s":`)
	e.e8s(r.HosterFeeE8s)
	e.raw(`,"dao_fee_e8s":`)
	e.e8s(r.DAOFeeE8s)
	e.raw(`,"distributable_e8s":`)
	e.e8s(r.DistributableE8s)
	e.raw(`,"stake_total_e8s":`)
	e.uint(r.StakeTotalE8s)
	e.raw(`,"whale":`)
	e.strOrNull(r.Whale)
	e.raw(`,"whale_candidate":`)
	e.strOrNull(r.WhaleCandidate)
	e.raw(`,"premium_e8s":`)
	e.e8s(r.PremiumE8s)
	e.raw(`,"whale_pro_rata_e8s":`)
	e.e8s(r.WhaleProRataE8s)
	e.raw(`,"proposal":`)
	if p := r.Proposal; p == nil {
		e.raw("null")
	} else {
		e.raw(`{"status":`)
		e.str(string(p.Status))
		e.raw(`,"slash_bps":`)
		e.int(int64(p.SlashBps))
		e.raw(`,"slashed_e8s":`)
		e.e8s(p.SlashedE8s)
		e.raw("}")
	}
}

// canonicalShares writes the shares array, in the order given (sorted by
// sponsor: checkEncodable verified it).
func (e *enc) canonicalShares(shares []Share) {
	e.raw("[")
	for i := range shares {
		s := &shares[i]
		if i > 0 {
			e.raw(",")
		}
		e.raw(`{"sponsor":`)
		e.str(s.Sponsor)
		e.raw(`,"stake_e8s":`)
		e.e8s(s.StakeE8s)
		e.raw(`,"share_e8s":`)
		e.e8s(s.ShareE8s)
		e.raw(`,"carry_in_e8s":`)
		e.e8s(s.CarryInE8s)
		e.raw(`,"transfer_e8s":`)
		e.e8s(s.TransferE8s)
		e.raw(`,"fee_e8s":`)
		e.e8s(s.FeeE8s)
		e.raw(`,"carry_out_e8s":`)
		e.e8s(s.CarryOutE8s)
		e.raw("}")
	}
	e.raw("]")
}

// canonicalV2 writes format ManifestFormatV2 (see WriteCanonical).
func (e *enc) canonicalV2(r *PoolResult) {
	e.raw(`{"format":`)
	e.str(ManifestFormatV2)
	e.raw(`,"rules_version":`)
	e.str(r.RulesVersion)
	e.raw(`,"pool_id":`)
	e.str(r.PoolID)
	e.raw(`,"period":`)
	e.str(r.Period)
	e.raw(`,"params":{"period_start":`)
	e.int(r.PeriodStartUnixSeconds)
	e.raw(`,"period_end":`)
	e.int(r.PeriodEndUnixSeconds)
	e.raw(`,"xdr_permyriad_per_icp":`)
	e.int(int64(r.RateXDRPermyriadPerICP))
	e.raw(`,"dao_fee_bps":`)
	e.int(int64(r.DAOFeeBps))
	e.raw(`,"whale_premium_bps":`)
	e.int(int64(r.WhalePremiumBps))
	e.raw(`,"ledger_fee_e8s":`)
	e.e8s(r.LedgerFeeE8s)
	e.raw(`,"min_payout_e8s":`)
	e.e8s(r.MinPayoutE8s)
	e.raw(`},"gross_e8s":`)
	e.canonicalAmounts(r)
	e.raw(`,"hosters":[`)
	for j := range r.Hosters {
		h := &r.Hosters[j]
		if j > 0 {
			e.raw(",")
		}
		e.raw(`{"account":`)
		e.str(h.Account)
		e.raw(`,"fixed_xdr_permyriad":`)
		e.int(int64(h.FixedXDRPermyriad))
		e.raw(`,"bps":`)
		e.int(int64(h.FeeBps))
		e.raw(`,"from":`)
		e.int(h.FromUnixSeconds)
		e.raw(`,"to":`)
		e.int(h.ToUnixSeconds)
		e.raw(`,"overlap_seconds":`)
		e.int(h.OverlapSeconds)
		e.raw(`,"hoster_fee_e8s":`)
		e.e8s(h.HosterFeeE8s)
		e.raw(`,"carry_in_e8s":`)
		e.e8s(h.CarryInE8s)
		e.payout(h.Payout)
		e.raw("}")
	}
	e.raw(`],"shares":`)
	e.canonicalShares(r.Shares)
	e.raw("}")
}

// CanonicalEncoding returns the bytes WriteCanonical writes.
func CanonicalEncoding(r PoolResult) ([]byte, error) {
	var sb strings.Builder
	if err := WriteCanonical(&sb, r); err != nil {
		return nil, err
	}
	return []byte(sb.String()), nil
}

// ManifestSHA256 returns the lowercase hex SHA-256 of r's canonical
// encoding. It streams, so a 1M-sponsor result is never held as bytes.
func ManifestSHA256(r PoolResult) (string, error) {
	h := sha256.New()
	if err := WriteCanonical(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkEncodable refuses results the encoding could not make canonical:
// unsorted or duplicate sponsors, engagements not in order of from, v2
// fields on a v1 result, or strings that are not UTF-8.
func checkEncodable(r PoolResult) error {
	for _, s := range []string{r.RulesVersion, r.PoolID, r.Period, r.Whale, r.WhaleCandidate, r.Hoster.Account} {
		if !utf8.ValidString(s) {
			return invariantErr("result string %q is not valid UTF-8", s)
		}
	}
	if !r.HasEngagements() && (len(r.Hosters) != 0 || r.PeriodStartUnixSeconds != 0 || r.PeriodEndUnixSeconds != 0) {
		return invariantErr("a %s result has v2 engagements or period bounds, which its format cannot bind", r.RulesVersion)
	}
	for j := range r.Hosters {
		h := &r.Hosters[j]
		if !utf8.ValidString(h.Account) {
			return invariantErr("hoster %q is not valid UTF-8", h.Account)
		}
		if j > 0 && h.FromUnixSeconds <= r.Hosters[j-1].FromUnixSeconds {
			return invariantErr("hosters not sorted by unique from at %d", h.FromUnixSeconds)
		}
	}
	for i := range r.Shares {
		if !utf8.ValidString(r.Shares[i].Sponsor) {
			return invariantErr("sponsor %q is not valid UTF-8", r.Shares[i].Sponsor)
		}
		if i > 0 && strings.Compare(r.Shares[i-1].Sponsor, r.Shares[i].Sponsor) >= 0 {
			return invariantErr("shares not sorted by unique sponsor at %q", r.Shares[i].Sponsor)
		}
	}
	return nil
}

// enc writes JSON pieces and keeps the first error.
type enc struct {
	w   *bufio.Writer
	err error
	buf [24]byte
}

func (e *enc) raw(s string) {
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

func (e *enc) int(v int64) {
	if e.err == nil {
		_, e.err = e.w.Write(strconv.AppendInt(e.buf[:0], v, 10))
	}
}

func (e *enc) uint(v uint64) {
	if e.err == nil {
		_, e.err = e.w.Write(strconv.AppendUint(e.buf[:0], v, 10))
	}
}

func (e *enc) e8s(v money.E8s) { e.int(int64(v)) }

func (e *enc) strOrNull(s string) {
	if s == "" {
		e.raw("null")
		return
	}
	e.str(s)
}

const hexDigits = "0123456789abcdef"

func (e *enc) str(s string) {
	if e.err != nil {
		return
	}
	e.w.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		e.w.WriteString(s[start:i])
		switch c {
		case '"', '\\':
			e.w.WriteByte('\\')
			e.w.WriteByte(c)
		default:
			e.w.WriteString(`\u00`)
			e.w.WriteByte(hexDigits[c>>4])
			e.w.WriteByte(hexDigits[c&0xf])
		}
		start = i + 1
	}
	e.w.WriteString(s[start:])
	e.err = e.w.WriteByte('"')
}

func (e *enc) payout(p Payout) {
	e.raw(`,"owed_e8s":`)
	e.e8s(p.OwedE8s)
	e.raw(`,"transfer_e8s":`)
	e.e8s(p.TransferE8s)
	e.raw(`,"fee_e8s":`)
	e.e8s(p.FeeE8s)
	e.raw(`,"carry_out_e8s":`)
	e.e8s(p.CarryOutE8s)
}
