package allocation

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (run go test -update if the change is intended):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// goldenPools are small pools covering each kind of statement: the forum
// example (whale 30 of 100 ICP, premium applies), a pool where the
// premium does not apply with a carry below the minimum payout, and a
// rejected proposal.
func goldenPools() map[string]PoolPeriod {
	forum := pool(1_000_000_000,
		contrib("c1", "whale-acct", 30*money.E8sPerICP, 0),
		contrib("c2", "sponsor-b", 2*money.E8sPerICP, 1),
		contrib("c3", "sponsor-a", 50_000_000, 2),
		contrib("c4", "sponsor-c", 100_000_000, 3),
		contrib("c5", "sponsor-d", 20*money.E8sPerICP, 4),
		contrib("c6", "sponsor-e", 20*money.E8sPerICP, 5),
		contrib("c7", "sponsor-f", 26*money.E8sPerICP+50_000_000, 6),
	)
	forum.Hoster.FeeBps, forum.Hoster.FixedXDRPermyriad = 1000, 10_000
	forum.DAOFeeBps, forum.WhalePremiumBps, forum.LedgerFeeE8s = 200, 3500, 10_000
	forum.CarryIn = map[string]money.E8s{"sponsor-a": 5_000}

	noPremium := pool(3_000_001, contrib("c1", "big", 600, 0), contrib("c2", "small", 399, 0), contrib("c3", "tiny", 1, 0))
	noPremium.WhalePremiumBps, noPremium.LedgerFeeE8s, noPremium.MinPayoutE8s = 3500, 10_000, 100_000

	rejected := pool(0, contrib("c1", "a", 1_000_000_001, 0), contrib("c2", "b", 999, 1))
	rejected.Proposal = &Proposal{Status: ProposalRejected, SlashBps: 500}
	rejected.LedgerFeeE8s = 10_000
	return map[string]PoolPeriod{"forum": forum, "no_premium": noPremium, "rejected": rejected}
}

func TestGolden(t *testing.T) {
	for name, in := range goldenPools() {
		t.Run(name, func(t *testing.T) {
			r := mustAllocate(t, in)
			canon, err := CanonicalEncoding(r)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".canonical.json", canon)
			var out, explain bytes.Buffer
			if err := EncodeResultJSON(&out, r); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".output.json", out.Bytes())
			if err := Explain(&explain, r); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".explain.txt", explain.Bytes())
		})
	}
}

// TestCanonicalEncodingEscapes pins the string rules of the encoding.
func TestCanonicalEncodingEscapes(t *testing.T) {
	in := pool(10, contrib("1", "q\"b\\s\x01é", 1, 0))
	in.PoolID = "p\n"
	canon, err := CanonicalEncoding(mustAllocate(t, in))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"pool_id":"p\u000a"`, `"sponsor":"q\"b\\s\u0001é"`, `"whale":null`, `"proposal":null`} {
		if !strings.Contains(string(canon), want) {
			t.Errorf("canonical encoding lacks %s:\n%s", want, canon)
		}
	}
	bad := mustAllocate(t, in)
	bad.Shares = append(bad.Shares, bad.Shares[0])
	if _, err := ManifestSHA256(bad); err == nil {
		t.Fatal("unsorted/duplicate shares were hashed")
	}
}
