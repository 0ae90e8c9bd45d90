package lifecycle

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// benchAccounts are n valid accounts (random 28-byte hashes, CRC prefixed).
func benchAccounts(rng *rand.Rand, n int) []string {
	out := make([]string, n)
	for i := range out {
		var a [32]byte
		for j := 4; j < 32; j++ {
			a[j] = byte(rng.Uint32())
		}
		binary.BigEndian.PutUint32(a[:4], crc32.ChecksumIEEE(a[4:]))
		out[i] = hex.EncodeToString(a[:])
	}
	return out
}

// benchPool is one pool's terms and 1,000 deposits from 300 accounts: a
// 1,000 ICP target, 0.1 ICP minimum, 5% cap per sponsor, deposits of 0.05 to
// 3 ICP a minute apart. About two thirds are accepted, some below the
// minimum or over a cap; the target is reached around deposit 680 and the
// rest are refunded as closed, so every rule on the deposit path runs.
func benchPool(seed uint64) (Terms, []Fact) {
	rng := rand.New(rand.NewPCG(seed, 7))
	accts := benchAccounts(rng, 300)
	terms := baseTerms()
	terms.PoolID = fmt.Sprintf("pool-%d", seed)
	terms.TargetE8s, terms.MinContributionE8s, terms.MaxSponsorBps = 1000*icp, icp/10, 500
	start := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	facts := make([]Fact, 1000)
	for i := range facts {
		at := tm(start.Add(time.Duration(i) * time.Minute).Format(time.RFC3339))
		facts[i] = Fact{Type: FactDeposit, At: at, BlockIndex: uint64(1_000_000 + i), To: depositAcct,
			From: accts[rng.IntN(len(accts))], AmountE8s: money.E8s(5_000_000 + rng.Int64N(295_000_000))}
	}
	return terms, facts
}

// BenchmarkReplay10kPools1kDeposits runs 10,000 pools of 1,000 deposits each
// through the engine (New, Apply per fact, Result with its hash). Inputs
// are generated before the timer: 16 distinct pools, replayed in turn (each
// pool is independent, so reusing a fact list costs the engine nothing it
// would not pay anyway).
func BenchmarkReplay10kPools1kDeposits(b *testing.B) {
	const pools, distinct = 10_000, 16
	type input struct {
		terms Terms
		facts []Fact
	}
	inputs := make([]input, distinct)
	for i := range inputs {
		inputs[i].terms, inputs[i].facts = benchPool(uint64(i + 1))
	}
	b.ReportAllocs()
	b.ResetTimer()
	deposits := 0
	for b.Loop() {
		for i := 0; i < pools; i++ {
			in := &inputs[i%distinct]
			p, err := New(in.terms)
			if err != nil {
				b.Fatal(err)
			}
			for _, f := range in.facts {
				if _, err := p.Apply(f); err != nil {
					b.Fatal(err)
				}
			}
			if o := p.Result(); o.State != StateFunded {
				b.Fatalf("pool %d ended %s", i, o.State)
			}
			deposits += len(in.facts)
		}
	}
	b.ReportMetric(float64(deposits)/b.Elapsed().Seconds(), "deposits/s")
}

// BenchmarkReplayJSON1kDeposits is one pool through the JSON contract
// (decode, replay, encode): what `nodeshare pools replay` costs per pool.
func BenchmarkReplayJSON1kDeposits(b *testing.B) {
	terms, facts := benchPool(1)
	doc := mustJSON(b, inputDoc(terms, facts))
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReplayJSON(bytes.NewReader(doc)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(facts)*b.N)/b.Elapsed().Seconds(), "deposits/s")
}
