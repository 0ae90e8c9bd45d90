package allocation

import (
	"errors"
	"strings"
	"testing"
)

const baseInput = `{
  "pool_id": "pool-a", "period": "2026-07",
  "gross_e8s": 150000000000, "xdr_permyriad_per_icp": 35000,
  "hoster": {"account": "hoster-acct", "fixed_xdr_permyriad": 0, "bps": 1000, "carry_in_e8s": 0},
  "dao_fee_bps": 200, "whale_premium_bps": 3500,
  "ledger_fee_e8s": 10000, "min_payout_e8s": 0,
  "contributions": [
    {"id": "c1", "sponsor": "whale", "amount_e8s": 3000000000, "at": "2026-01-02T00:00:00Z"},
    {"id": "c2", "sponsor": "s1", "amount_e8s": 100000000, "at": "2026-01-03T00:00:00Z"},
    {"id": "c17", "sponsor": "s2", "amount_e8s": 50000000, "at": "2026-01-04T00:00:00Z"}
  ],
  "carry_in": {"s1": 5000}
}`

// TestInvalidInputs: every invalid input of docs/allocation-rules.md "Invalid input"
// (and the contract's strictness) is rejected, and the message names the
// field and, for a contribution, its index and id, and the value.
func TestInvalidInputs(t *testing.T) {
	cases := []struct {
		name, old, new string
		want           []string // substrings of the error, all required
	}{
		{"negative amount", `"amount_e8s": 50000000`, `"amount_e8s": -5`, []string{`contributions[2] (id "c17"): amount_e8s must be >= 0, got -5`}},
		{"fractional amount", `"amount_e8s": 50000000`, `"amount_e8s": 1.5`, []string{`contributions[2] (id "c17"): amount_e8s`, "1.5"}},
		{"integral fraction", `"amount_e8s": 50000000`, `"amount_e8s": 1.0`, []string{`amount_e8s`, "1.0"}},
		{"exponent amount", `"amount_e8s": 50000000`, `"amount_e8s": 5e7`, []string{`amount_e8s`, "5e7"}},
		{"string amount", `"amount_e8s": 50000000`, `"amount_e8s": "50000000"`, []string{`amount_e8s`, `"50000000"`}},
		{"null amount", `"amount_e8s": 50000000`, `"amount_e8s": null`, []string{`amount_e8s`, "null"}},
		{"amount above int64", `"amount_e8s": 50000000`, `"amount_e8s": 9223372036854775808`, []string{`amount_e8s must be <= 9223372036854775807, got 9223372036854775808`}},
		{"negative gross", `"gross_e8s": 150000000000`, `"gross_e8s": -1`, []string{"gross_e8s must be >= 0, got -1"}},
		{"fractional gross", `"gross_e8s": 150000000000`, `"gross_e8s": 0.5`, []string{"gross_e8s", "0.5"}},
		{"hoster bps above 10000", `"bps": 1000`, `"bps": 10001`, []string{"hoster: bps must be <= 10000, got 10001"}},
		{"dao bps above 10000", `"dao_fee_bps": 200`, `"dao_fee_bps": 10001`, []string{"dao_fee_bps must be <= 10000, got 10001"}},
		{"premium 10000", `"whale_premium_bps": 3500`, `"whale_premium_bps": 10000`, []string{"whale_premium_bps must be < 10000", "got 10000"}},
		{"premium above 10000", `"whale_premium_bps": 3500`, `"whale_premium_bps": 20000`, []string{"whale_premium_bps", "20000"}},
		{"rate zero", `"xdr_permyriad_per_icp": 35000`, `"xdr_permyriad_per_icp": 0`, []string{"xdr_permyriad_per_icp must be > 0, got 0"}},
		{"negative fixed fee", `"fixed_xdr_permyriad": 0`, `"fixed_xdr_permyriad": -3`, []string{"hoster: fixed_xdr_permyriad must be >= 0, got -3"}},
		{"negative hoster carry", `"carry_in_e8s": 0`, `"carry_in_e8s": -2`, []string{"hoster: carry_in_e8s must be >= 0, got -2"}},
		{"negative ledger fee", `"ledger_fee_e8s": 10000`, `"ledger_fee_e8s": -1`, []string{"ledger_fee_e8s must be >= 0, got -1"}},
		{"negative min payout", `"min_payout_e8s": 0`, `"min_payout_e8s": -1`, []string{"min_payout_e8s must be >= 0, got -1"}},
		{"unknown top-level field", `"dao_fee_bps": 200`, `"dao_fee_bps": 200, "dao_fee_pct": 2`, []string{"dao_fee_pct", "unknown"}},
		{"unknown hoster field", `"bps": 1000`, `"bps": 1000, "vat": 1`, []string{"hoster: vat", "unknown"}},
		{"unknown contribution field", `"sponsor": "s2"`, `"sponsor": "s2", "memo": 1`, []string{"contributions[2]: memo", "unknown"}},
		{"duplicate contribution id", `"id": "c17"`, `"id": "c2"`, []string{`contributions[2] (id "c2"): id duplicates contributions[1]`}},
		{"malformed at", `"at": "2026-01-04T00:00:00Z"`, `"at": "2026-01-04 00:00"`, []string{`contributions[2] (id "c17"): at must be an RFC 3339 time`, `"2026-01-04 00:00"`}},
		{"missing at", `, "at": "2026-01-04T00:00:00Z"`, ``, []string{`contributions[2] (id "c17"): at is required`}},
		{"duplicate key", `"amount_e8s": 50000000`, `"amount_e8s": 1, "amount_e8s": 50000000`, []string{"contributions[2]: amount_e8s appears twice"}},
		{"negative carry", `{"s1": 5000}`, `{"s1": -7}`, []string{`carry_in["s1"] must be >= 0, got -7`}},
		{"carry for a stranger", `{"s1": 5000}`, `{"s1": 5000, "zz": 1}`, []string{`carry_in["zz"] has no contribution`}},
		{"missing required", `"ledger_fee_e8s": 10000,`, ``, []string{"ledger_fee_e8s is required"}},
		{"empty sponsor", `"sponsor": "s2"`, `"sponsor": ""`, []string{`contributions[2] (id "c17"): sponsor must not be empty`}},
		{"hoster not object", `"hoster": {"account": "hoster-acct", "fixed_xdr_permyriad": 0, "bps": 1000, "carry_in_e8s": 0}`, `"hoster": "h"`, []string{"hoster must be an object"}},
		{"trailing data", `"carry_in": {"s1": 5000}
}`, `"carry_in": {"s1": 5000}
} {}`, []string{"input"}},
		{"bad proposal status", `"carry_in"`, `"proposal": {"status": "vetoed"}, "carry_in"`, []string{`proposal: status must be "adopted" or "rejected", got "vetoed"`}},
		{"slash above 10000", `"carry_in"`, `"proposal": {"status": "rejected", "slash_bps": 10001}, "carry_in"`, []string{"proposal: slash_bps must be <= 10000, got 10001"}},
		{"rejected without slash", `"carry_in"`, `"proposal": {"status": "rejected"}, "carry_in"`, []string{"proposal: slash_bps is required"}},
		{"rejected with gross", `"carry_in"`, `"proposal": {"status": "rejected", "slash_bps": 500}, "carry_in"`, []string{"gross_e8s must be 0 for a rejected proposal", "got 150000000000"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(baseInput, c.old) {
				t.Fatalf("test bug: %q not in base input", c.old)
			}
			doc := strings.Replace(baseInput, c.old, c.new, 1)
			in, err := DecodePoolPeriodJSON(strings.NewReader(doc))
			if err == nil {
				_, err = Allocate("v1", in)
			}
			if err == nil {
				t.Fatalf("accepted:\n%s", doc)
			}
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("error is not ErrInvalidInput: %v", err)
			}
			var ie *InputError
			if !errors.As(err, &ie) || ie.Field == "" {
				t.Fatalf("error does not name a field: %#v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNoFundedStake(t *testing.T) {
	for name, cs := range map[string]string{
		"empty list":   `[]`,
		"all zero":     `[{"id": "c1", "sponsor": "a", "amount_e8s": 0, "at": "2026-01-02T00:00:00Z"}]`,
		"missing list": ``,
	} {
		old := `"contributions": [
    {"id": "c1", "sponsor": "whale", "amount_e8s": 3000000000, "at": "2026-01-02T00:00:00Z"},
    {"id": "c2", "sponsor": "s1", "amount_e8s": 100000000, "at": "2026-01-03T00:00:00Z"},
    {"id": "c17", "sponsor": "s2", "amount_e8s": 50000000, "at": "2026-01-04T00:00:00Z"}
  ],
  "carry_in": {"s1": 5000}`
		repl := `"contributions": ` + cs
		if cs == "" {
			repl = `"carry_in": {}`
		}
		doc := strings.Replace(baseInput, old, repl, 1)
		if doc == baseInput {
			t.Fatal("test bug: replacement missed")
		}
		in, err := DecodePoolPeriodJSON(strings.NewReader(doc))
		if err == nil {
			_, err = Allocate("v1", in)
		}
		if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "contributions") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidBoundaryBps(t *testing.T) {
	doc := strings.Replace(baseInput, `"bps": 1000`, `"bps": 10000`, 1)
	doc = strings.Replace(doc, `"dao_fee_bps": 200`, `"dao_fee_bps": 10000`, 1)
	doc = strings.Replace(doc, `"whale_premium_bps": 3500`, `"whale_premium_bps": 9999`, 1)
	in, err := DecodePoolPeriodJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Allocate("v1", in); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeRoundTripsTheBaseInput(t *testing.T) {
	in, err := DecodePoolPeriodJSON(strings.NewReader(baseInput))
	if err != nil {
		t.Fatal(err)
	}
	if in.PoolID != "pool-a" || len(in.Contributions) != 3 || in.Contributions[2].ID != "c17" ||
		in.CarryIn["s1"] != 5000 || in.Hoster.FeeBps != 1000 || in.RateXDRPermyriadPerICP != 35000 || in.Proposal != nil {
		t.Fatalf("%+v", in)
	}
}

func TestDuplicateKeysScanner(t *testing.T) {
	var many strings.Builder
	for i := 0; i < 40; i++ {
		many.WriteString(`"k` + strings.Repeat("x", i) + `": 1, `)
	}
	cases := map[string]struct{ doc, want string }{
		"escaped twin":         {`{"a": {"amount_e8s": 1, "amount\u005fe8s": 2}}`, `a: amount_e8s appears twice`},
		"many keys":            {`{"carry_in": {` + many.String() + `"kxxx": 2}}`, `carry_in: kxxx appears twice`},
		"nested array":         {`{"contributions": [{}, {"id": "a", "id": "b"}]}`, `contributions[1]: id appears twice`},
		"same key, two levels": {`{"x": {"x": 1}, "y": [{"x": 1}, {"x": 2}]}`, ``},
		"string with quote":    {`{"a\"b": 1, "c": "\"a\\\\", "a\"b": 2}`, `a"b appears twice`},
	}
	for name, c := range cases {
		err := checkDuplicateKeys([]byte(c.doc))
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
	}
	if err := checkDuplicateKeys([]byte(`{"a": `)); err == nil || !errors.Is(err, ErrInvalidInput) {
		t.Errorf("invalid JSON: %v", err)
	}
}
