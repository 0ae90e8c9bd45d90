package lifecycle

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/crc32"
	"strconv"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// acct is the account whose 28-byte hash is b repeated: easy to recognise
// in the output ("...0101..." is s1), and its CRC prefix makes the byte
// order of accounts differ from the order of b.
func acct(b byte) string {
	var a [32]byte
	for i := 4; i < 32; i++ {
		a[i] = b
	}
	binary.BigEndian.PutUint32(a[:4], crc32.ChecksumIEEE(a[4:]))
	return hex.EncodeToString(a[:])
}

// The accounts of the tests, in byte order: s3 < s6 < s1 < s4 < s5 < whale < s2 < s7 < s8.
var (
	depositAcct = acct(0xd0) // ed6c513c...
	bondAcct    = acct(0xb0) // 5be73783...
	whale       = acct(0xe1) // 80f07c75...: the purchaser
	s1          = acct(0x01) // 5b116adf...
	s2          = acct(0x02) // edc34bc4...
	s3          = acct(0x03) // 36a256f2...
	s4          = acct(0x04) // 5b160fb3...
	s5          = acct(0x05) // 80771285...
	s6          = acct(0x06) // 36a5339e...
	s7          = acct(0x07) // edc42ea8...
)

const icp = money.E8sPerICP

func tm(s string) Time {
	t, err := ParseTime(s)
	if err != nil {
		panic(err) // test constants only
	}
	return t
}

// day is 2026-01-dd at midnight UTC (days past 31 roll into February etc.
// through the text, so keep dd <= 28 and use tm for other dates).
func day(dd int) string {
	return "2026-01-" + string(rune('0'+dd/10)) + string(rune('0'+dd%10)) + "T00:00:00Z"
}

// baseTerms: a 100 ICP node, 0.5 ICP minimum, 35% sponsor cap, deadline
// 2026-03-01, 5% slash, a 10 ICP bond, lock-up to 2027-03-01, 30% voting cap,
// fee 10,000 e8s.
func baseTerms() Terms {
	return Terms{
		PoolID: "pool-a", DepositAccount: depositAcct,
		TargetE8s: 100 * icp, MinContributionE8s: 50_000_000, MaxSponsorBps: 3500,
		FundingDeadline: tm("2026-03-01T00:00:00Z"), Purchaser: whale,
		SlashBps: 500, BondE8s: 10 * icp, BondAccount: bondAcct,
		LockupUntil: tm("2027-03-01T00:00:00Z"), MaxVotingBps: 3000, LedgerFeeE8s: 10_000,
	}
}

func dep(at string, block uint64, from string, amount money.E8s) Fact {
	return Fact{Type: FactDeposit, At: tm(at), BlockIndex: block, To: depositAcct, From: from, AmountE8s: amount}
}

func bond(at string, block uint64, from string, amount money.E8s) Fact {
	return Fact{Type: FactDeposit, At: tm(at), BlockIndex: block, To: bondAcct, From: from, AmountE8s: amount}
}

func submitted(at string, id uint64) Fact {
	return Fact{Type: FactProposalSubmitted, At: tm(at), ProposalID: id}
}

func decided(at string, id uint64, status ProposalStatus) Fact {
	return Fact{Type: FactProposalDecided, At: tm(at), ProposalID: id, Status: status}
}

func nodeUp(at, node string) Fact   { return Fact{Type: FactNodeUp, At: tm(at), NodeID: node} }
func nodeDown(at, node string) Fact { return Fact{Type: FactNodeDown, At: tm(at), NodeID: node} }
func tick(at string) Fact           { return Fact{Type: FactTick, At: tm(at)} }

func opened(at, id string, kind VoteKind, closes string, threshold money.Bps) Fact {
	return Fact{Type: FactVoteOpened, At: tm(at), VoteID: id, Kind: kind, Subject: "s", ClosesAt: tm(closes), ThresholdBps: threshold}
}

func ballot(at, id, voter string, c Choice) Fact {
	return Fact{Type: FactBallot, At: tm(at), VoteID: id, Voter: voter, Choice: c}
}

// fullyFunded: the whale 35, s1 35, s2 30 ICP, funded on day 4.
func fullyFunded() []Fact {
	return []Fact{
		dep(day(2), 1, whale, 35*icp),
		dep(day(3), 2, s1, 35*icp),
		dep(day(4), 3, s2, 30*icp),
	}
}

// adoptedWithBond: funded, the bond paid, proposal 7 adopted on day 8.
func adoptedWithBond() []Fact {
	return append(fullyFunded(),
		bond(day(5), 4, whale, 10*icp),
		submitted(day(6), 7),
		decided(day(8), 7, ProposalAdopted),
	)
}

// run applies facts to a pool of terms and fails the test on any error.
func run(t testing.TB, terms Terms, facts ...Fact) (*Pool, Output) {
	t.Helper()
	p, err := New(terms)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for i, f := range facts {
		if _, err := p.Apply(f); err != nil {
			t.Fatalf("facts[%d] (%s at %s): %v", i, f.Type, f.At, err)
		}
	}
	o := p.Result()
	checkOutput(t, o)
	return p, o
}

// applyErr applies facts and returns the first error with its place made
// absolute, as Replay does.
func applyErr(terms Terms, facts ...Fact) error {
	p, err := New(terms)
	if err != nil {
		return err
	}
	for i, f := range facts {
		if _, err := p.Apply(f); err != nil {
			return within("facts["+itoa(i)+"]", err)
		}
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// place is the place an InputError names, or "" with the error text when err
// is something else.
func place(err error) string {
	var ie *InputError
	if errors.As(err, &ie) {
		return ie.Place
	}
	if err == nil {
		return "<nil>"
	}
	return "not an InputError: " + err.Error()
}

// checkOutput checks what every output must satisfy on its own: nothing
// negative, gross = transfer + fee or a dust row, seq counting from 0, the
// sorted unique lists, and the sha matching the encoding.
func checkOutput(t testing.TB, o Output) {
	t.Helper()
	if o.StakeHeldE8s < 0 || o.BondHeldE8s < 0 || o.Retained.SlashE8s < 0 {
		t.Fatalf("negative amount in %+v", o)
	}
	for i, tr := range o.Transfers {
		if tr.Seq != i || tr.GrossE8s <= 0 || tr.TransferE8s < 0 || tr.FeeE8s < 0 {
			t.Fatalf("transfer %d malformed: %+v", i, tr)
		}
		if tr.TransferE8s+tr.FeeE8s != tr.GrossE8s && (tr.TransferE8s != 0 || tr.FeeE8s != 0) {
			t.Fatalf("transfer %d: gross %d != transfer %d + fee %d", i, tr.GrossE8s, tr.TransferE8s, tr.FeeE8s)
		}
		if tr.Reason != "" && (tr.Kind != TransferRefund || !isDigits(tr.Cause)) {
			t.Fatalf("transfer %d: a reason on a transfer that is not a refund on arrival: %+v", i, tr)
		}
	}
	for i := 1; i < len(o.Sponsors); i++ {
		if o.Sponsors[i-1].Sponsor >= o.Sponsors[i].Sponsor {
			t.Fatalf("sponsors not sorted at %d", i)
		}
	}
	for _, s := range o.Sponsors {
		if s.AcceptedE8s <= 0 {
			t.Fatalf("sponsor %s listed with %d", s.Sponsor, s.AcceptedE8s)
		}
	}
	for i := 1; i < len(o.Votes); i++ {
		if o.Votes[i-1].VoteID >= o.Votes[i].VoteID {
			t.Fatalf("votes not sorted at %d", i)
		}
	}
	if got := LifecycleSHA256(o); got != o.LifecycleSHA256 {
		t.Fatalf("lifecycle_sha256 %s does not match the encoding's %s", o.LifecycleSHA256, got)
	}
	var parsed map[string]any
	if err := json.Unmarshal(EncodeOutput(o), &parsed); err != nil {
		t.Fatalf("EncodeOutput is not JSON: %v", err)
	}
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// row is a transfer without its seq, for compact expectations.
type row struct {
	Kind     TransferKind
	To       string
	Gross    money.E8s
	Transfer money.E8s
	Fee      money.E8s
	Reason   RefundReason
	Cause    string
	At       string
}

func rows(o Output) []row {
	out := make([]row, len(o.Transfers))
	for i, t := range o.Transfers {
		out[i] = row{t.Kind, t.To, t.GrossE8s, t.TransferE8s, t.FeeE8s, t.Reason, t.Cause, t.At}
	}
	return out
}

// paid is a row under the base fee of 10,000 e8s.
func paid(kind TransferKind, to string, gross money.E8s, reason RefundReason, cause, at string) row {
	return row{kind, to, gross, gross - 10_000, 10_000, reason, cause, at}
}

func accepted(o Output) map[string]money.E8s {
	m := map[string]money.E8s{}
	for _, s := range o.Sponsors {
		m[s.Sponsor] = s.AcceptedE8s
	}
	return m
}

// inputDoc is a replay input document as Go values, for tests that write
// JSON: encoding/json writes integers exactly.
func inputDoc(terms Terms, facts []Fact) map[string]any {
	tm := map[string]any{
		"pool_id": terms.PoolID, "deposit_account": terms.DepositAccount,
		"target_e8s": int64(terms.TargetE8s), "min_contribution_e8s": int64(terms.MinContributionE8s),
		"max_sponsor_bps": int64(terms.MaxSponsorBps), "funding_deadline": terms.FundingDeadline.String(),
		"purchaser": terms.Purchaser, "slash_bps": int64(terms.SlashBps), "bond_e8s": int64(terms.BondE8s),
		"bond_account": terms.BondAccount, "lockup_until": terms.LockupUntil.String(),
		"max_voting_bps": int64(terms.MaxVotingBps), "ledger_fee_e8s": int64(terms.LedgerFeeE8s),
	}
	if terms.Identities != nil {
		tm["identities"] = terms.Identities
	}
	fs := make([]any, len(facts))
	for i, f := range facts {
		m := map[string]any{"type": string(f.Type), "at": f.At.String()}
		switch f.Type {
		case FactDeposit:
			m["block_index"], m["to"], m["from"], m["amount_e8s"] = f.BlockIndex, f.To, f.From, int64(f.AmountE8s)
		case FactProposalSubmitted:
			m["proposal_id"] = f.ProposalID
		case FactProposalDecided:
			m["proposal_id"], m["status"] = f.ProposalID, string(f.Status)
		case FactNodeUp, FactNodeDown:
			m["node_id"] = f.NodeID
		case FactVoteOpened:
			m["vote_id"], m["kind"], m["subject"], m["closes_at"], m["threshold_bps"] = f.VoteID, string(f.Kind), f.Subject, f.ClosesAt.String(), int64(f.ThresholdBps)
		case FactBallot:
			m["vote_id"], m["voter"], m["choice"] = f.VoteID, f.Voter, string(f.Choice)
		}
		fs[i] = m
	}
	return map[string]any{"terms": tm, "facts": fs}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// with returns base followed by more, never sharing base's array (append on
// a shared base would let one case overwrite another's facts).
func with(base []Fact, more ...Fact) []Fact {
	out := make([]Fact, 0, len(base)+len(more))
	return append(append(out, base...), more...)
}
