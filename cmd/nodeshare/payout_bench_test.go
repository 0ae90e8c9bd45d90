package main

import (
	"context"
	"fmt"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout/payouttest"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/vault"
	"github.com/nodeshare/nodeshare/ops/icsim"
)

// BenchmarkPayout10k pays 10,000 transfers end to end (checks, Vault
// transit signatures of every request, icrc1_transfer on the in-process
// simulator with certificate verification, results to the in-memory
// store) and, in the same run, makes the same number of raw Vault transit
// sign calls at the same concurrency. It reports both rates and their ratio
// (payout / raw sign, target >= 80%). NODESHARE_BENCH_TRANSFERS and
// NODESHARE_BENCH_CONCURRENCY change the size and the concurrency.
//
//	eval "$(ops/stack env)"; go test -run '^$' -bench BenchmarkPayout10k -benchtime 1x ./cmd/nodeshare
func BenchmarkPayout10k(b *testing.B) {
	if os.Getenv("NODESHARE_VAULT_TOKEN") == "" {
		b.Skip("needs Vault: eval \"$(ops/stack env)\"")
	}
	n, conc := 10_000, 16
	if v, err := strconv.Atoi(os.Getenv("NODESHARE_BENCH_TRANSFERS")); err == nil && v > 0 {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("NODESHARE_BENCH_CONCURRENCY")); err == nil && v > 0 {
		conc = v
	}
	cfg := vault.Config{Addr: envOr("NODESHARE_VAULT_ADDR", "http://127.0.0.1:18200"), Token: os.Getenv("NODESHARE_VAULT_TOKEN"),
		TransitMount: envOr("NODESHARE_VAULT_TRANSIT_MOUNT", "transit"), TransitKey: envOr("NODESHARE_VAULT_TRANSIT_KEY", "nodeshare-treasury")}
	vc, err := vault.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	id, err := vault.NewTransitIdentity(ctx, vc)
	if err != nil {
		b.Fatal(err)
	}
	// The baseline: one transit sign request per signature, what a client
	// without batching makes (vault/api, no local verification).
	single := func(m []byte) error { _, err := vc.Sign(ctx, m, id.KeyVersion()); return err }
	for i := 0; i < b.N; i++ {
		// Raw Vault transit signatures at the same concurrency, before and
		// after the payout runs (the machine is shared: averaging both
		// halves the bias of a load change during the benchmark).
		raw1 := benchRawSign(b, single, n, conc, i*2)
		// The payout run through Vault transit, then the same run with a
		// local Ed25519 key (no Vault): what the simulator path alone allows.
		e2e := benchPayout(b, ctx, id, n, conc, uint64(i))
		local, err := identity.NewRandomEd25519Identity()
		if err != nil {
			b.Fatal(err)
		}
		simOnly := benchPayout(b, ctx, local, n, conc, uint64(i)+1000)
		raw2 := benchRawSign(b, single, n, conc, i*2+1)
		batched := benchRawSign(b, func(m []byte) error { _, err := id.Sign(m); return err }, n, conc, i*2+2)
		raw := (raw1 + raw2) / 2
		rawRate := float64(n) / raw.Seconds()
		payRate := float64(n) / e2e.Seconds()
		simRate := float64(n) / simOnly.Seconds()
		b.ReportMetric(rawRate, "raw-signs/s")
		b.ReportMetric(payRate, "transfers/s")
		b.ReportMetric(simRate, "local-key-transfers/s")
		b.ReportMetric(100*payRate/rawRate, "%-of-raw")
		b.ReportMetric(float64(n)/batched.Seconds(), "batched-signs/s")
		b.Logf("raw transit sign before %s, after %s", raw1.Round(time.Millisecond), raw2.Round(time.Millisecond))
		b.Logf("n=%d concurrency=%d: raw transit sign %s (%.0f/s); payout end to end via transit %s (%.0f/s) = %.1f%% of raw; same payout with a local key %s (%.0f/s); the identity's batched signatures alone %s (%.0f/s)",
			n, conc, raw.Round(time.Millisecond), rawRate, e2e.Round(time.Millisecond), payRate, 100*payRate/rawRate, simOnly.Round(time.Millisecond), simRate,
			batched.Round(time.Millisecond), float64(n)/batched.Seconds())
	}
}

// benchPayout plans, approves and runs n transfers signed by id against a
// fresh in-process simulator and returns how long the run took.
func benchPayout(b *testing.B, ctx context.Context, id identity.Identity, n, conc int, seed uint64) time.Duration {
	b.Helper()
	round := 5 * time.Millisecond
	if v, err := time.ParseDuration(os.Getenv("NODESHARE_BENCH_ROUND")); err == nil {
		round = v
	}
	sim, err := icsim.New(icsim.Options{RoundInterval: round})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(sim.Handler())
	defer hs.Close()
	client, err := ic.New(ic.Config{URL: hs.URL, Identity: id, FetchRootKey: true, HTTPClient: pooledHTTPClient()})
	if err != nil {
		b.Fatal(err)
	}
	ents, pools := payouttest.SimPeriod(rand.New(rand.NewPCG(seed, 7)), "bench-dao", "2026-11-01T06:00:00Z", n, int64(icsim.LedgerFeeE8s))
	store := payouttest.NewMemStore(ents, pools)
	eng := &payout.Engine{Store: store, Ledger: ic.PayoutLedger{Client: client, Treasury: ic.Account{Owner: id.Sender()}}, Approval: payouttest.Approval(1, testDemoApprover), Verifier: ic.Verifier{}, Concurrency: conc}
	m, _, err := eng.Plan(ctx, "bench-dao", "2026-11-01T06:00:00Z", true)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := eng.Approve(ctx, "bench-dao", "2026-11-01T06:00:00Z", m.SHA256, "demo", testDemoApprover); err != nil {
		b.Fatal(err)
	}
	if _, err := sim.Mint(ic.AccountText(ic.Account{Owner: id.Sender()}), uint64(m.TotalAmountE8s+m.TotalFeeE8s)); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	sum, err := eng.Run(ctx, "bench-dao", "2026-11-01T06:00:00Z", payout.RunOptions{})
	d := time.Since(start)
	if err != nil || sum.Paid != n {
		b.Fatalf("run: %v, %d paid of %d", err, sum.Paid, n)
	}
	b.Logf("%d transfers, %d certificate signatures", n, sim.CertSignatures())
	return d
}

// benchRawSign makes n signatures with sign from conc workers.
func benchRawSign(b *testing.B, sign func([]byte) error, n, conc, round int) time.Duration {
	b.Helper()
	msgs := make(chan int)
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range msgs {
				if err := sign([]byte(fmt.Sprintf("\x0aic-request raw sign %d %d", round, k))); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	for k := 0; k < n; k++ {
		msgs <- k
	}
	close(msgs)
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d raw signatures failed", failed.Load())
	}
	return time.Since(start)
}
