package lifecycle

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden replays every testdata/golden/NAME.input.json and compares the
// result with NAME.output.json: the same JSON indented for reading. Indenting
// changes only whitespace, so the compacted golden file must equal what
// ReplayJSON prints byte for byte, lifecycle_sha256 included.
// `go test -run TestGolden -update` rewrites the outputs; review the diff.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "golden", "*.input.json"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input.json")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := ReplayJSON(f)
			if err != nil {
				t.Fatal(err)
			}
			outPath := filepath.Join("testdata", "golden", name+".output.json")
			if *update {
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, got, "", "  "); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(outPath, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, want); err != nil {
				t.Fatal(err)
			}
			compact.WriteByte('\n')
			if !bytes.Equal(got, compact.Bytes()) {
				t.Fatalf("%s differs from %s (run go test -run TestGolden -update if the change is intended):\n--- got\n%s--- want\n%s", in, outPath, got, compact.Bytes())
			}
		})
	}
}

func replayFile(t *testing.T, name string) Output {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "golden", name+".input.json"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := Replay(data)
	if err != nil {
		t.Fatal(err)
	}
	checkOutput(t, o)
	return o
}

// TestWorkedExampleFullLifecycle checks the golden full_lifecycle example
// against numbers worked out by hand (docs/pool-rules.md "Worked example"),
// so the golden file is not only what the code happened to print.
func TestWorkedExampleFullLifecycle(t *testing.T) {
	o := replayFile(t, "full_lifecycle")
	node := "node-7x"
	want := []row{
		paid(TransferRefund, whale, 500_000_000, ReasonOverSponsorCap, "101", "2026-01-05T10:00:00Z"), // 40 ICP, cap 35
		paid(TransferRefund, s1, 30_000_000, ReasonBelowMinimum, "102", "2026-01-06T10:00:00Z"),
		{TransferRefund, s1, 5_000, 0, 0, ReasonBelowMinimum, "103", "2026-01-06T11:00:00Z"},       // dust
		paid(TransferRefund, s4, 500_000_000, ReasonOverSponsorCap, "105", "2026-01-08T00:00:00Z"), // carol: 20 + 15 = 35
		paid(TransferRefund, s5, 200_000_000, ReasonOverTarget, "107", "2026-01-10T00:00:00Z"),     // 10 of 12 fit
		paid(TransferRefund, s1, 100_000_000, ReasonClosed, "108", "2026-01-10T00:00:00Z"),         // same instant, after funding
		paid(TransferRefund, whale, 199_999_998, ReasonOverBond, "109", "2026-01-12T00:00:00Z"),
		paid(TransferRefund, s2, 100_000_000, ReasonNotPurchaser, "110", "2026-01-12T00:00:00Z"),
		paid(TransferSettlement, whale, 10_000_000_000, "", node, "2026-03-25T00:00:00Z"),
		// node_down before the lock-up: 1_000_000_002 by 20/15/10/35/20 of 100
		paid(TransferBondForfeit, s3, 200_000_001, "", node, "2026-09-01T00:00:00Z"),
		paid(TransferBondForfeit, s4, 150_000_000, "", node, "2026-09-01T00:00:00Z"),
		paid(TransferBondForfeit, s5, 100_000_000, "", node, "2026-09-01T00:00:00Z"),
		paid(TransferBondForfeit, whale, 350_000_001, "", node, "2026-09-01T00:00:00Z"),
		paid(TransferBondForfeit, s2, 200_000_000, "", node, "2026-09-01T00:00:00Z"),
	}
	if got := rows(o); !reflect.DeepEqual(got, want) {
		t.Fatalf("transfers:\n got %+v\nwant %+v", got, want)
	}
	wantSponsors := []Sponsor{
		{s3, "kyc:carol", 2_000_000_000, "2026-01-07T09:30:00+01:00"}, {s4, "kyc:carol", 1_500_000_000, "2026-01-08T00:00:00Z"},
		{s5, s5, 1_000_000_000, "2026-01-10T00:00:00Z"},
		{whale, whale, 3_500_000_000, "2026-01-05T10:00:00Z"}, {s2, s2, 2_000_000_000, "2026-01-09T00:00:00Z"},
	}
	// The first accepted deposit's at is verbatim (s3's has an offset); s4's
	// first deposit (block 105) was partly accepted, so it counts.
	if !reflect.DeepEqual(o.Sponsors, wantSponsors) {
		t.Fatalf("sponsors %+v", o.Sponsors)
	}
	wantVotes := []VoteResult{
		{"v-access", VoteGrantHosterAccess, VotePassed, 5_000_000_000, 4_000_000_000, 0, 9_000_000_000},
		{"v-later", VoteTerminateHoster, VoteOpen, 1_000_000_000, 0, 0, 9_000_000_000},
		{"v-terms", VoteChangeHosterTerms, VoteFailed, 5_000_000_000, 0, 0, 9_000_000_000},
	}
	if !reflect.DeepEqual(o.Votes, wantVotes) {
		t.Fatalf("votes %+v", o.Votes)
	}
	if o.State != StateRetired || o.FundedAt != "2026-01-10T00:00:00Z" || o.SettledAt != "2026-03-25T00:00:00Z" ||
		o.StakeHeldE8s != 0 || o.BondHeldE8s != 0 || o.Retained != (Retained{0, 5_000}) {
		t.Fatalf("%+v", o)
	}
}

func TestWorkedExamplesSmall(t *testing.T) {
	t.Run("expired", func(t *testing.T) {
		o := replayFile(t, "expired")
		dl := "2026-03-01T01:00:00+01:00"
		want := []row{
			paid(TransferRefund, s3, 100_000_000, "", "deadline", dl), // on time at the deadline's instant
			paid(TransferRefund, s1, 3_000_000_000, "", "deadline", dl),
			paid(TransferRefund, s2, 1_000_000_000, "", "deadline", dl),
			paid(TransferBondReturn, whale, 500_000_000, "", "deadline", dl),
			paid(TransferRefund, s4, 100_000_000, ReasonLate, "205", "2026-03-01T00:00:00.000000001Z"),
			paid(TransferRefund, whale, 100_000_000, ReasonClosed, "206", "2026-03-02T00:00:00Z"),
		}
		if got := rows(o); !reflect.DeepEqual(got, want) || o.State != StateExpired || o.FundedAt != "" {
			t.Fatalf("got %+v\n%+v", got, o)
		}
	})
	t.Run("rejected", func(t *testing.T) {
		o := replayFile(t, "rejected")
		want := []row{
			{TransferRefund, s3, 9, 0, 0, "", "99", "2026-01-20T00:00:00Z"},      // 12 - 3, dust
			{TransferRefund, s1, 22, 12, 10, "", "99", "2026-01-20T00:00:00Z"},   // 15 - 3 + 13 - 3
			{TransferRefund, s2, 720, 710, 10, "", "99", "2026-01-20T00:00:00Z"}, // 960 - 240
			{TransferBondReturn, whale, 7, 0, 0, "", "99", "2026-01-20T00:00:00Z"},
		}
		if got := rows(o); !reflect.DeepEqual(got, want) || o.Retained != (Retained{249, 16}) {
			t.Fatalf("got %+v\n%+v", got, o.Retained)
		}
	})
	t.Run("bond_after_node", func(t *testing.T) {
		o := replayFile(t, "bond_after_node")
		want := []row{
			paid(TransferRefund, whale, 50_000_000, ReasonOverBond, "4", "2026-02-20T00:00:00Z"),
			paid(TransferSettlement, whale, 1_000_000_000, "", "4", "2026-02-20T00:00:00Z"),
			paid(TransferBondReturn, whale, 300_000_000, "", "node-b", "2026-06-01T00:00:00Z"),
		}
		if got := rows(o); !reflect.DeepEqual(got, want) || o.SettledAt != "2026-02-20T00:00:00Z" || o.State != StateRetired {
			t.Fatalf("got %+v\n%+v", got, o)
		}
	})
	t.Run("failed", func(t *testing.T) {
		o := replayFile(t, "failed")
		want := []row{
			paid(TransferRefund, s1, 3_500_000_000, "", "7", "2026-01-08T00:00:00Z"),
			paid(TransferRefund, whale, 3_500_000_000, "", "7", "2026-01-08T00:00:00Z"),
			paid(TransferRefund, s2, 3_000_000_000, "", "7", "2026-01-08T00:00:00Z"),
			paid(TransferBondReturn, whale, 1_000_000_000, "", "7", "2026-01-08T00:00:00Z"),
		}
		if got := rows(o); !reflect.DeepEqual(got, want) || o.State != StateFailed {
			t.Fatalf("got %+v\n%+v", got, o)
		}
	})
}

// TestCanonicalEncodingRules pins the byte-level rules: key order, null,
// integers, and the string escapes (only `"`, `\` and U+0000..U+001F).
func TestCanonicalEncodingRules(t *testing.T) {
	o := Output{
		PoolID: "p\"\\\n\t\x01\x1f\x7f é\u2028<>&", RulesVersion: RulesVersion, State: StateFunding,
		Retained: Retained{DustE8s: 18446744073709551615},
	}
	got := string(CanonicalEncoding(o))
	want := `{"pool_id":"p\"\\\n\t\u0001\u001f` + "\x7f é\u2028<>&" + `","rules_version":"lifecycle-v1","state":"funding","funded_at":null,"settled_at":null,"stake_held_e8s":0,"bond_held_e8s":0,"sponsors":[],"transfers":[],"retained":{"slash_e8s":0,"dust_e8s":18446744073709551615},"votes":[]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	enc := string(EncodeOutput(o))
	if !strings.HasPrefix(enc, want[:len(want)-1]+`,"lifecycle_sha256":"`) || !strings.HasSuffix(enc, `"}`) || len(enc) != len(want)+len(`,"lifecycle_sha256":""`)+64 {
		t.Fatalf("EncodeOutput: %s", enc)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(enc), &back); err != nil || back["pool_id"] != o.PoolID {
		t.Fatalf("does not decode back: %v %q", err, back["pool_id"])
	}
}
