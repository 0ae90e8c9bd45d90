// Package statement is a sponsor's statement, pure: every period of every
// pool an account was entitled in, with its stake, share, whale premium or
// not, carry, the transfer with its block and its value in XDR and fiat,
// and year-to-date totals; signed by the DAO's statement key so that the
// sponsor can show it to anyone, and recomputable from the audit trail so
// that nobody has to take the DAO's word for it (docs/finance.md). The
// signature and its check are here; the key lives in Vault transit
// (cmd/nodeshare wires connectors/vault).
package statement

import (
	"bytes"
	"crypto/ed25519"
	"embed"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/nodeshare/nodeshare/pipeline/money"
	rep "github.com/nodeshare/nodeshare/pipeline/report"
)

// Version names this statement format; it is part of what is signed.
const Version = "nodeshare-statement-v1"

// Statement is one account's statement over a range of periods.
type Statement struct {
	Version  string `json:"version"`
	DAO      string `json:"dao"`
	Account  string `json:"account_id"`
	From     string `json:"from"`
	To       string `json:"to"`
	Currency string `json:"fiat_currency"`
	// Entries are sorted by period, pool and role.
	Entries []Entry `json:"entries"`
	Years   []Year  `json:"year_to_date"`
	// Signature is over the statement without it (Signed).
	Signature *Signature `json:"signature,omitempty"`
}

// Entry is what the account was owed and paid in one pool's period.
type Entry struct {
	Period       string  `json:"period"`
	PoolID       string  `json:"pool_id"`
	Role         string  `json:"role"`
	RulesVersion string  `json:"rules_version"`
	StakeE8s     int64   `json:"stake_e8s"`
	ShareE8s     int64   `json:"share_e8s"`
	Whale        bool    `json:"whale_premium"`
	CarryInE8s   int64   `json:"carry_in_e8s"`
	CarryOutE8s  int64   `json:"carry_out_e8s"`
	OwedE8s      int64   `json:"owed_e8s"`
	TransferE8s  int64   `json:"transfer_e8s"`
	FeeE8s       int64   `json:"fee_e8s"`
	IntentID     string  `json:"intent_id"`
	Status       string  `json:"status"`
	BlockIndex   *uint64 `json:"block_index"`
	BlockTime    string  `json:"block_time"`
	ValueXDR     string  `json:"value_xdr"`
	ValueFiat    string  `json:"value_fiat"`
	Note         string  `json:"note"`
}

// Year is a calendar year's totals (UTC, by the period's day): what was
// received, and its value where every transfer of the year has one.
type Year struct {
	Year        int    `json:"year"`
	TransferE8s int64  `json:"transfer_e8s"`
	FeeE8s      int64  `json:"fee_e8s"`
	ValueXDR    string `json:"value_xdr"`
	ValueFiat   string `json:"value_fiat"`
	Unvalued    int    `json:"transfers_without_value"`
}

// Signature is an Ed25519 signature by the statement key.
type Signature struct {
	Algorithm string `json:"algorithm"` // "ed25519"
	Key       string `json:"key"`       // the key's name (Vault transit)
	PublicKey string `json:"public_key_hex"`
	Value     string `json:"signature_hex"`
}

// FromReport is account's statement from report lines: the lines paying
// account (its account identifier) in periods within [from, to] (a period
// is compared as its day; "" is open), with the whale of each pool period.
func FromReport(r rep.Report, account, from, to string) Statement {
	st := Statement{Version: Version, DAO: r.DAO, Account: account, From: from, To: to, Currency: r.Currency, Entries: []Entry{}, Years: []Year{}}
	for _, p := range r.Periods {
		if (from != "" && p.Period < from) || (to != "" && p.Period > to) {
			continue
		}
		whales := map[string]string{}
		for _, pl := range p.Pools {
			whales[pl.PoolID] = pl.Whale
		}
		for _, l := range p.Lines {
			if l.Recipient.ID != account {
				continue
			}
			st.Entries = append(st.Entries, Entry{Period: l.Period, PoolID: l.PoolID, Role: l.Role, RulesVersion: l.RulesVersion,
				StakeE8s: l.StakeE8s, ShareE8s: l.ShareE8s, Whale: whales[l.PoolID] == account || whales[l.PoolID] == l.Recipient.ICRC1,
				CarryInE8s: l.CarryInE8s, CarryOutE8s: l.CarryOutE8s, OwedE8s: l.OwedE8s, TransferE8s: l.TransferE8s, FeeE8s: l.FeeE8s,
				IntentID: l.IntentID, Status: l.Status, BlockIndex: l.BlockIndex, BlockTime: l.BlockTime, ValueXDR: l.ValueXDR,
				ValueFiat: l.ValueFiat, Note: l.Note})
		}
	}
	sort.Slice(st.Entries, func(i, j int) bool {
		a, b := st.Entries[i], st.Entries[j]
		if a.Period != b.Period {
			return a.Period < b.Period
		}
		if a.PoolID != b.PoolID {
			return a.PoolID < b.PoolID
		}
		return a.Role < b.Role
	})
	st.Years = years(st.Entries)
	return st
}

// years totals the entries per calendar year of their period's day (a
// lifecycle period, which is no day, counts in the year of its block).
func years(es []Entry) []Year {
	by := map[int]*Year{}
	xdr, fiat := map[int]int64{}, map[int]int64{}
	for _, e := range es {
		y := yearOf(e)
		if by[y] == nil {
			by[y] = &Year{Year: y}
		}
		t := by[y]
		t.TransferE8s += e.TransferE8s
		t.FeeE8s += e.FeeE8s
		x, okX := parseFixed(e.ValueXDR, 8)
		f, okF := parseFixed(e.ValueFiat, 6)
		if !okX || !okF {
			t.Unvalued++
		}
		xdr[y] += x
		fiat[y] += f
	}
	out := make([]Year, 0, len(by))
	for y, t := range by {
		if t.Unvalued == 0 {
			t.ValueXDR = money.FormatICP(money.E8s(xdr[y]))
			t.ValueFiat = formatFixed(fiat[y], 6)
		}
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Year < out[j].Year })
	return out
}

func yearOf(e Entry) int {
	for _, s := range []string{e.Period, e.BlockTime} {
		if len(s) >= 4 {
			if y, err := strconv.Atoi(s[:4]); err == nil {
				return y
			}
		}
	}
	return 0
}

// parseFixed reads a decimal with at most places decimals as an integer
// of 10^-places units.
func parseFixed(s string, places int) (int64, bool) {
	if s == "" {
		return 0, false
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > places {
		return 0, false
	}
	frac += strings.Repeat("0", places-len(frac))
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	return v, err == nil
}

func formatFixed(v int64, places int) string {
	unit := int64(1)
	for range places {
		unit *= 10
	}
	return fmt.Sprintf("%d.%0*d", v/unit, places, v%unit)
}

// SignedBytes are the bytes a statement's signature covers: a domain
// line, then the statement's JSON without its signature.
func SignedBytes(st Statement) ([]byte, error) {
	st.Signature = nil
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return append([]byte(Version+" signed statement\n"), b...), nil
}

// Sign signs st with sign (an Ed25519 signer: the statement key in Vault
// transit), naming the key and its public key.
func Sign(st Statement, key string, publicKey ed25519.PublicKey, sign func([]byte) ([]byte, error)) (Statement, error) {
	msg, err := SignedBytes(st)
	if err != nil {
		return st, err
	}
	sig, err := sign(msg)
	if err != nil {
		return st, fmt.Errorf("statement: sign with %s: %w", key, err)
	}
	st.Signature = &Signature{Algorithm: "ed25519", Key: key, PublicKey: hex.EncodeToString(publicKey), Value: hex.EncodeToString(sig)}
	if err := Verify(st, publicKey); err != nil {
		return st, fmt.Errorf("statement: the key %s signed, but its signature does not verify: %w", key, err)
	}
	return st, nil
}

// ErrUnsigned is a statement without a signature.
var ErrUnsigned = errors.New("statement: not signed")

// Verify checks st's signature against trusted, the statement key's
// public key (the DAO publishes it; the signature's own public key must
// be that key).
func Verify(st Statement, trusted ed25519.PublicKey) error {
	if st.Signature == nil {
		return ErrUnsigned
	}
	s := st.Signature
	if s.Algorithm != "ed25519" {
		return fmt.Errorf("statement: signature algorithm %q, want ed25519", s.Algorithm)
	}
	if s.PublicKey != hex.EncodeToString(trusted) {
		return fmt.Errorf("statement: signed by public key %s, not the statement key %x", s.PublicKey, []byte(trusted))
	}
	sig, err := hex.DecodeString(s.Value)
	if err != nil {
		return fmt.Errorf("statement: signature_hex: %w", err)
	}
	msg, err := SignedBytes(st)
	if err != nil {
		return err
	}
	if !ed25519.Verify(trusted, msg, sig) {
		return errors.New("statement: the signature does not match the statement (altered, or signed by another key)")
	}
	return nil
}

// Equal reports whether two statements say the same (signatures aside).
func Equal(a, b Statement) bool {
	x, err1 := SignedBytes(a)
	y, err2 := SignedBytes(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// WriteJSON writes st as indented JSON (the signed form).
func WriteJSON(w io.Writer, st Statement) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}

// ReadJSON reads a statement, strictly.
func ReadJSON(r io.Reader) (Statement, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var st Statement
	if err := dec.Decode(&st); err != nil {
		return st, fmt.Errorf("statement: %w", err)
	}
	if st.Version != Version {
		return st, fmt.Errorf("statement: version %q, want %q", st.Version, Version)
	}
	return st, nil
}

// WriteCSV writes the entries, then one line per year's totals.
func WriteCSV(w io.Writer, st Statement) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"record", "dao", "account_id", "period", "pool_id", "role", "rules_version", "stake_e8s", "share_e8s", "whale_premium",
		"carry_in_e8s", "carry_out_e8s", "owed_e8s", "transfer_e8s", "fee_e8s", "intent_id", "status", "block_index", "block_time",
		"value_xdr", "value_fiat", "fiat_currency", "note", "year", "transfers_without_value"})
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, e := range st.Entries {
		block := ""
		if e.BlockIndex != nil {
			block = strconv.FormatUint(*e.BlockIndex, 10)
		}
		_ = cw.Write([]string{"entry", st.DAO, st.Account, e.Period, e.PoolID, e.Role, e.RulesVersion, i64(e.StakeE8s), i64(e.ShareE8s),
			strconv.FormatBool(e.Whale), i64(e.CarryInE8s), i64(e.CarryOutE8s), i64(e.OwedE8s), i64(e.TransferE8s), i64(e.FeeE8s),
			e.IntentID, e.Status, block, e.BlockTime, e.ValueXDR, e.ValueFiat, st.Currency, e.Note, "", ""})
	}
	for _, y := range st.Years {
		_ = cw.Write([]string{"year", st.DAO, st.Account, "", "", "", "", "", "", "", "", "", "", i64(y.TransferE8s), i64(y.FeeE8s),
			"", "", "", "", y.ValueXDR, y.ValueFiat, st.Currency, "", strconv.Itoa(y.Year), strconv.Itoa(y.Unvalued)})
	}
	cw.Flush()
	return cw.Error()
}

//go:embed statement.html.tmpl
var templates embed.FS

var page = template.Must(template.New("statement.html.tmpl").Funcs(template.FuncMap{
	"icp":   func(v int64) string { return money.FormatICP(money.E8s(v)) },
	"deref": func(v *uint64) uint64 { return *v },
}).ParseFS(templates, "statement.html.tmpl"))

// WriteHTML writes st as a self-contained page (every value escaped).
func WriteHTML(w io.Writer, st Statement) error { return page.Execute(w, st) }
