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
