package lifecycle

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// This file is the JSON side of `nodeshare pools replay --in FILE|-`
// (docs/pool-rules.md "The replay contract"). A command wires it as:
//
//	out, err := lifecycle.ReplayJSON(in)
//	if err != nil {
//		fmt.Fprintln(os.Stderr, "nodeshare pools replay:", err)
//		os.Exit(1) // nothing on stdout
//	}
//	os.Stdout.Write(out)

// MaxInputBytes bounds what ReplayJSON reads (256 MiB: about a million
// facts).
const MaxInputBytes = 256 << 20

// ReplayJSON reads one replay input document and returns what the command
// prints on success: the compact output object of EncodeOutput (the
// canonical encoding plus "lifecycle_sha256" as its last key) and a
// newline. On any error it returns no bytes: invalid input is an
// *InputError (ErrInvalidInput) naming the place and the value, an
// invariant failure matches ErrInvariant, and a read error is wrapped.
func ReplayJSON(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the pools replay input: %w", err)
	}
	if len(data) > MaxInputBytes {
		return nil, inputErr("input", "is larger than %d bytes", MaxInputBytes)
	}
	out, err := Replay(data)
	if err != nil {
		return nil, err
	}
	return append(EncodeOutput(out), '\n'), nil
}

// Replay decodes {"terms": {...}, "facts": [...]}, creates the pool and
// applies the facts in list order, stopping at the first error: the terms
// are checked first, then each fact is decoded and applied in turn, so the
// error is the first one a stream processor would meet.
func Replay(input []byte) (Output, error) {
	doc, err := parseJSON(input)
	if err != nil {
		return Output{}, err
	}
	if doc.kind != jObject {
		return Output{}, inputErr("input", "must be a JSON object {\"terms\": {...}, \"facts\": [...]}, got %s", doc.describe())
	}
	if err := onlyFields(&doc, "", "the replay input", "terms", "facts"); err != nil {
		return Output{}, err
	}
	terms, err := decodeTerms(doc.get("terms"))
	if err != nil {
		return Output{}, err
	}
	p, err := New(terms)
	if err != nil {
		return Output{}, err
	}
	facts := doc.get("facts")
	switch {
	case facts == nil:
		return Output{}, inputErr("facts", "is required")
	case facts.kind != jArray:
		return Output{}, inputErr("facts", "must be an array, got %s", facts.describe())
	}
	for i := range facts.vals {
		prefix := "facts[" + strconv.Itoa(i) + "]"
		f, err := decodeFact(&facts.vals[i])
		if err == nil {
			_, err = p.Apply(f)
		}
		if err != nil {
			return Output{}, within(prefix, err)
		}
	}
	return p.Result(), nil
}

var termFields = []string{
	"pool_id", "deposit_account", "target_e8s", "min_contribution_e8s", "max_sponsor_bps",
	"funding_deadline", "purchaser", "slash_bps", "bond_e8s", "bond_account", "lockup_until",
	"max_voting_bps", "ledger_fee_e8s", "identities",
}

func decodeTerms(v *jval) (Terms, error) {
	var t Terms
	if v == nil {
		return t, inputErr("terms", "is required")
	}
	if v.kind != jObject {
		return t, inputErr("terms", "must be an object, got %s", v.describe())
	}
	if err := onlyFields(v, "terms.", "the terms", termFields...); err != nil {
		return t, err
	}
	o := object{v, "terms."}
	var err error
	var n int64
	if t.PoolID, err = o.str("pool_id"); err != nil {
		return t, err
	}
	if t.DepositAccount, err = o.str("deposit_account"); err != nil {
		return t, err
	}
	if n, err = o.int("target_e8s", 1, math.MaxInt64); err != nil {
		return t, err
	}
	t.TargetE8s = money.E8s(n)
	if n, err = o.int("min_contribution_e8s", 0, math.MaxInt64); err != nil {
		return t, err
	}
	t.MinContributionE8s = money.E8s(n)
	if n, err = o.int("max_sponsor_bps", 1, 10_000); err != nil {
		return t, err
	}
	t.MaxSponsorBps = money.Bps(n)
	if t.FundingDeadline, err = o.time("funding_deadline"); err != nil {
		return t, err
	}
	if t.Purchaser, err = o.str("purchaser"); err != nil {
		return t, err
	}
	if n, err = o.int("slash_bps", 0, 10_000); err != nil {
		return t, err
	}
	t.SlashBps = money.Bps(n)
	if n, err = o.int("bond_e8s", 0, math.MaxInt64); err != nil {
		return t, err
	}
	t.BondE8s = money.E8s(n)
	if t.BondAccount, err = o.str("bond_account"); err != nil {
		return t, err
	}
	if t.LockupUntil, err = o.time("lockup_until"); err != nil {
		return t, err
	}
	if n, err = o.int("max_voting_bps", 1, 10_000); err != nil {
		return t, err
	}
	t.MaxVotingBps = money.Bps(n)
	if n, err = o.int("ledger_fee_e8s", 0, math.MaxInt64); err != nil {
		return t, err
	}
	t.LedgerFeeE8s = money.E8s(n)
	// identities is the one optional term: absent means no attested
	// identities. When present it must be an object of strings.
	if ids := v.get("identities"); ids != nil {
		if ids.kind != jObject {
			return t, inputErr("terms.identities", "must be an object of account to identity, got %s", ids.describe())
		}
		t.Identities = make(map[string]string, len(ids.keys))
		for i, acct := range ids.keys {
			id := &ids.vals[i]
			if id.kind != jString {
				return t, inputErr("terms.identities."+acct, "must be a string (an identity), got %s", id.describe())
			}
			t.Identities[acct] = id.s
		}
	}
	return t, nil
}

// factFields are each fact type's fields besides type and at, in the
// order the rules list them (and the order they are checked).
var factFields = map[FactType][]string{
	FactDeposit:           {"block_index", "to", "from", "amount_e8s"},
	FactProposalSubmitted: {"proposal_id"},
	FactProposalDecided:   {"proposal_id", "status"},
	FactNodeUp:            {"node_id"},
	FactNodeDown:          {"node_id"},
	FactVoteOpened:        {"vote_id", "kind", "subject", "closes_at", "threshold_bps"},
	FactBallot:            {"vote_id", "voter", "choice"},
	FactTick:              {},
}

// decodeFact reads one fact; its error places are relative to the fact.
// Only the JSON shape and the ranges of numbers are checked here; accounts,
// enums and everything that depends on the pool are Apply's, so a Go
// caller and the replay get the same errors.
func decodeFact(v *jval) (Fact, error) {
	var f Fact
	if v.kind != jObject {
		return f, inputErr("", "must be an object, got %s", v.describe())
	}
	o := object{v, ""}
	typ, err := o.str("type")
	if err != nil {
		return f, err
	}
	f.Type = FactType(typ)
	fields, ok := factFields[f.Type]
	if !ok {
		return f, inputErr("type", "%s", checkFactType(f.Type))
	}
	if err := onlyFields(v, "", "a "+typ+" fact", append([]string{"type", "at"}, fields...)...); err != nil {
		return f, err
	}
	if f.At, err = o.time("at"); err != nil {
		return f, err
	}
	var n int64
	switch f.Type {
	case FactDeposit:
		if f.BlockIndex, err = o.uint("block_index"); err != nil {
			return f, err
		}
		if f.To, err = o.str("to"); err != nil {
			return f, err
		}
		if f.From, err = o.str("from"); err != nil {
			return f, err
		}
		if n, err = o.int("amount_e8s", 0, math.MaxInt64); err != nil {
			return f, err
		}
		f.AmountE8s = money.E8s(n)
	case FactProposalSubmitted, FactProposalDecided:
		if f.ProposalID, err = o.uint("proposal_id"); err != nil {
			return f, err
		}
		if f.Type == FactProposalDecided {
			var s string
			if s, err = o.str("status"); err != nil {
				return f, err
			}
			f.Status = ProposalStatus(s)
		}
	case FactNodeUp, FactNodeDown:
		if f.NodeID, err = o.str("node_id"); err != nil {
			return f, err
		}
	case FactVoteOpened:
		if f.VoteID, err = o.str("vote_id"); err != nil {
			return f, err
		}
		var s string
		if s, err = o.str("kind"); err != nil {
			return f, err
		}
		f.Kind = VoteKind(s)
		if f.Subject, err = o.str("subject"); err != nil {
			return f, err
		}
		if f.ClosesAt, err = o.time("closes_at"); err != nil {
			return f, err
		}
		if n, err = o.int("threshold_bps", 1, 10_000); err != nil {
			return f, err
		}
		f.ThresholdBps = money.Bps(n)
	case FactBallot:
		if f.VoteID, err = o.str("vote_id"); err != nil {
			return f, err
		}
		if f.Voter, err = o.str("voter"); err != nil {
			return f, err
		}
		var s string
		if s, err = o.str("choice"); err != nil {
			return f, err
		}
		f.Choice = Choice(s)
	}
	return f, nil
}

// onlyFields refuses the first key (in document order) that is not one of
// allowed.
func onlyFields(v *jval, prefix, what string, allowed ...string) error {
	for _, k := range v.keys {
		found := false
		for _, a := range allowed {
			found = found || k == a
		}
		if !found {
			return inputErr(prefix+keyName(k), "is not a field of %s (unknown fields are rejected; it has %s)", what, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// object reads the fields of one JSON object, naming them prefix+key.
type object struct {
	v      *jval
	prefix string
}

func (o object) field(key string) (*jval, error) {
	v := o.v.get(key)
	if v == nil {
		return nil, inputErr(o.prefix+key, "is required")
	}
	return v, nil
}

func (o object) str(key string) (string, error) {
	v, err := o.field(key)
	if err != nil {
		return "", err
	}
	if v.kind != jString {
		return "", inputErr(o.prefix+key, "must be a string, got %s", v.describe())
	}
	return v.s, nil
}

func (o object) time(key string) (Time, error) {
	s, err := o.str(key)
	if err != nil {
		return Time{}, err
	}
	t, err := ParseTime(s)
	if err != nil {
		return Time{}, inputErr(o.prefix+key, "%s", err)
	}
	return t, nil
}

// integerText returns a number's text if it is written as an integer. The
// contract's numbers are integers: "1.0" and "1e8" are refused, because
// accepting float notation invites producers that compute money in floats.
func (o object) integerText(key string) (string, error) {
	v, err := o.field(key)
	if err != nil {
		return "", err
	}
	if v.kind != jNumber {
		return "", inputErr(o.prefix+key, "must be an integer, got %s", v.describe())
	}
	if strings.ContainsAny(v.s, ".eE") {
		return "", inputErr(o.prefix+key, "must be an integer (no fraction or exponent), got %s", v.describe())
	}
	return v.s, nil
}

// int reads an integer in min..max (max is math.MaxInt64 for amounts).
func (o object) int(key string, min, max int64) (int64, error) {
	s, err := o.integerText(key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	outOfRange := err != nil || n < min || n > max
	if !outOfRange {
		return n, nil
	}
	place, shown := o.prefix+key, (&jval{kind: jNumber, s: s}).describe()
	switch {
	case min == 1 && max == math.MaxInt64 && (strings.HasPrefix(s, "-") || n < min):
		return 0, inputErr(place, "must be > 0, got %s", shown)
	case max == math.MaxInt64 && (strings.HasPrefix(s, "-") || n < min):
		return 0, inputErr(place, "must be >= %d, got %s", min, shown)
	case max == math.MaxInt64:
		return 0, inputErr(place, "must be <= %d, got %s", max, shown)
	}
	return 0, inputErr(place, "must be between %d and %d, got %s", min, max, shown)
}

// uint reads a non-negative integer up to 2^64-1 (block indices and NNS
// proposal ids are u64).
func (o object) uint(key string) (uint64, error) {
	s, err := o.integerText(key)
	if err != nil {
		return 0, err
	}
	place, shown := o.prefix+key, (&jval{kind: jNumber, s: s}).describe()
	if strings.HasPrefix(s, "-") {
		if strings.Trim(s, "-0") == "" {
			return 0, nil // -0 is 0
		}
		return 0, inputErr(place, "must be >= 0, got %s", shown)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, inputErr(place, "must be <= %d, got %s", uint64(math.MaxUint64), shown)
	}
	return n, nil
}

// keyName is a key as a place shows it: the empty key is written "".
func keyName(k string) string {
	if k == "" {
		return `""`
	}
	return k
}
