package allocation

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/schemas"
)

// This file is the JSON side of the `nodeshare allocate` contract
// (docs/allocation-rules.md "The nodeshare allocate contract"), shared by the CLI and
// any service that accepts the same document.

// MaxInputBytes bounds what DecodePoolPeriodJSON reads (1 GiB: a 1M-sponsor
// pool is about 150 MB of JSON).
const MaxInputBytes = 1 << 30

// wireCommon are the fields of the allocate input every rules version
// has; wirePeriod (v1) adds "hoster", wirePeriodV2 "hosters" and the
// period's bounds.
type wireCommon struct {
	PoolID          json.RawMessage `json:"pool_id"`
	Period          json.RawMessage `json:"period"`
	GrossE8s        json.RawMessage `json:"gross_e8s"`
	Rate            json.RawMessage `json:"xdr_permyriad_per_icp"`
	DAOFeeBps       json.RawMessage `json:"dao_fee_bps"`
	WhalePremiumBps json.RawMessage `json:"whale_premium_bps"`
	LedgerFeeE8s    json.RawMessage `json:"ledger_fee_e8s"`
	MinPayoutE8s    json.RawMessage `json:"min_payout_e8s"`
	Contributions   json.RawMessage `json:"contributions"`
	CarryIn         json.RawMessage `json:"carry_in"`
	Proposal        json.RawMessage `json:"proposal"`
}

type wirePeriod struct {
	wireCommon
	Hoster json.RawMessage `json:"hoster"`
}

// decodeCommon reads w into in, field by field in the document's order:
// pool_id, period, then afterPeriod (v2's bounds), gross_e8s,
// xdr_permyriad_per_icp, then hoster (the version's hoster field), the
// fees and the lists. The first error is returned, naming its field.
func decodeCommon(w *wireCommon, in *PoolPeriod, afterPeriod, hoster func() error) error {
	var err error
	if in.PoolID, err = reqString(w.PoolID, "", "pool_id"); err != nil {
		return err
	}
	if in.Period, err = reqString(w.Period, "", "period"); err != nil {
		return err
	}
	if afterPeriod != nil {
		if err := afterPeriod(); err != nil {
			return err
		}
	}
	var v int64
	if v, err = reqInt(w.GrossE8s, "", "gross_e8s"); err != nil {
		return err
	}
	in.GrossE8s = money.E8s(v)
	if v, err = reqInt(w.Rate, "", "xdr_permyriad_per_icp"); err != nil {
		return err
	}
	in.RateXDRPermyriadPerICP = money.XDRPermyriadPerICP(v)
	if err := hoster(); err != nil {
		return err
	}
	if v, err = reqInt(w.DAOFeeBps, "", "dao_fee_bps"); err != nil {
		return err
	}
	in.DAOFeeBps = money.Bps(v)
	if v, err = reqInt(w.WhalePremiumBps, "", "whale_premium_bps"); err != nil {
		return err
	}
	in.WhalePremiumBps = money.Bps(v)
	if v, err = reqInt(w.LedgerFeeE8s, "", "ledger_fee_e8s"); err != nil {
		return err
	}
	in.LedgerFeeE8s = money.E8s(v)
	if v, err = reqInt(w.MinPayoutE8s, "", "min_payout_e8s"); err != nil {
		return err
	}
	in.MinPayoutE8s = money.E8s(v)
	if in.Contributions, err = decodeContributions(w.Contributions); err != nil {
		return err
	}
	if in.CarryIn, err = decodeCarryIn(w.CarryIn); err != nil {
		return err
	}
	in.Proposal, err = decodeProposal(w.Proposal)
	return err
}

type wireHoster struct {
	Account           json.RawMessage `json:"account"`
	FixedXDRPermyriad json.RawMessage `json:"fixed_xdr_permyriad"`
	Bps               json.RawMessage `json:"bps"`
	CarryInE8s        json.RawMessage `json:"carry_in_e8s"`
}

type wireContribution struct {
	ID         json.RawMessage `json:"id"`
	Sponsor    json.RawMessage `json:"sponsor"`
	AmountE8s  json.RawMessage `json:"amount_e8s"`
	At         json.RawMessage `json:"at"`
	From       json.RawMessage `json:"from"`
	BlockIndex json.RawMessage `json:"block_index"`
}

type wireProposal struct {
	Status   json.RawMessage `json:"status"`
	SlashBps json.RawMessage `json:"slash_bps"`
}

// DecodePoolPeriodJSON reads one allocate input document strictly: unknown
// or repeated keys, trailing data, invalid UTF-8, missing required fields,
// and any amount that is not a plain non-negative JSON integer up to
// 2^63-1 are rejected with an *InputError naming the field. Semantic checks
// (bps ranges, rate, duplicate ids, empty stake) happen in Allocate, so a
// Go caller gets the same errors; DecodePoolPeriodJSON runs the cheap ones
// early as well.
func DecodePoolPeriodJSON(r io.Reader) (PoolPeriod, error) {
	data, err := readInput(r)
	if err != nil {
		return PoolPeriod{}, err
	}
	return decodePoolPeriod(data)
}

// readInput reads one allocate input document, at most MaxInputBytes (v1
// and v2 alike).
func readInput(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading allocation input: %w", err)
	}
	if len(data) > MaxInputBytes {
		return nil, inputErr("", "input", "is larger than %d bytes", MaxInputBytes)
	}
	return data, nil
}

// checkDocument checks a whole document as v1 and v2 both do: valid
// UTF-8, no repeated key.
func checkDocument(data []byte) error {
	if !utf8.Valid(data) {
		return inputErr("", "input", "is not valid UTF-8")
	}
	return checkDuplicateKeys(data)
}

func decodePoolPeriod(data []byte) (PoolPeriod, error) {
	if err := checkDocument(data); err != nil {
		return PoolPeriod{}, err
	}
	var w wirePeriod
	if err := strictUnmarshal(data, "", &w); err != nil {
		return PoolPeriod{}, err
	}
	var in PoolPeriod
	if err := decodeCommon(&w.wireCommon, &in, nil, func() (err error) {
		in.Hoster, err = decodeHoster(w.Hoster)
		return err
	}); err != nil {
		return PoolPeriod{}, err
	}
	if err := validatePeriodScalars(in); err != nil {
		return PoolPeriod{}, err
	}
	return in, nil
}

func decodeHoster(raw json.RawMessage) (HosterTerms, error) {
	if err := reqObject(raw, "", "hoster"); err != nil {
		return HosterTerms{}, err
	}
	var w wireHoster
	if err := strictUnmarshal(raw, "hoster", &w); err != nil {
		return HosterTerms{}, err
	}
	var h HosterTerms
	var err error
	var v int64
	if h.Account, err = reqString(w.Account, "hoster", "account"); err != nil {
		return h, err
	}
	if v, err = reqInt(w.FixedXDRPermyriad, "hoster", "fixed_xdr_permyriad"); err != nil {
		return h, err
	}
	h.FixedXDRPermyriad = money.XDRPermyriad(v)
	if v, err = reqInt(w.Bps, "hoster", "bps"); err != nil {
		return h, err
	}
	h.FeeBps = money.Bps(v)
	if w.CarryInE8s != nil {
		if v, err = reqInt(w.CarryInE8s, "hoster", "carry_in_e8s"); err != nil {
			return h, err
		}
		h.CarryInE8s = money.E8s(v)
	}
	return h, nil
}

func decodeContributions(raw json.RawMessage) ([]Contribution, error) {
	if raw == nil {
		return nil, inputErr("", "contributions", "is required")
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '[' {
		return nil, inputErr("", "contributions", "must be an array, got %s", snippet(raw))
	}
	// Fast path: one strict decoder for the whole array. If it fails (an
	// unknown field, an element that is not an object), the slow path below
	// decodes element by element to name the index in the message.
	var ws []wireContribution
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ws); err != nil {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, inputErr("", "contributions", "must be an array, got %s", snippet(raw))
		}
		ws = make([]wireContribution, len(items))
		for i, item := range items {
			path := "contributions[" + strconv.Itoa(i) + "]"
			if err := reqObject(item, "", path); err != nil {
				return nil, err
			}
			if err := strictUnmarshal(item, path, &ws[i]); err != nil {
				return nil, err
			}
		}
		return nil, inputErr("", "contributions", "could not be decoded: %v", err)
	}
	out := make([]Contribution, len(ws))
	for i := range ws {
		w := &ws[i]
		path := "contributions[" + strconv.Itoa(i) + "]"
		c := &out[i]
		var err error
		if c.ID, err = reqString(w.ID, path, "id"); err != nil {
			return nil, err
		}
		path = contributionPath(i, c.ID)
		if c.Sponsor, err = reqString(w.Sponsor, path, "sponsor"); err != nil {
			return nil, err
		}
		v, err := reqInt(w.AmountE8s, path, "amount_e8s")
		if err != nil {
			return nil, err
		}
		c.AmountE8s = money.E8s(v)
		at, err := reqString(w.At, path, "at")
		if err != nil {
			return nil, err
		}
		if c.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return nil, inputErr(path, "at", "must be an RFC 3339 time such as \"2026-01-02T00:00:00Z\", got %q", at)
		}
		if w.From != nil {
			if c.From, err = reqString(w.From, path, "from"); err != nil {
				return nil, err
			}
		}
		if w.BlockIndex != nil {
			if v, err = reqInt(w.BlockIndex, path, "block_index"); err != nil {
				return nil, err
			}
			c.BlockIndex, c.HasBlockIndex = uint64(v), true
		}
	}
	return out, nil
}

func decodeCarryIn(raw json.RawMessage) (map[string]money.E8s, error) {
	if raw == nil {
		return nil, nil
	}
	if err := reqObject(raw, "", "carry_in"); err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, inputErr("", "carry_in", "must be an object of account to e8s, got %s", snippet(raw))
	}
	out := make(map[string]money.E8s, len(m))
	for acct, rv := range m {
		v, err := reqInt(rv, "", carryField(acct))
		if err != nil {
			return nil, err
		}
		out[acct] = money.E8s(v)
	}
	return out, nil
}

func decodeProposal(raw json.RawMessage) (*Proposal, error) {
	if raw == nil {
		return nil, nil
	}
	if err := reqObject(raw, "", "proposal"); err != nil {
		return nil, err
	}
	var w wireProposal
	if err := strictUnmarshal(raw, "proposal", &w); err != nil {
		return nil, err
	}
	status, err := reqString(w.Status, "proposal", "status")
	if err != nil {
		return nil, err
	}
	p := &Proposal{Status: ProposalStatus(status)}
	if p.Status == ProposalRejected && w.SlashBps == nil {
		return nil, inputErr("proposal", "slash_bps", "is required when status is %q", ProposalRejected)
	}
	if w.SlashBps != nil {
		v, err := reqInt(w.SlashBps, "proposal", "slash_bps")
		if err != nil {
			return nil, err
		}
		p.SlashBps = money.Bps(v)
	}
	return p, nil
}

// strictUnmarshal decodes one object, rejecting unknown fields and trailing
// data, and turns encoding/json's messages into InputErrors with a path.
func strictUnmarshal(data []byte, path string, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return inputErr(path, strings.Trim(name, `"`), "is not a field of the allocate contract (unknown fields are rejected)")
		}
		field := path
		if field == "" {
			field = "input"
			path = ""
		} else {
			path = ""
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			l, c := schemas.JSONPosition(data, se.Offset-1)
			return inputErr(path, field, "is not valid JSON at line %d, column %d (byte %d): %v", l, c, se.Offset, se)
		}
		return inputErr(path, field, "must be a JSON object: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		f := path
		if f == "" {
			f = "input"
		}
		return inputErr("", f, "has data after the JSON object")
	}
	return nil
}

func reqObject(raw json.RawMessage, path, field string) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return inputErr(path, field, "is required")
	}
	if t[0] != '{' {
		return inputErr(path, field, "must be an object, got %s", snippet(t))
	}
	return nil
}

func reqString(raw json.RawMessage, path, field string) (string, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "", inputErr(path, field, "is required")
	}
	if t[0] != '"' {
		return "", inputErr(path, field, "must be a string, got %s", snippet(t))
	}
	var s string
	if err := json.Unmarshal(t, &s); err != nil {
		return "", inputErr(path, field, "must be a string, got %s", snippet(t))
	}
	if s == "" {
		return "", inputErr(path, field, "must not be empty")
	}
	return s, nil
}

// reqInt accepts only a plain JSON integer 0..2^63-1 written as digits: no
// sign, fraction, exponent, string or null. "1.0" and "1e8" are rejected
// because the contract says amounts are integers, and accepting float
// notation invites producers that compute money in floats.
func reqInt(raw json.RawMessage, path, field string) (int64, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return 0, inputErr(path, field, "is required")
	}
	s := string(t)
	switch {
	case t[0] == '-':
		if isJSONNumber(s) {
			return 0, inputErr(path, field, "must be >= 0, got %s", s)
		}
		return 0, inputErr(path, field, "must be a non-negative integer, got %s", snippet(t))
	case t[0] < '0' || t[0] > '9':
		return 0, inputErr(path, field, "must be a non-negative integer, got %s", snippet(t))
	case strings.ContainsAny(s, ".eE"):
		return 0, inputErr(path, field, "must be an integer (no fraction or exponent), got %s", s)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, inputErr(path, field, "must be <= %d, got %s", int64(money.MaxE8s), s)
		}
		return 0, inputErr(path, field, "must be a non-negative integer, got %s", snippet(t))
	}
	return v, nil
}

func isJSONNumber(s string) bool {
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil && s != "" && s[0] != '"'
}

func snippet(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// checkDuplicateKeys rejects an object that repeats a key: encoding/json
// would silently keep the last one, so {"amount_e8s":1,"amount_e8s":100}
// would pay on a number the producer may not have meant. The document is
// first checked with json.Valid, then scanned byte by byte (strings skipped
// with their escapes, keys compared after unescaping), reusing one frame
// per nesting level, so a 1M-contribution document costs no allocation per
// object.
func checkDuplicateKeys(data []byte) error {
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v) // for the message with the offset
		return inputErr("", "input", "is not valid JSON: %v", err)
	}
	type frame struct {
		obj       bool
		expectKey bool
		keys      [][]byte
		set       map[string]struct{} // used once an object has many keys
		index     int                 // in an array: the current element
		lastKey   []byte              // in an object: the current key
	}
	var stack []frame
	depth := 0
	// pathOf names frame d the way the error messages do, only when needed.
	pathOf := func(d int) string {
		path := ""
		for j := 0; j < d; j++ {
			if stack[j].obj {
				path = joinPath(path, string(stack[j].lastKey))
			} else {
				path += "[" + strconv.Itoa(stack[j].index) + "]"
			}
		}
		return path
	}
	push := func(obj bool) {
		if depth == len(stack) {
			stack = append(stack, frame{})
		}
		f := &stack[depth]
		*f = frame{obj: obj, expectKey: obj, keys: f.keys[:0]}
		depth++
	}
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{':
			push(true)
		case '[':
			push(false)
		case '}', ']':
			depth--
		case ',':
			if f := &stack[depth-1]; f.obj {
				f.expectKey = true
			} else {
				f.index++
			}
		case '"':
			start := i + 1
			escaped := false
			for i++; data[i] != '"'; i++ {
				if data[i] == '\\' {
					escaped = true
					i++
				}
			}
			if depth == 0 {
				continue // a top-level string: not an object at all
			}
			f := &stack[depth-1]
			if !f.obj || !f.expectKey {
				continue
			}
			key := data[start:i]
			if escaped {
				var k string
				if err := json.Unmarshal(data[start-1:i+1], &k); err != nil {
					return inputErr(pathOf(depth-1), "input", "has a key that is not a valid string: %v", err)
				}
				key = []byte(k)
			}
			dup := false
			if f.set != nil {
				_, dup = f.set[string(key)]
				f.set[string(key)] = struct{}{}
			} else {
				for _, k := range f.keys {
					if bytes.Equal(k, key) {
						dup = true
						break
					}
				}
				f.keys = append(f.keys, key)
				if len(f.keys) > 16 {
					f.set = make(map[string]struct{}, 64)
					for _, k := range f.keys {
						f.set[string(k)] = struct{}{}
					}
				}
			}
			if dup {
				return inputErr(pathOf(depth-1), string(key), "appears twice in one object (duplicate keys are rejected)")
			}
			f.lastKey = key
			f.expectKey = false
		}
	}
	return nil
}

func joinPath(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

// EncodeResultJSON writes r as the allocate contract's output object
// (docs/allocation-rules.md): the contract's fields in the contract's order, shares
// sorted by sponsor, every amount an integer, whale null when no premium
// applied, then manifest_sha256. A v2 result has "hosters" (one object per
// engagement, in order of from) where v1 has "hoster". When the input carried a proposal, a
// "proposal" object {status, slash_bps, slashed_e8s} is added before
// manifest_sha256; without one the output is exactly the contract's.
func EncodeResultJSON(w io.Writer, r PoolResult) error {
	sum, err := ManifestSHA256(r)
	if err != nil {
		return err
	}
	b := bufio.NewWriterSize(w, 64<<10)
	e := &enc{w: b}
	e.raw("{\n  \"pool_id\": ")
	e.str(r.PoolID)
	e.raw(",\n  \"period\": ")
	e.str(r.Period)
	e.raw(",\n  \"rules_version\": ")
	e.str(r.RulesVersion)
	e.raw(",\n  \"gross_e8s\": ")
	e.e8s(r.GrossE8s)
	e.raw(",\n  \"hoster_fee_e8s\": ")
	e.e8s(r.HosterFeeE8s)
	e.raw(",\n  \"dao_fee_e8s\": ")
	e.e8s(r.DAOFeeE8s)
	e.raw(",\n  \"distributable_e8s\": ")
	e.e8s(r.DistributableE8s)
	e.raw(",\n  \"whale\": ")
	e.strOrNull(r.Whale)
	if r.HasEngagements() {
		e.outputHosters(r.Hosters)
	} else {
		e.raw(",\n  \"hoster\": {\"owed_e8s\": ")
		e.e8s(r.Hoster.OwedE8s)
		e.raw(", \"transfer_e8s\": ")
		e.e8s(r.Hoster.TransferE8s)
		e.raw(", \"fee_e8s\": ")
		e.e8s(r.Hoster.FeeE8s)
		e.raw(", \"carry_out_e8s\": ")
		e.e8s(r.Hoster.CarryOutE8s)
		e.raw("}")
	}
	e.raw(",\n  \"shares\": [")
	for i := range r.Shares {
		s := &r.Shares[i]
		if i > 0 {
			e.raw(",")
		}
		e.raw("\n    {\"sponsor\": ")
		e.str(s.Sponsor)
		e.raw(", \"stake_e8s\": ")
		e.e8s(s.StakeE8s)
		e.raw(", \"share_e8s\": ")
		e.e8s(s.ShareE8s)
		e.raw(", \"carry_in_e8s\": ")
		e.e8s(s.CarryInE8s)
		e.raw(", \"transfer_e8s\": ")
		e.e8s(s.TransferE8s)
		e.raw(", \"fee_e8s\": ")
		e.e8s(s.FeeE8s)
		e.raw(", \"carry_out_e8s\": ")
		e.e8s(s.CarryOutE8s)
		e.raw("}")
	}
	if len(r.Shares) > 0 {
		e.raw("\n  ")
	}
	e.raw("],\n")
	if p := r.Proposal; p != nil {
		e.raw("  \"proposal\": {\"status\": ")
		e.str(string(p.Status))
		e.raw(", \"slash_bps\": ")
		e.int(int64(p.SlashBps))
		e.raw(", \"slashed_e8s\": ")
		e.e8s(p.SlashedE8s)
		e.raw("},\n")
	}
	e.raw("  \"manifest_sha256\": ")
	e.str(sum)
	e.raw("\n}\n")
	if e.err != nil {
		return e.err
	}
	return b.Flush()
}

// EncodePoolPeriodJSON writes in as an allocate input document (the inverse
// of DecodePoolPeriodJSON: decoding the output gives an equal PoolPeriod).
// Contributions are written in the order given; carry_in keys sorted.
func EncodePoolPeriodJSON(w io.Writer, in PoolPeriod) error {
	b := bufio.NewWriterSize(w, 64<<10)
	e := &enc{w: b}
	e.raw("{\n  \"pool_id\": ")
	e.str(in.PoolID)
	e.raw(", \"period\": ")
	e.str(in.Period)
	e.raw(",\n  \"gross_e8s\": ")
	e.e8s(in.GrossE8s)
	e.raw(", \"xdr_permyriad_per_icp\": ")
	e.int(int64(in.RateXDRPermyriadPerICP))
	e.raw(",\n  \"hoster\": {\"account\": ")
	e.str(in.Hoster.Account)
	e.raw(", \"fixed_xdr_permyriad\": ")
	e.int(int64(in.Hoster.FixedXDRPermyriad))
	e.raw(", \"bps\": ")
	e.int(int64(in.Hoster.FeeBps))
	e.raw(", \"carry_in_e8s\": ")
	e.e8s(in.Hoster.CarryInE8s)
	e.raw("},\n  \"dao_fee_bps\": ")
	e.int(int64(in.DAOFeeBps))
	e.raw(", \"whale_premium_bps\": ")
	e.int(int64(in.WhalePremiumBps))
	e.raw(",\n  \"ledger_fee_e8s\": ")
	e.e8s(in.LedgerFeeE8s)
	e.raw(", \"min_payout_e8s\": ")
	e.e8s(in.MinPayoutE8s)
	e.inputTail(&in)
	e.raw("\n}\n")
	if e.err != nil {
		return e.err
	}
	return b.Flush()
}

// inputTail writes an input document's members from "contributions" to
// "proposal" (the same in v1's and v2's documents).
func (e *enc) inputTail(in *PoolPeriod) {
	e.raw(",\n  \"contributions\": [")
	for i := range in.Contributions {
		c := &in.Contributions[i]
		if i > 0 {
			e.raw(",")
		}
		e.raw("\n    {\"id\": ")
		e.str(c.ID)
		e.raw(", \"sponsor\": ")
		e.str(c.Sponsor)
		e.raw(", \"amount_e8s\": ")
		e.e8s(c.AmountE8s)
		e.raw(", \"at\": ")
		e.str(c.At.Format(time.RFC3339Nano))
		if c.From != "" {
			e.raw(", \"from\": ")
			e.str(c.From)
		}
		if c.HasBlockIndex {
			e.raw(", \"block_index\": ")
			e.uint(c.BlockIndex)
		}
		e.raw("}")
	}
	e.raw("\n  ],\n  \"carry_in\": {")
	keys := make([]string, 0, len(in.CarryIn))
	for k := range in.CarryIn {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			e.raw(", ")
		}
		e.str(k)
		e.raw(": ")
		e.e8s(in.CarryIn[k])
	}
	e.raw("}")
	if p := in.Proposal; p != nil {
		e.raw(",\n  \"proposal\": {\"status\": ")
		e.str(string(p.Status))
		e.raw(", \"slash_bps\": ")
		e.int(int64(p.SlashBps))
		e.raw("}")
	}
}
