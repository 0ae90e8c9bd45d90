package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const allocateInput = `{
  "pool_id": "pool-a", "period": "2026-07",
  "gross_e8s": 150000000000, "xdr_permyriad_per_icp": 35000,
  "hoster": {"account": "hoster-acct", "fixed_xdr_permyriad": 0, "bps": 1000, "carry_in_e8s": 0},
  "dao_fee_bps": 200, "whale_premium_bps": 3500,
  "ledger_fee_e8s": 10000, "min_payout_e8s": 0,
  "contributions": [
    {"id": "c1", "sponsor": "whale", "amount_e8s": 3000000000, "at": "2026-01-02T00:00:00Z"},
    {"id": "c2", "sponsor": "s1", "amount_e8s": 2900000000, "at": "2026-01-03T00:00:00Z"},
    {"id": "c17", "sponsor": "s2", "amount_e8s": 2900000000, "at": "2026-01-04T00:00:00Z"},
    {"id": "c18", "sponsor": "s3", "amount_e8s": 1200000000, "at": "2026-01-05T00:00:00Z"}
  ],
  "carry_in": {"s1": 5000}
}`

func runAlloc(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), append([]string{"allocate"}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAllocateCLIContract(t *testing.T) {
	code, out, stderr := runAlloc(t, allocateInput, "--in", "-")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"dao_fee_e8s", "distributable_e8s", "gross_e8s", "hoster", "hoster_fee_e8s", "manifest_sha256", "period", "pool_id", "rules_version", "shares", "whale"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("output fields %v, want exactly %v", keys, want)
	}
	// Whale 30 of 100 with premium 35%: premium applies.
	if string(doc["whale"]) != `"whale"` || string(doc["rules_version"]) != `"v1"` {
		t.Fatalf("whale %s rules %s", doc["whale"], doc["rules_version"])
	}
	var shares []map[string]json.RawMessage
	if err := json.Unmarshal(doc["shares"], &shares); err != nil || len(shares) != 4 {
		t.Fatalf("shares: %v", err)
	}
	var order []string
	for _, s := range shares {
		if len(s) != 7 {
			t.Fatalf("share fields %v", s)
		}
		var id string
		json.Unmarshal(s["sponsor"], &id)
		order = append(order, id)
		for k, v := range s {
			if k != "sponsor" && strings.ContainsAny(string(v), ".eE\"-") {
				t.Fatalf("%s = %s is not a non-negative integer", k, v)
			}
		}
	}
	if !reflect.DeepEqual(order, []string{"s1", "s2", "s3", "whale"}) {
		t.Fatalf("shares not sorted by sponsor: %v", order)
	}
	// The same input reordered gives the same bytes (and manifest).
	reordered := strings.Replace(allocateInput, `{"id": "c1", "sponsor": "whale", "amount_e8s": 3000000000, "at": "2026-01-02T00:00:00Z"},
    {"id": "c2", "sponsor": "s1", "amount_e8s": 2900000000, "at": "2026-01-03T00:00:00Z"},`, `{"id": "c2", "sponsor": "s1", "amount_e8s": 2900000000, "at": "2026-01-03T00:00:00Z"},
    {"id": "c1", "sponsor": "whale", "amount_e8s": 3000000000, "at": "2026-01-02T00:00:00Z"},`, 1)
	if reordered == allocateInput {
		t.Fatal("test bug: reorder missed")
	}
	path := filepath.Join(t.TempDir(), "pool.json")
	if err := os.WriteFile(path, []byte(reordered), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out2, _ := runAlloc(t, "", "--in", path, "--rules", "v1")
	if code != 0 || out2 != out {
		t.Fatalf("reordered input changed the output (exit %d)", code)
	}
}

func TestAllocateCLIWhaleNull(t *testing.T) {
	in := strings.Replace(allocateInput, `"whale_premium_bps": 3500`, `"whale_premium_bps": 0`, 1)
	code, out, _ := runAlloc(t, in, "--in", "-")
	if code != 0 || !strings.Contains(out, `"whale": null`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestAllocateCLIInvalidInput(t *testing.T) {
	cases := map[string]struct{ old, new, want string }{
		"negative amount": {`"amount_e8s": 2900000000, "at": "2026-01-04T00:00:00Z"`, `"amount_e8s": -5, "at": "2026-01-04T00:00:00Z"`, `contributions[2] (id "c17"): amount_e8s must be >= 0, got -5`},
		"unknown field":   {`"dao_fee_bps": 200`, `"dao_fee_bps": 200, "tip": 1`, `tip`},
		"premium 10000":   {`"whale_premium_bps": 3500`, `"whale_premium_bps": 10000`, `whale_premium_bps`},
		"rate zero":       {`"xdr_permyriad_per_icp": 35000`, `"xdr_permyriad_per_icp": 0`, `xdr_permyriad_per_icp`},
		"duplicate id":    {`"id": "c17"`, `"id": "c1"`, `id duplicates`},
		"not json":        {`{`, `[`, `input`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			code, out, stderr := runAlloc(t, strings.Replace(allocateInput, c.old, c.new, 1), "--in", "-")
			if code == 0 || out != "" || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q (want it to contain %q)", code, out, stderr, c.want)
			}
		})
	}
	code, out, stderr := runAlloc(t, "", "--in", filepath.Join(t.TempDir(), "missing.json"))
	if code == 0 || out != "" || stderr == "" {
		t.Fatalf("missing file: exit %d stdout %q stderr %q", code, out, stderr)
	}
}

func TestAllocateCLIFlags(t *testing.T) {
	code, out, _ := runAlloc(t, "", "--help")
	if code != 0 || !strings.Contains(out, "--in=FILE|-") || !strings.Contains(out, "--explain") {
		t.Fatalf("--help: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{}, {"--in", "-", "--rules", "v9"}, {"--in", "-", "extra"}, {"--bogus"}} {
		code, out, stderr := runAlloc(t, allocateInput, args...)
		if code != 2 || out != "" || stderr == "" {
			t.Errorf("%v: exit %d stdout %q stderr %q", args, code, out, stderr)
		}
	}
	code, out, _ = runAlloc(t, allocateInput, "--in", "-", "--explain")
	if code != 0 || !strings.Contains(out, "Sponsor whale: stake 30.00000000 ICP of 100.00000000 ICP (30.0000% of the pool). Whale") {
		t.Fatalf("--explain: exit %d\n%s", code, out)
	}
}

// allocateInputV2 is allocateInput under rules v2: hoster-a until a third
// of July 2026, hoster-b from then on, and an engagement before the period
// that only carries a balance.
const allocateInputV2 = `{
  "pool_id": "pool-a", "period": "2026-07",
  "period_start": 1782864000, "period_end": 1785456000,
  "gross_e8s": 150000000000, "xdr_permyriad_per_icp": 35000,
  "hosters": [
    {"account": "hoster-b", "fixed_xdr_permyriad": 10000, "bps": 500, "from": 1783728000, "to": 1790456000},
    {"account": "hoster-a", "fixed_xdr_permyriad": 0, "bps": 1000, "from": 1781864000, "to": 1783728000, "carry_in_e8s": 0},
    {"account": "hoster-a", "fixed_xdr_permyriad": 0, "bps": 1000, "from": 1780000000, "to": 1781000000, "carry_in_e8s": 7000}
  ],
  "dao_fee_bps": 200, "whale_premium_bps": 3500,
  "ledger_fee_e8s": 10000, "min_payout_e8s": 0,
  "contributions": [
    {"id": "c1", "sponsor": "whale", "amount_e8s": 3000000000, "at": "2026-01-02T00:00:00Z"},
    {"id": "c2", "sponsor": "s1", "amount_e8s": 2900000000, "at": "2026-01-03T00:00:00Z"},
    {"id": "c17", "sponsor": "s2", "amount_e8s": 2900000000, "at": "2026-01-04T00:00:00Z"},
    {"id": "c18", "sponsor": "s3", "amount_e8s": 1200000000, "at": "2026-01-05T00:00:00Z"}
  ],
  "carry_in": {"s1": 5000}
}`

// TestAllocateCLIRulesV2: `--rules v2` reads the v2 document and prints
// v1's output with "hosters" (in order of from, exactly the contract's
// fields) for "hoster" and rules_version v2.
func TestAllocateCLIRulesV2(t *testing.T) {
	code, out, stderr := runAlloc(t, allocateInputV2, "--in", "-", "--rules", "v2")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"dao_fee_e8s", "distributable_e8s", "gross_e8s", "hoster_fee_e8s", "hosters", "manifest_sha256", "period", "pool_id", "rules_version", "shares", "whale"}
	if !reflect.DeepEqual(keys, want) || string(doc["rules_version"]) != `"v2"` {
		t.Fatalf("output fields %v (rules %s), want exactly %v", keys, doc["rules_version"], want)
	}
	var hosters []struct {
		Account        string `json:"account"`
		OverlapSeconds int64  `json:"overlap_seconds"`
		OwedE8s        int64  `json:"owed_e8s"`
		TransferE8s    int64  `json:"transfer_e8s"`
		FeeE8s         int64  `json:"fee_e8s"`
		CarryOutE8s    int64  `json:"carry_out_e8s"`
	}
	dec := json.NewDecoder(strings.NewReader(string(doc["hosters"])))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&hosters); err != nil || len(hosters) != 3 {
		t.Fatalf("hosters: %v\n%s", err, doc["hosters"])
	}
	// In order of from: the engagement before the period (o = 0, its
	// carry 7,000 less the ledger fee is below 1 e8s: carried on), then
	// hoster-a: floor(15,000,000,000 * 864,000 / 2,592,000) = 5,000,000,000,
	// then hoster-b: floor((28,571,428 + 7,500,000,000) * 2 / 3) = 5,019,047,618.
	type line struct {
		acct                   string
		o, owed, transfer, fee int64
		carryOut               int64
	}
	got := []line{}
	for _, h := range hosters {
		got = append(got, line{h.Account, h.OverlapSeconds, h.OwedE8s, h.TransferE8s, h.FeeE8s, h.CarryOutE8s})
	}
	if wantLines := []line{
		{"hoster-a", 0, 7_000, 0, 0, 7_000},
		{"hoster-a", 864_000, 5_000_000_000, 4_999_990_000, 10_000, 0},
		{"hoster-b", 1_728_000, 5_019_047_618, 5_019_037_618, 10_000, 0},
	}; !reflect.DeepEqual(got, wantLines) {
		t.Fatalf("hosters %+v, want %+v", got, wantLines)
	}
	if string(doc["hoster_fee_e8s"]) != "10019047618" {
		t.Fatalf("hoster_fee_e8s %s", doc["hoster_fee_e8s"])
	}
	code, out, _ = runAlloc(t, allocateInputV2, "--in", "-", "--rules", "v2", "--explain")
	if code != 0 || !strings.Contains(out, "Hoster hoster-b, engagement [1783728000, 1790456000) (1728000 of the period's 2592000 seconds)") {
		t.Fatalf("--explain: exit %d\n%s", code, out)
	}
}

func TestAllocateCLIRulesV2InvalidInput(t *testing.T) {
	cases := map[string]struct{ old, new, want string }{
		"overlap":        {`"from": 1783728000`, `"from": 1783727000`, `hosters[0].from`},
		"from >= to":     {`"from": 1781864000, "to": 1783728000`, `"from": 1781864000, "to": 1781864000`, `hosters[1].to must be greater than from (1781864000), got 1781864000`},
		"empty period":   {`"period_end": 1785456000`, `"period_end": 1782864000`, `period_end must be greater than period_start`},
		"negative carry": {`"carry_in_e8s": 7000`, `"carry_in_e8s": -7`, `hosters[2].carry_in_e8s must be >= 0, got -7`},
		"bps > 10000":    {`"bps": 500`, `"bps": 10001`, `hosters[0].bps must be <= 10000, got 10001`},
		"unknown field":  {`"bps": 500`, `"bps": 500, "vat": 1`, `hosters[0].vat`},
		"v1 hoster":      {`"dao_fee_bps": 200`, `"hoster": {"account": "h", "fixed_xdr_permyriad": 0, "bps": 0}, "dao_fee_bps": 200`, `hoster is not a field`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(allocateInputV2, c.old) {
				t.Fatalf("test bug: %q not in the input", c.old)
			}
			code, out, stderr := runAlloc(t, strings.Replace(allocateInputV2, c.old, c.new, 1), "--in", "-", "--rules", "v2")
			if code != 1 || out != "" || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q (want it to contain %q)", code, out, stderr, c.want)
			}
		})
	}
	// Each version refuses the other's document.
	if code, out, stderr := runAlloc(t, allocateInput, "--in", "-", "--rules", "v2"); code != 1 || out != "" || !strings.Contains(stderr, "hoster") {
		t.Fatalf("v1 document under v2: exit %d stdout %q stderr %q", code, out, stderr)
	}
	if code, out, stderr := runAlloc(t, allocateInputV2, "--in", "-"); code != 1 || out != "" || !strings.Contains(stderr, "period_start") {
		t.Fatalf("v2 document under the default v1: exit %d stdout %q stderr %q", code, out, stderr)
	}
}
