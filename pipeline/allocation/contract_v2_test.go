package allocation

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// baseInputV2 is baseInput under v2: hoster-a until a third of July 2026,
// hoster-b from then on.
const baseInputV2 = `{
  "pool_id": "pool-a", "period": "2026-07",
  "period_start": 1782864000, "period_end": 1785456000,
  "gross_e8s": 150000000000, "xdr_permyriad_per_icp": 35000,
  "hosters": [
    {"account": "hoster-a", "fixed_xdr_permyriad": 0, "bps": 1000, "from": 1781864000, "to": 1783728000, "carry_in_e8s": 0},
    {"account": "hoster-b", "fixed_xdr_permyriad": 10000, "bps": 500, "from": 1783728000, "to": 1790456000}
  ],
  "dao_fee_bps": 200, "whale_premium_bps": 3500,
  "ledger_fee_e8s": 10000, "min_payout_e8s": 0,
  "contributions": [
    {"id": "c1", "sponsor": "whale", "amount_e8s": 3000000000, "at": "2026-01-02T00:00:00Z"},
    {"id": "c2", "sponsor": "s1", "amount_e8s": 100000000, "at": "2026-01-03T00:00:00Z"},
    {"id": "c17", "sponsor": "s2", "amount_e8s": 50000000, "at": "2026-01-04T00:00:00Z"}
  ],
  "carry_in": {"s1": 5000}
}`

// withHosters is baseInputV2 with the hosters member's value replaced by
// value, or the member left out when value is empty.
func withHosters(value string) string {
	i := strings.Index(baseInputV2, `"hosters": [`)
	j := strings.Index(baseInputV2, `"dao_fee_bps"`)
	if value == "" {
		return baseInputV2[:i] + baseInputV2[j:]
	}
	return baseInputV2[:i] + `"hosters": ` + value + ",\n  " + baseInputV2[j:]
}

// TestInvalidInputsV2: the v2 document is as strict as v1's, and every
// engagement error names the engagement's field as the input spells it
// (hosters[1].to) and the value.
func TestInvalidInputsV2(t *testing.T) {
	cases := []struct {
		name, old, new string
		want           []string
	}{
		{"overlap", `"from": 1783728000, "to": 1790456000`, `"from": 1783727999, "to": 1790456000`,
			[]string{"hosters[1].from lies inside hosters[0], [1781864000, 1783728000)", "must not overlap", "got 1783727999"}},
		{"overlap, listed in reverse", `"from": 1781864000, "to": 1783728000`, `"from": 1783728001, "to": 1790456001`,
			[]string{"hosters[0].from lies inside hosters[1]", "got 1783728001"}},
		{"same from", `"from": 1783728000, "to": 1790456000`, `"from": 1781864000, "to": 1781864001`, []string{"hosters[1].from", "overlap"}},
		{"from = to", `"from": 1783728000, "to": 1790456000`, `"from": 1783728000, "to": 1783728000`, []string{"hosters[1].to must be greater than from (1783728000), got 1783728000"}},
		{"from > to", `"from": 1783728000, "to": 1790456000`, `"from": 1783728000, "to": 5`, []string{"hosters[1].to must be greater than from (1783728000), got 5"}},
		{"L = 0", `"period_end": 1785456000`, `"period_end": 1782864000`, []string{"period_end must be greater than period_start (1782864000)", "got 1782864000"}},
		{"L < 0", `"period_end": 1785456000`, `"period_end": 7`, []string{"period_end must be greater than period_start", "got 7"}},
		{"negative period_start", `"period_start": 1782864000`, `"period_start": -1`, []string{"period_start must be >= 0, got -1"}},
		{"period_end above 2^63-1", `"period_end": 1785456000`, `"period_end": 9223372036854775808`, []string{"period_end must be <= 9223372036854775807"}},
		{"fractional from", `"from": 1783728000`, `"from": 1783728000.5`, []string{"hosters[1].from", "1783728000.5"}},
		{"negative carry", `"to": 1783728000, "carry_in_e8s": 0`, `"to": 1783728000, "carry_in_e8s": -4`, []string{"hosters[0].carry_in_e8s must be >= 0, got -4"}},
		{"bps above 10000", `"bps": 500`, `"bps": 10001`, []string{"hosters[1].bps must be <= 10000, got 10001"}},
		{"negative fixed", `"fixed_xdr_permyriad": 10000`, `"fixed_xdr_permyriad": -1`, []string{"hosters[1].fixed_xdr_permyriad must be >= 0, got -1"}},
		{"empty account", `"account": "hoster-b"`, `"account": ""`, []string{"hosters[1].account must not be empty"}},
		{"missing to", `, "to": 1790456000`, ``, []string{"hosters[1].to is required"}},
		{"unknown engagement field", `"bps": 500`, `"bps": 500, "vat": 1`, []string{"hosters[1].vat", "unknown"}},
		{"unknown top-level field", `"dao_fee_bps": 200`, `"dao_fee_bps": 200, "tip": 1`, []string{"tip", "unknown"}},
		{"v1 hoster in a v2 input", `"dao_fee_bps": 200`, `"hoster": {"account": "h", "fixed_xdr_permyriad": 0, "bps": 0}, "dao_fee_bps": 200`, []string{"hoster is not a field", `rules v2 takes "hosters"`}},
		{"duplicate key in an engagement", `"bps": 500`, `"bps": 500, "bps": 1`, []string{"hosters[1]: bps appears twice"}},
		{"engagement not an object", `{"account": "hoster-a"`, `5, {"account": "hoster-a"`, []string{"hosters[0] must be an object, got 5"}},
		{"missing period_start", `"period_start": 1782864000, `, ``, []string{"period_start is required"}},
		{"rate zero", `"xdr_permyriad_per_icp": 35000`, `"xdr_permyriad_per_icp": 0`, []string{"xdr_permyriad_per_icp must be > 0, got 0"}},
		{"negative amount", `"amount_e8s": 50000000`, `"amount_e8s": -5`, []string{`contributions[2] (id "c17"): amount_e8s must be >= 0, got -5`}},
		{"duplicate contribution id", `"id": "c17"`, `"id": "c2"`, []string{`contributions[2] (id "c2"): id duplicates contributions[1]`}},
		{"premium 10000", `"whale_premium_bps": 3500`, `"whale_premium_bps": 10000`, []string{"whale_premium_bps must be < 10000"}},
		{"carry for a stranger", `{"s1": 5000}`, `{"s1": 5000, "hoster-a": 1}`, []string{`carry_in["hoster-a"] has no contribution`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(baseInputV2, c.old) {
				t.Fatalf("test bug: %q not in the base input", c.old)
			}
			doc := strings.Replace(baseInputV2, c.old, c.new, 1)
			in, err := DecodePoolPeriodJSONV2(strings.NewReader(doc))
			if err == nil {
				_, err = Allocate("v2", in)
			}
			if err == nil {
				t.Fatalf("accepted:\n%s", doc)
			}
			var ie *InputError
			if !errors.Is(err, ErrInvalidInput) || !errors.As(err, &ie) || ie.Field == "" {
				t.Fatalf("not an InputError naming a field: %#v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not contain %q", err, w)
				}
			}
			// Through the contract: an error and no output.
			if out, err := RunContract(strings.NewReader(doc), "v2", false); err == nil || out != nil {
				t.Fatalf("RunContract: %v, output %q", err, out)
			}
		})
	}
	for value, want := range map[string]string{
		`null`:       "hosters must be an array of engagements, got null",
		`{}`:         "hosters must be an array of engagements, got {}",
		`"hoster-a"`: `hosters must be an array of engagements, got "hoster-a"`,
		``:           "hosters is required",
	} {
		doc := withHosters(value)
		if _, err := DecodePoolPeriodJSONV2(strings.NewReader(doc)); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), want) {
			t.Errorf("hosters %s: %v, want %q", value, err, want)
		}
	}
	// A v2 input under v1: "hosters" and the period bounds are unknown.
	if _, err := RunContract(strings.NewReader(baseInputV2), "v1", false); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "period_start") && !strings.Contains(err.Error(), "hosters") {
		t.Fatalf("v2 document under v1: %v", err)
	}
	// A v1 input under v2: "hoster" is unknown.
	if _, err := RunContract(strings.NewReader(baseInput), "v2", false); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "hoster is not a field") {
		t.Fatalf("v1 document under v2: %v", err)
	}
	if _, err := RunContract(strings.NewReader(baseInputV2), "v3", false); !errors.Is(err, ErrUnknownRules) {
		t.Fatalf("unknown rules: %v", err)
	}
}

// TestContractV2Output: every field of the v2 output, exactly, in the
// contract's shape; hosters in order of from; an empty list is [].
func TestContractV2Output(t *testing.T) {
	out, err := RunContract(strings.NewReader(baseInputV2), "v2", false)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"dao_fee_e8s", "distributable_e8s", "gross_e8s", "hoster_fee_e8s", "hosters", "manifest_sha256", "period", "pool_id", "rules_version", "shares", "whale"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("output fields %v, want %v", keys, want)
	}
	if string(doc["rules_version"]) != `"v2"` {
		t.Fatalf("rules_version %s", doc["rules_version"])
	}
	var hosters []map[string]json.RawMessage
	if err := json.Unmarshal(doc["hosters"], &hosters); err != nil || len(hosters) != 2 {
		t.Fatalf("hosters: %v %s", err, doc["hosters"])
	}
	for _, h := range hosters {
		var hk []string
		for k := range h {
			hk = append(hk, k)
		}
		slices.Sort(hk)
		if !reflect.DeepEqual(hk, []string{"account", "carry_out_e8s", "fee_e8s", "overlap_seconds", "owed_e8s", "transfer_e8s"}) {
			t.Fatalf("hoster fields %v", hk)
		}
	}
	// G = 1500 ICP: hoster-a floor(15,000,000,000 / 3) = 5,000,000,000;
	// hoster-b floor((28,571,428 + 7,500,000,000) * 2 / 3) = 5,019,047,618.
	if string(hosters[0]["account"]) != `"hoster-a"` || string(hosters[0]["overlap_seconds"]) != "864000" || string(hosters[0]["owed_e8s"]) != "5000000000" ||
		string(hosters[1]["account"]) != `"hoster-b"` || string(hosters[1]["owed_e8s"]) != "5019047618" || string(doc["hoster_fee_e8s"]) != "10019047618" {
		t.Fatalf("hosters %s, H %s", doc["hosters"], doc["hoster_fee_e8s"])
	}

	// Reordered hosters and contributions: the same bytes.
	reordered := strings.Replace(baseInputV2, `{"account": "hoster-a", "fixed_xdr_permyriad": 0, "bps": 1000, "from": 1781864000, "to": 1783728000, "carry_in_e8s": 0},
    {"account": "hoster-b", "fixed_xdr_permyriad": 10000, "bps": 500, "from": 1783728000, "to": 1790456000}`,
		`{"account": "hoster-b", "fixed_xdr_permyriad": 10000, "bps": 500, "from": 1783728000, "to": 1790456000},
    {"account": "hoster-a", "fixed_xdr_permyriad": 0, "bps": 1000, "from": 1781864000, "to": 1783728000}`, 1)
	reordered = strings.Replace(reordered, `{"id": "c1", "sponsor": "whale", "amount_e8s": 3000000000, "at": "2026-01-02T00:00:00Z"},
    {"id": "c2", "sponsor": "s1", "amount_e8s": 100000000, "at": "2026-01-03T00:00:00Z"},`, `{"id": "c2", "sponsor": "s1", "amount_e8s": 100000000, "at": "2026-01-03T00:00:00Z"},
    {"id": "c1", "sponsor": "whale", "amount_e8s": 3000000000, "at": "2026-01-02T00:00:00Z"},`, 1)
	if strings.Index(reordered, "hoster-b") > strings.Index(reordered, "hoster-a") || strings.Index(reordered, `"c2"`) > strings.Index(reordered, `"c1"`) {
		t.Fatal("test bug: reorder missed")
	}
	out2, err := RunContract(strings.NewReader(reordered), "v2", false)
	if err != nil || !bytes.Equal(out, out2) {
		t.Fatalf("reordered input changed the output (%v)", err)
	}

	out, err = RunContract(strings.NewReader(withHosters(`[]`)), "v2", false)
	if err != nil || !strings.Contains(string(out), `"hosters": [],`) || !strings.Contains(string(out), `"hoster_fee_e8s": 0,`) {
		t.Fatalf("empty hosters: %v\n%s", err, out)
	}
	if _, err := RunContract(strings.NewReader(baseInputV2), "v2", true); err != nil {
		t.Fatalf("--explain: %v", err)
	}
}

// TestDecodeV2RoundTrip: the v2 encoder is the decoder's inverse, and
// carry_in_e8s defaults to 0.
func TestDecodeV2RoundTrip(t *testing.T) {
	in, err := DecodePoolPeriodJSONV2(strings.NewReader(baseInputV2))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Hosters) != 2 || in.Hosters[1].CarryInE8s != 0 || in.Hosters[1].FromUnixSeconds != 1783728000 ||
		in.PeriodStartUnixSeconds != 1782864000 || in.PeriodEndUnixSeconds != 1785456000 || in.Hoster != (HosterTerms{}) {
		t.Fatalf("%+v", in)
	}
	var buf bytes.Buffer
	if err := EncodePoolPeriodJSONV2(&buf, in); err != nil {
		t.Fatal(err)
	}
	in2, err := DecodePoolPeriodJSONV2(&buf)
	if err != nil || !reflect.DeepEqual(in, in2) {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, in, in2)
	}
}

// FuzzDecodePoolPeriodV2: any bytes either decode or give ErrInvalidInput;
// a decoded input allocates or gives ErrInvalidInput (never an invariant
// failure), passes the v2 properties, and round-trips through
// EncodePoolPeriodJSONV2 to the same result.
func FuzzDecodePoolPeriodV2(f *testing.F) {
	f.Add([]byte(baseInputV2))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"pool_id":"p","period":"x","period_start":0,"period_end":9223372036854775807,"gross_e8s":9223372036854775807,"xdr_permyriad_per_icp":1,"hosters":[{"account":"h","fixed_xdr_permyriad":9223372036854775807,"bps":10000,"from":5,"to":6}],"dao_fee_bps":0,"whale_premium_bps":9999,"ledger_fee_e8s":0,"min_payout_e8s":0,"contributions":[{"id":"a","sponsor":"a","amount_e8s":1,"at":"2026-01-01T00:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := decodePoolPeriodV2(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("decode error is not ErrInvalidInput: %v", err)
			}
			return
		}
		r, err := Allocate("v2", in)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("Allocate: %v", err)
			}
			return
		}
		if err := checkV2Properties(in, r); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := EncodePoolPeriodJSONV2(&buf, in); err != nil {
			t.Fatal(err)
		}
		in2, err := decodePoolPeriodV2(buf.Bytes())
		if err != nil {
			t.Fatalf("re-decoding the encoded input: %v\n%s", err, buf.Bytes())
		}
		if r2, err := Allocate("v2", in2); err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the result: %v", err)
		}
	})
}
