package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	lifecyclestage "github.com/nodeshare/nodeshare/pipeline/stage/lifecycle"
	"github.com/nodeshare/nodeshare/schemas"
)

// benchBlocks is the number of ledger blocks the lifecycle benchmark
// moves; NODESHARE_BENCH_BLOCKS changes it.
func benchBlocks() int {
	if n, err := strconv.Atoi(os.Getenv("NODESHARE_BENCH_BLOCKS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// The benchmark's ledger: one block in ten is a deposit to a pool, the
// others go to accounts of no pool. The pools fund in waves of
// lifecycleWave at a time, lifecycleDeposits deposits each: sponsors of
// 1 to 2.3 ICP (a 10 ICP cap, one in thirteen below the 1 ICP minimum), so
// a pool is funded after about sixty and refunds the rest as closed.
const (
	lifecycleWave     = 20
	lifecycleDeposits = 100
)

// lifecycleBenchInput builds the pools and n blocks.
func lifecycleBenchInput(b *testing.B, n int, poolsTopic, blocksTopic string) (pools, blocks []kafka.Record) {
	b.Helper()
	deposits := n / 10
	npools := max(1, (deposits+lifecycleDeposits-1)/lifecycleDeposits)
	accounts := make([]string, npools)
	for i := range npools {
		p := lifecyclePool(fmt.Sprintf("bench-%05d", i), uint32(10_000_000+2*i))
		p.DAO = "bench"
		p.Terms.MaxSponsorBps = 1000
		accounts[i] = p.Terms.DepositAccount
		pools = append(pools, lifecycleRecord(b, poolsTopic, schemas.TypePool, schemas.PoolKey(p.DAO, p.PoolID), p))
	}
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	blocks = make([]kafka.Record, n)
	j := 0 // deposits so far
	for i := range blocks {
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		if i%10 == 9 && j < deposits {
			// Pool (j mod wave) of the current wave.
			wave := j / (lifecycleWave * lifecycleDeposits)
			pool := min(npools-1, wave*lifecycleWave+j%lifecycleWave)
			amount := icpE8s + int64(j%14)*icpE8s/10
			if j%13 == 0 {
				amount = icpE8s / 2
			}
			blocks[i] = lifecycleBlock(b, blocksTopic, uint64(i), at, lifecycleAccount(uint32(1+j%997)), accounts[pool], amount)
			j++
			continue
		}
		blocks[i] = lifecycleBlock(b, blocksTopic, uint64(i), at, lifecycleAccount(uint32(2_000_000+i%5000)), lifecycleAccount(uint32(3_000_000+i)), icpE8s)
	}
	return pools, blocks
}

// BenchmarkLifecycleProcessorVsRawKafka: the lifecycle processor's loop as
// `nodeshare process` runs it (runLifecycleStage, its topics created
// before the clock starts: consumer group, the peek that
// skips blocks to no pool, strict decode of the pools' blocks, the rules,
// states and transfers published, commit after the acknowledgement) over
// ledger blocks, against raw kafka-go consume + produce + commit of the
// same blocks, in the same run. The processor writes a state per pool a
// batch touched and a transfer per refund; the raw baseline one record
// per block.
func BenchmarkLifecycleProcessorVsRawKafka(b *testing.B) {
	cfg := benchServices(b)
	ctx := context.Background()
	brokers := cfg.brokers()
	n := benchBlocks()
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	poolsTopic, factsTopic, blocksTopic := "bench.lc-pools-"+run, "bench.lc-facts-"+run, "bench.lc-blocks-"+run
	pools, blocks := lifecycleBenchInput(b, n, poolsTopic, blocksTopic)
	fillTopic(b, ctx, brokers, poolsTopic, pools)
	fillTopic(b, ctx, brokers, factsTopic, nil)
	fillTopic(b, ctx, brokers, blocksTopic, blocks)
	blocks = nil

	var rawRate float64
	b.Run("raw-kafka-go", func(b *testing.B) {
		var total time.Duration // the mean over every iteration
		for range b.N {
			i := benchSeq.Add(1)
			out := fmt.Sprintf("bench.lc-raw-out-%s-%d", run, i)
			if err := kafka.EnsureTopics(ctx, brokers, []schemas.TopicSpec{{Name: out, Partitions: 1}}, 1); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			rawConsumeProduce(b, ctx, brokers, blocksTopic, out, fmt.Sprintf("bench-lc-raw-%s-%d", run, i), n)
			total += time.Since(start)
		}
		rawRate = float64(n*b.N) / total.Seconds()
		b.ReportMetric(rawRate, "records/s")
	})
	b.Run("nodeshare-lifecycle", func(b *testing.B) {
		var total time.Duration
		for it := range b.N {
			i := benchSeq.Add(1)
			lc := lifecyclestage.Config{Group: fmt.Sprintf("bench-lc-%s-%d", run, i), Verifier: ic.Verifier{}, PoolsTopic: poolsTopic, PoolFactsTopic: factsTopic, BlocksTopic: blocksTopic,
				LifecycleTopic: fmt.Sprintf("bench.lc-out-%s-%d", run, i), DLQTopic: fmt.Sprintf("bench.lc-dlq-%s-%d", run, i), Logger: quietLog()}
			// The stage's own batch size (lifecycle.DefaultMaxBatch) unless
			// NODESHARE_BENCH_LIFECYCLE_BATCH says otherwise (1000: the raw
			// loop's).
			if v, err := strconv.Atoi(os.Getenv("NODESHARE_BENCH_LIFECYCLE_BATCH")); err == nil && v > 0 {
				lc.MaxBatch = v
			}
			if err := kafka.EnsureTopics(ctx, brokers, []schemas.TopicSpec{{Name: lc.LifecycleTopic, Partitions: 1}, {Name: lc.DLQTopic, Partitions: 1}}, 1); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if err := runLifecycleStage(ctx, brokers, kafka.TopicOptions{}, "", lc, true); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
			if it == 0 {
				lifecycleBenchCheck(b, ctx, brokers, lc, n) // outside the clock
			}
		}
		rate := float64(n*b.N) / total.Seconds()
		b.ReportMetric(rate, "records/s")
		if rawRate > 0 {
			b.ReportMetric(100*rate/rawRate, "%-of-raw")
		}
	})
}

// lifecycleBenchCheck checks, outside the clock, that the run did the
// work: a state for every pool, refunds, no dead letter.
func lifecycleBenchCheck(b *testing.B, ctx context.Context, brokers kafka.Brokers, lc lifecyclestage.Config, n int) {
	b.Helper()
	msgs, err := kafka.ReadAll(ctx, brokers, lc.LifecycleTopic)
	if err != nil {
		b.Fatal(err)
	}
	states, transfers := map[string]bool{}, 0
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil {
			b.Fatal(err)
		}
		if env.Type == schemas.TypePoolState {
			states[string(m.Key)] = true
		} else {
			transfers++
		}
	}
	dead, err := kafka.ReadAll(ctx, brokers, lc.DLQTopic)
	if err != nil {
		b.Fatal(err)
	}
	wantPools := max(1, (n/10+lifecycleDeposits-1)/lifecycleDeposits)
	if len(states) != wantPools || transfers == 0 || len(dead) != 0 {
		b.Fatalf("the lifecycle run published states of %d pools (want %d), %d transfers, %d dead letters", len(states), wantPools, transfers, len(dead))
	}
	b.Logf("%d blocks: %d pools, %d lifecycle records (%d transfers)", n, len(states), len(msgs), transfers)
}
