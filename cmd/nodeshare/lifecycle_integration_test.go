package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	rules "github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/money"
	lifecyclestage "github.com/nodeshare/nodeshare/pipeline/stage/lifecycle"
	"github.com/nodeshare/nodeshare/schemas"
)

// lifecycleAccount is the account identifier whose 28-byte hash is b
// repeated (a valid CRC): the accounts of the lifecycle tests and bench.
func lifecycleAccount(seed uint32) string {
	var a [32]byte
	for i := 4; i < 32; i += 4 {
		binary.BigEndian.PutUint32(a[i:], seed)
	}
	binary.BigEndian.PutUint32(a[:4], crc32.ChecksumIEEE(a[4:]))
	return hex.EncodeToString(a[:])
}

// icpE8s is one ICP in e8s, as the wire's integers.
const icpE8s = int64(money.E8sPerICP)

// lifecycleTopics are a run's own input and output topics.
func lifecycleTopics(run string) lifecyclestage.Config {
	return lifecyclestage.Config{Verifier: ic.Verifier{}, PoolsTopic: "it.pools-" + run, PoolFactsTopic: "it.pool-facts-" + run, BlocksTopic: "it.blocks-" + run,
		LifecycleTopic: "it.pool-lifecycle-" + run, DLQTopic: "it.dlq-" + run}
}

func lifecycleRecord(t testing.TB, topic, typ, key string, v any) kafka.Record {
	t.Helper()
	env, err := schemas.NewEnvelope(typ, key, schemas.Provenance{Source: "test"}, v)
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Record{Topic: topic, Key: []byte(key), Value: b}
}

func lifecycleBlock(t testing.TB, topic string, index uint64, at time.Time, from, to string, amount int64) kafka.Record {
	b := schemas.LedgerBlock{Ledger: "ryjl3-tyaaa-aaaaa-aaaba-cai", Index: index, Time: at.UTC().Format(time.RFC3339Nano),
		TimestampNanos: uint64(at.UnixNano()), Op: "transfer", From: from, To: to, AmountE8s: uint64(amount), FeeE8s: 10_000}
	return lifecycleRecord(t, topic, schemas.TypeLedgerBlock, schemas.LedgerBlockKey(b.Ledger, b.Index), b)
}

// lifecyclePool is pool id of DAO "it" with a 100 ICP target and its
// accounts from seed.
func lifecyclePool(id string, seed uint32) schemas.Pool {
	return schemas.Pool{DAO: "it", PoolID: id, NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n1", WeightXDRPermyriad: 1}},
		Hoster: schemas.HosterTerms{Account: "h"}, RulesVersion: "v1", Terms: &schemas.PoolTerms{TermsVersion: 1, Treasury: "t",
			DepositAccount: lifecycleAccount(seed), BondAccount: lifecycleAccount(seed + 1), TargetE8s: 100 * icpE8s,
			MinContributionE8s: icpE8s, MaxSponsorBps: 5000, FundingDeadline: "2027-01-01T00:00:00Z",
			Purchaser: lifecycleAccount(7), SlashBps: 500, BondE8s: 10 * icpE8s, LockupUntil: "2028-01-01T00:00:00Z",
			MaxVotingBps: 10_000, LedgerFeeE8s: 10_000}}
}

// lifecycleOutputs reads a lifecycle topic back: the latest state of each
// pool, the transfers by key (each must be there once), and the number of
// records.
func lifecycleOutputs(t *testing.T, ctx context.Context, brokers kafka.Brokers, topic string) (map[string]schemas.PoolState, map[string]schemas.PoolTransfer, int) {
	t.Helper()
	msgs, err := kafka.ReadAll(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	states, transfers := map[string]schemas.PoolState{}, map[string]schemas.PoolTransfer{}
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		switch env.Type {
		case schemas.TypePoolState:
			var st schemas.PoolState
			if err := env.DecodePayload(env.Type, &st); err != nil {
				t.Fatal(err)
			}
			states[string(m.Key)] = st
		case schemas.TypePoolTransfer:
			var tr schemas.PoolTransfer
			if err := env.DecodePayload(env.Type, &tr); err != nil {
				t.Fatal(err)
			}
			if _, dup := transfers[string(m.Key)]; dup {
				t.Fatalf("transfer %s published twice", m.Key)
			}
			transfers[string(m.Key)] = tr
		}
	}
	return states, transfers, len(msgs)
}

// TestLifecycleProcessorOnKafka runs the lifecycle processor as `nodeshare
// process` does (kafka.Log under kafka.ConsumeStage, draining) on its own
// topics: a pool funded by blocks, proposed, adopted and settled, with a
// bad fact dead-lettered; then a restarted processor (same group) takes
// new facts, and a processor under a fresh group publishes nothing more.
func TestLifecycleProcessorOnKafka(t *testing.T) {
	cfg := requireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	brokers := cfg.brokers()
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	lc := lifecycleTopics(run)
	lc.Group, lc.Logger = "it-lifecycle-"+run, quietLog()
	var specs []schemas.TopicSpec
	for _, topic := range append(lc.Inputs(), lc.LifecycleTopic, lc.DLQTopic) {
		specs = append(specs, schemas.TopicSpec{Name: topic, Partitions: 1})
	}
	if err := kafka.EnsureTopics(ctx, brokers, specs, 1); err != nil {
		t.Fatal(err)
	}
	p := lifecyclePool("pool-1", 100)
	dep, bond, whale := p.Terms.DepositAccount, p.Terms.BondAccount, p.Terms.Purchaser
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	id := uint64(4242)
	fact := func(typ string, at time.Time, node string) kafka.Record {
		f := schemas.PoolFact{DAO: "it", PoolID: "pool-1", Type: typ, At: at.Format(time.RFC3339)}
		if node == "" {
			f.ProposalID = &id
			if typ == "proposal_decided" {
				f.Status = "adopted"
			}
		} else {
			f.NodeID = node
		}
		return lifecycleRecord(t, lc.PoolFactsTopic, schemas.TypePoolFact, schemas.PoolFactKey(f), f)
	}
	prod := kafka.NewProducer(brokers)
	defer prod.Close()
	recs := []kafka.Record{
		lifecycleRecord(t, lc.PoolsTopic, schemas.TypePool, schemas.PoolKey(p.DAO, p.PoolID), p),
		lifecycleBlock(t, lc.BlocksTopic, 1, t0, lifecycleAccount(1), dep, 50*icpE8s),
		lifecycleBlock(t, lc.BlocksTopic, 2, t0.Add(time.Hour), lifecycleAccount(9), lifecycleAccount(10), icpE8s), // no pool's
		lifecycleBlock(t, lc.BlocksTopic, 3, t0.Add(2*time.Hour), lifecycleAccount(2), dep, 60*icpE8s),             // 10 over the target
		lifecycleBlock(t, lc.BlocksTopic, 4, t0.Add(3*time.Hour), whale, bond, 10*icpE8s),
		fact("proposal_submitted", t0.Add(24*time.Hour), ""),
		fact("node_up", t0.Add(25*time.Hour), "n1"), // not adopted yet: dead-lettered
	}
	if err := prod.Publish(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	if err := runLifecycle(ctx, brokers, kafka.TopicOptions{}, "", lc, true); err != nil {
		t.Fatal(err)
	}
	states, transfers, _ := lifecycleOutputs(t, ctx, brokers, lc.LifecycleTopic)
	st := states[schemas.PoolStateKey("it", "pool-1")]
	if st.State != "proposed" || st.Facts != 4 || len(transfers) != 1 {
		t.Fatalf("after the first drain: state %q with %d facts and %d transfers, want proposed, 4 facts, 1 over_target refund", st.State, st.Facts, len(transfers))
	}
	dead, err := kafka.ReadAll(ctx, brokers, lc.DLQTopic)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want the early node_up", len(dead))
	}
	if d, err := schemas.ReadDeadLetter(dead[0].Key, dead[0].Value, dead[0].Headers); err != nil || !strings.Contains(d.Reason, "node_up is not allowed in state proposed") {
		t.Fatalf("dead letter %+v, %v", d, err)
	}

	// A restarted processor (same group) takes the decision and the node.
	if err := prod.Publish(ctx, fact("proposal_decided", t0.Add(26*time.Hour), ""), fact("node_up", t0.Add(27*time.Hour), "n1")); err != nil {
		t.Fatal(err)
	}
	if err := runLifecycle(ctx, brokers, kafka.TopicOptions{}, "", lc, true); err != nil {
		t.Fatal(err)
	}
	states, transfers, n := lifecycleOutputs(t, ctx, brokers, lc.LifecycleTopic)
	st = states[schemas.PoolStateKey("it", "pool-1")]
	if st.State != "active" || len(transfers) != 2 || transfers[schemas.PoolTransferKey("it", "pool-1", 1)].Kind != "settlement" {
		t.Fatalf("after the restart: state %q, transfers %+v; want active and the settlement", st.State, transfers)
	}
	// The output is the rules' for these facts in time order.
	terms := p.Terms
	deadline, _ := rules.ParseTime(terms.FundingDeadline)
	lockup, _ := rules.ParseTime(terms.LockupUntil)
	pool, err := rules.New(rules.Terms{PoolID: p.PoolID, DepositAccount: dep, TargetE8s: money.E8s(terms.TargetE8s), MinContributionE8s: money.E8s(terms.MinContributionE8s),
		MaxSponsorBps: money.Bps(terms.MaxSponsorBps), FundingDeadline: deadline, Purchaser: whale, SlashBps: money.Bps(terms.SlashBps), BondE8s: money.E8s(terms.BondE8s),
		BondAccount: bond, LockupUntil: lockup, MaxVotingBps: money.Bps(terms.MaxVotingBps), LedgerFeeE8s: money.E8s(terms.LedgerFeeE8s)})
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) rules.Time {
		v, _ := rules.ParseTime(t0.Add(d).Format(time.RFC3339Nano))
		return v
	}
	atS := func(d time.Duration) rules.Time { v, _ := rules.ParseTime(t0.Add(d).Format(time.RFC3339)); return v }
	for _, f := range []rules.Fact{
		{Type: rules.FactDeposit, At: at(0), BlockIndex: 1, To: dep, From: lifecycleAccount(1), AmountE8s: 50 * money.E8sPerICP},
		{Type: rules.FactDeposit, At: at(2 * time.Hour), BlockIndex: 3, To: dep, From: lifecycleAccount(2), AmountE8s: 60 * money.E8sPerICP},
		{Type: rules.FactDeposit, At: at(3 * time.Hour), BlockIndex: 4, To: bond, From: whale, AmountE8s: 10 * money.E8sPerICP},
		{Type: rules.FactProposalSubmitted, At: atS(24 * time.Hour), ProposalID: id},
		{Type: rules.FactProposalDecided, At: atS(26 * time.Hour), ProposalID: id, Status: rules.ProposalAdopted},
		{Type: rules.FactNodeUp, At: atS(27 * time.Hour), NodeID: "n1"},
	} {
		if _, err := pool.Apply(f); err != nil {
			t.Fatal(err)
		}
	}
	if want := string(rules.EncodeOutput(pool.Result())); st.Output != want {
		t.Fatalf("state output\n got %s\nwant %s", st.Output, want)
	}

	// A fresh group over the same topics: everything is there already.
	lc.Group = "it-lifecycle-fresh-" + run
	if err := runLifecycle(ctx, brokers, kafka.TopicOptions{}, "", lc, true); err != nil {
		t.Fatal(err)
	}
	if _, _, again := lifecycleOutputs(t, ctx, brokers, lc.LifecycleTopic); again != n {
		t.Fatalf("a fresh group published %d more records", again-n)
	}
	if dead, _ := kafka.ReadAll(ctx, brokers, lc.DLQTopic); len(dead) != 1 {
		t.Fatalf("a fresh group wrote %d more dead letters", len(dead)-1)
	}
}

// `nodeshare process` runs the lifecycle processor beside the entitlement
// processor, each under its group; --drain drains both.
func TestProcessRunsTheLifecycleProcessorToo(t *testing.T) {
	code, out, _ := runMain(t, "process", "--help")
	if code != 0 || !strings.Contains(out, "--lifecycle-group=") || !strings.Contains(out, lifecyclestage.DefaultGroup) || !strings.Contains(out, "--[no-]lifecycle") {
		t.Fatalf("process --help: exit %d\n%s", code, out)
	}
	requireServices(t)
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	code, _, stderr := runCLI(t, nil, "process", "--group", "it-both-"+run, "--entitlements-topic", "it.entitlements-both-"+run,
		"--lifecycle-group", "it-both-lifecycle-"+run, "--drain")
	if code != 0 || !strings.Contains(stderr, `"msg":"processor started"`) || !strings.Contains(stderr, `"msg":"lifecycle processor started"`) {
		t.Fatalf("process --drain: exit %d\n%s", code, stderr)
	}
}
