package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kgo "github.com/segmentio/kafka-go"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/pipeline/money"
	auditstage "github.com/nodeshare/nodeshare/pipeline/stage/audit"
	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
	"github.com/nodeshare/nodeshare/pipeline/stage/sink"
	"github.com/nodeshare/nodeshare/schemas"
)

// The fault tests: Kafka and ClickHouse killed (kill -9) and started again
// under a running `nodeshare process` and `nodeshare sink` (the real
// command, in a subprocess), and a broker of a three-broker cluster killed
// while two processors share the consumer groups and one of them stops.
// They kill services the other tests use, so ops/test runs them in a step
// of their own (NODESHARE_FAULT_TESTS=1; the cluster test also needs
// NODESHARE_KAFKA_CLUSTER=1 and the stack's three brokers), never beside
// the other packages' tests.

// requireFaultTests skips unless the fault step of ops/test runs.
func requireFaultTests(t *testing.T) config {
	t.Helper()
	cfg := requireServices(t)
	if os.Getenv("NODESHARE_FAULT_TESTS") != "1" {
		t.Skip("fault test: kills Kafka or ClickHouse under every other test, so ops/test runs it in a step of its own (NODESHARE_FAULT_TESTS=1)")
	}
	return cfg
}

// stack runs ops/stack with args (kill, start), failing the test if it fails.
func stack(t *testing.T, args ...string) {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(filepath.Join("..", "..", "ops", "stack"), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ops/stack %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("ops/stack %s (%s): %s", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(string(out)))
}

// daemon is `nodeshare args...` running in a subprocess until stopped.
type daemon struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
	err  error
}

func (d *daemon) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.Write(p)
}

func (d *daemon) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

func startDaemon(t *testing.T, name string, env []string, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, done: make(chan struct{})}
	d.cmd = exec.Command(os.Args[0], args...)
	d.cmd.Env = append(append(os.Environ(), "NODESHARE_TEST_EXEC_MAIN=1"), env...)
	d.cmd.Stdout, d.cmd.Stderr = d, d
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}

// running fails the test if the daemon has exited (the defect: a daemon
// that gave up on an outage).
func (d *daemon) running(t *testing.T) {
	t.Helper()
	select {
	case <-d.done:
		t.Fatalf("%s exited (%v) instead of riding out the outage; its log:\n%s", d.name, d.err, d.output())
	default:
	}
}

// stop sends SIGTERM and expects a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	d.running(t)
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not stop within 60 s of SIGTERM; its log:\n%s", d.name, d.output())
	}
	if d.err != nil {
		t.Fatalf("%s: exit %v after SIGTERM; its log:\n%s", d.name, d.err, d.output())
	}
}

// outages counts the daemon's log lines that say it met an outage: its
// loop stopped and started again (retry.Supervise), or a store step
// retried inside the sink's batch (the loop went on).
func (d *daemon) outages() int {
	out := d.output()
	return strings.Count(out, "stopped by a transient failure") + strings.Count(out, "store step retried")
}

// logOutages puts the daemon's outage warnings (with their reasons) in the
// test's log: what the closing note of a fault run reports.
func (d *daemon) logOutages(t *testing.T) {
	t.Helper()
	for _, line := range strings.Split(d.output(), "\n") {
		if strings.Contains(line, "transient failure") || strings.Contains(line, "still failing") || strings.Contains(line, "store step retried") {
			t.Logf("%s: %.400s", d.name, line)
		}
	}
}

// faultInputs publishes the inputs of a fault test to topics of its own
// (prefix): a pool with 20 sponsors, then, in rounds, NNS rewards (one a
// month: each decided into a pool period and its entitlements), spot rates
// (each gives a 30-day average and an NNS rate) and records that are not
// envelopes at all (each a dead letter). The publisher rides out an
// outage as the daemons do, so a record may reach the topic twice (an
// acknowledgement lost): what is expected is read back from the topics.
type faultInputs struct {
	t        *testing.T
	brokers  kafka.Brokers
	prefix   string
	dao, np  string
	producer *kafka.Producer
	round    int
}

func newFaultInputs(t *testing.T, ctx context.Context, brokers kafka.Brokers, topts kafka.TopicOptions, prefix string) *faultInputs {
	t.Helper()
	if err := kafka.EnsureTopicsWith(ctx, brokers, prefixed(prefix, schemas.Topics()), topts); err != nil {
		t.Fatal(err)
	}
	in := &faultInputs{t: t, brokers: brokers, prefix: prefix, dao: "fault-" + prefix[:len(prefix)-1], producer: kafka.NewProducer(brokers)}
	t.Cleanup(func() { in.producer.Close() })
	in.np = legacyAccount(in.dao, "node-provider")
	pool := schemas.Pool{DAO: in.dao, PoolID: "pool-a", NodeProvider: in.np, Nodes: []schemas.Node{{NodeID: "node-a1", WeightXDRPermyriad: 15_000_000}},
		Hoster: schemas.HosterTerms{Account: legacyAccount(in.dao, "hoster"), FixedXDRPermyriad: 2_000_000, Bps: 500}, DAOFeeBps: 200, WhalePremiumBps: 3500,
		MinPayoutE8s: 1_000_000, RulesVersion: "v1", ProposalStatus: "adopted"}
	var recs []kafka.Record
	recs = append(recs, in.fact(schemas.TopicPools, schemas.TypePool, schemas.PoolKey(in.dao, "pool-a"), pool))
	for i := 0; i < 20; i++ {
		c := schemas.Contribution{DAO: in.dao, PoolID: "pool-a", ContributionID: fmt.Sprintf("c%02d", i), Sponsor: legacyAccount(in.dao, fmt.Sprintf("sponsor-%02d", i)),
			AmountE8s: int64(money.E8sPerICP) * int64(1+i%5), At: time.Unix(faultBase-90*86_400, 0).UTC().Format(time.RFC3339)}
		recs = append(recs, in.fact(schemas.TopicContributions, schemas.TypeContribution, schemas.ContributionKey(in.dao, "pool-a", c.ContributionID), c))
	}
	in.publish(ctx, recs)
	return in
}

// faultBase is the time of the first reward (2027-01-01): the rewards are
// a month apart after it, the spot rates an hour apart from it.
const faultBase = 1_798_761_600

func (in *faultInputs) fact(topic, typ, key string, v any) kafka.Record {
	f, err := schemas.NewFact(in.prefix+topic, typ, key, schemas.Provenance{Source: "test"}, v)
	if err != nil {
		in.t.Fatal(err)
	}
	b, err := f.Envelope.Marshal()
	if err != nil {
		in.t.Fatal(err)
	}
	return kafka.Record{Topic: f.Topic, Key: []byte(key), Value: b}
}

// publish writes recs, waiting out an outage (no limit while ctx lives).
func (in *faultInputs) publish(ctx context.Context, recs []kafka.Record) {
	err := retry.Do(ctx, retry.Policy{Tries: 1 << 20, Initial: 200 * time.Millisecond, Max: 2 * time.Second, Classify: retry.Always},
		func(ctx context.Context) error { return in.producer.Publish(ctx, recs...) })
	if err != nil && ctx.Err() == nil {
		in.t.Errorf("publish inputs: %v", err)
	}
}

// next publishes one round: a reward, spots spot rates and bad bad records.
func (in *faultInputs) next(ctx context.Context, spots, bad int) {
	r := in.round
	in.round++
	const rate = 35_000
	amount, _ := money.XDRToE8s(money.XDRPermyriad(15_000_000), rate)
	reward := schemas.NodeReward{NodeProvider: in.np, TimestampSeconds: uint64(faultBase + r*2_629_800), AmountE8s: int64(amount), XDRPermyriadPerICP: rate,
		RewardAccount: legacyAccount(in.dao, "treasury")}
	recs := []kafka.Record{in.fact(schemas.TopicNodeRewards, schemas.TypeNodeReward, entitle.RewardEventID(reward), reward)}
	for i := 0; i < spots; i++ {
		ts := uint64(faultBase + (r*spots+i)*3600)
		rt := schemas.Rate{Kind: "spot", TimestampSeconds: ts, XDRPermyriadPerICP: int64(30_000 + (r*spots+i)%7_000)}
		recs = append(recs, in.fact(schemas.TopicRates, schemas.TypeRate, schemas.RateKey("test", "spot", ts), rt))
	}
	for i := 0; i < bad; i++ {
		recs = append(recs, kafka.Record{Topic: in.prefix + schemas.TopicNodeRewards, Key: []byte(fmt.Sprintf("bad/%d/%d", r, i)), Value: []byte(fmt.Sprintf("not an envelope %d/%d", r, i))})
	}
	in.publish(ctx, recs)
}

// faultOutcome is what the topics and ClickHouse hold at the end.
type faultOutcome struct {
	records      int // on every topic of the test
	missing      []string
	dupKeys      int // output keys found more than once on Kafka (same content)
	entKeys      int
	rewards      int
	rawRows      uint64 // events_raw rows before FINAL merges them
	rawFinal     uint64
	rawCoords    uint64
	entFinal     uint64
	periodsFinal uint64
	entRows      uint64
}

// expectOutputs checks on Kafka that every input has its output: each
// reward its pool period, each spot rate its two derived rates, each bad
// record its dead letter; it returns what is missing.
func (in *faultInputs) expectOutputs(ctx context.Context) (out faultOutcome, err error) {
	read := func(topic string) ([]kafka.Message, error) {
		return kafka.ReadAll(ctx, in.brokers, in.prefix+topic)
	}
	want := map[string]bool{}
	rewards, err := read(schemas.TopicNodeRewards)
	if err != nil {
		return out, err
	}
	rewardSeen := map[string]bool{}
	for _, m := range rewards {
		env, derr := schemas.DecodeEnvelope(m.Value)
		if derr != nil {
			want["dlq "+schemas.DeadLetterKey(schemas.TopicNodeRewards, m.Partition, m.Offset)] = true
			continue
		}
		var r schemas.NodeReward
		if derr := env.DecodePayload(schemas.TypeNodeReward, &r); derr != nil {
			return out, derr
		}
		rewardSeen[entitle.PeriodOf(r.TimestampSeconds)] = true
		want["ent "+schemas.PoolPeriodKey(in.dao, entitle.PeriodOf(r.TimestampSeconds), "pool-a")] = true
	}
	out.rewards = len(rewardSeen)
	rates, err := read(schemas.TopicRates)
	if err != nil {
		return out, err
	}
	got := map[string]string{}
	for _, m := range rates {
		k := string(m.Key)
		if strings.HasPrefix(k, "test/spot/") {
			ts, _ := strconv.ParseUint(strings.TrimPrefix(k, "test/spot/"), 10, 64)
			want["rate "+schemas.RateKey("nodeshare", "avg30", ts)] = true
			want["rate "+schemas.RateKey("nodeshare", "nns", ts)] = true
			continue
		}
		out.dupKeys += seen(got, "rate "+k, m.Value)
	}
	ents, err := read(schemas.TopicEntitlements)
	if err != nil {
		return out, err
	}
	for _, m := range ents {
		out.dupKeys += seen(got, "ent "+string(m.Key), m.Value)
	}
	out.entKeys = len(ents) - countDup(ents)
	dlq, err := read(schemas.TopicDLQ)
	if err != nil {
		return out, err
	}
	for _, m := range dlq {
		out.dupKeys += seen(got, "dlq "+string(m.Key), m.Value)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			out.missing = append(out.missing, k)
		}
	}
	for _, topic := range sink.Topics() {
		msgs, err := read(topic)
		if err != nil {
			return out, err
		}
		out.records += len(msgs)
	}
	return out, nil
}

// seen records key's value; it returns 1 when key was there already (a
// duplicate on the topic), and panics on two values for one key: a fact
// never changes (PublishOnce refuses it), so that is a broken invariant.
func seen(got map[string]string, key string, v []byte) int {
	if old, ok := got[key]; ok {
		if old != string(v) {
			panic(fmt.Sprintf("%s holds two different values on the topic", key))
		}
		return 1
	}
	got[key] = string(v)
	return 0
}

func countDup(msgs []kafka.Message) int {
	keys := map[string]bool{}
	n := 0
	for _, m := range msgs {
		if keys[string(m.Key)] {
			n++
		}
		keys[string(m.Key)] = true
	}
	return n
}

// stored fills in what ClickHouse holds.
func stored(t *testing.T, ctx context.Context, store *clickhouse.Store, out *faultOutcome) {
	out.rawRows = count(t, ctx, store, "SELECT count() FROM events_raw")
	out.rawFinal = count(t, ctx, store, "SELECT count() FROM events_raw FINAL")
	out.rawCoords = count(t, ctx, store, "SELECT uniqExact(topic, partition, offset) FROM events_raw")
	out.entRows = count(t, ctx, store, "SELECT count() FROM entitlements")
	out.entFinal = count(t, ctx, store, "SELECT count() FROM entitlements FINAL")
	out.periodsFinal = count(t, ctx, store, "SELECT count() FROM pool_periods FINAL")
}

// waitComplete polls (deadline 4 minutes) until every input has its output
// on Kafka and ClickHouse holds every record, then checks that nothing is
// duplicated in ClickHouse and that audit verify is clean.
func waitComplete(t *testing.T, ctx context.Context, in *faultInputs, store *clickhouse.Store, daemons ...*daemon) faultOutcome {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	var out faultOutcome
	for {
		for _, d := range daemons {
			d.running(t)
		}
		var err error
		out, err = in.expectOutputs(ctx)
		if err == nil {
			stored(t, ctx, store, &out)
		}
		if err == nil && len(out.missing) == 0 && out.rawCoords >= uint64(out.records) && out.entFinal+uint64(out.rewards) >= uint64(out.entKeys) {
			break
		}
		if time.Now().After(deadline) {
			for _, d := range daemons {
				t.Logf("%s log:\n%s", d.name, d.output())
			}
			t.Fatalf("not complete after 4 minutes: err %v, %d outputs missing (%.5v), ClickHouse holds %d of %d records, %d entitlements of %d keys",
				err, len(out.missing), out.missing, out.rawCoords, out.records, out.entFinal, out.entKeys)
		}
		time.Sleep(time.Second)
	}
	// Nothing duplicated: one row per Kafka record through FINAL, one per
	// entitlement and pool period key.
	if out.rawFinal != out.rawCoords || out.rawCoords != uint64(out.records) {
		t.Fatalf("events_raw: %d rows through FINAL, %d distinct coordinates, %d records on Kafka", out.rawFinal, out.rawCoords, out.records)
	}
	if out.entFinal+out.periodsFinal != uint64(out.entKeys) || out.periodsFinal != uint64(out.rewards) {
		t.Fatalf("entitlements %d + pool_periods %d through FINAL, want %d keys on Kafka (%d rewards)", out.entFinal, out.periodsFinal, out.entKeys, out.rewards)
	}
	rep, err := auditstage.Verify(ctx, store, schemas.TopicEntitlements)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 || uint64(rep.Chained) != out.rawFinal || rep.Periods != out.rewards {
		t.Fatalf("audit verify: %d chained of %d, %d periods of %d, findings %v", rep.Chained, out.rawFinal, rep.Periods, out.rewards, rep.Findings)
	}
	return out
}

// outage runs process and sink over topics of their own, kills svc with
// SIGKILL in the middle of the inputs, keeps it down until both daemons
// met the outage (or 20 s), starts it again, and checks the outcome.
func outage(t *testing.T, svc string) {
	cfg := requireFaultTests(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	store, db := freshDatabase(t, ctx, cfg)
	prefix := fmt.Sprintf("it-outage-%s-%d.", svc, time.Now().UnixNano())
	in := newFaultInputs(t, ctx, cfg.brokers(), cfg.KafkaTopics, prefix)
	env := []string{"NODESHARE_TOPIC_PREFIX=" + prefix, "NODESHARE_CLICKHOUSE_DATABASE=" + db}
	proc := startDaemon(t, "process", env, "process", "--group", prefix+"entitlements", "--lifecycle-group", prefix+"lifecycle")
	snk := startDaemon(t, "sink", env, "sink", "--group", prefix+"sink", "--batch", "200", "--batch-wait", "50ms")
	for i := 0; i < 4; i++ {
		in.next(ctx, 25, 2)
	}
	// Something stored before the fault, so that it strikes a running pair.
	waitFor(t, 2*time.Minute, "the sink to store the first records", func() bool {
		return rawRows(ctx, store) > 0
	}, proc, snk)

	stack(t, "kill", svc)
	t.Cleanup(func() { stack(t, "start", svc) }) // a failed test leaves the stack up for the next
	down := time.Now()
	publishing := make(chan struct{})
	go func() { // inputs keep coming during the outage
		defer close(publishing)
		for i := 0; i < 4; i++ {
			in.next(ctx, 25, 2)
		}
	}()
	t.Cleanup(func() { cancel(); <-publishing })
	affected := []*daemon{snk}
	if svc == "kafka" {
		affected = append(affected, proc)
	}
	// Down until every daemon that uses svc met it, or 20 s: past the
	// connectors' own retries (a ClickHouse read waits about 20 s).
	for time.Since(down) < 20*time.Second {
		met := true
		for _, d := range affected {
			met = met && d.outages() > 0
		}
		if met && time.Since(down) > 10*time.Second {
			break
		}
		proc.running(t)
		snk.running(t)
		time.Sleep(250 * time.Millisecond)
	}
	proc.running(t)
	snk.running(t)
	stack(t, "start", svc)
	t.Logf("%s down for %s; outage warnings: process %d, sink %d", svc, time.Since(down).Round(time.Second), proc.outages(), snk.outages())
	<-publishing
	for i := 0; i < 4; i++ {
		in.next(ctx, 25, 2)
	}
	out := waitComplete(t, ctx, in, store, proc, snk)
	proc.stop(t)
	snk.stop(t)
	proc.logOutages(t)
	snk.logOutages(t)
	t.Logf("FAULT %s killed under process and sink: %d records, %d rewards, %d entitlement and pool period keys; lost 0; events_raw %d rows, %d through FINAL (%d merged away); "+
		"entitlements %d rows, %d through FINAL; duplicate output keys on Kafka %d; audit verify clean; outage warnings: process %d, sink %d",
		svc, out.records, out.rewards, out.entKeys, out.rawRows, out.rawFinal, out.rawRows-out.rawFinal, out.entRows, out.entFinal, out.dupKeys, proc.outages(), snk.outages())
}

// rawRows counts events_raw's rows, 0 while the sink has not created it yet.
func rawRows(ctx context.Context, store *clickhouse.Store) uint64 {
	var n uint64
	if err := store.Conn().QueryRow(ctx, "SELECT count() FROM events_raw").Scan(&n); err != nil {
		return 0
	}
	return n
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool, daemons ...*daemon) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		for _, d := range daemons {
			d.running(t)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestKafkaKilledUnderProcessAndSink: kill -9 of the (single) broker while
// process and sink run and inputs keep coming; the broker starts again
// ~20 s later. Both daemons must ride it out (not exit), and afterwards
// every input has its output, ClickHouse holds every record once and
// audit verify is clean.
func TestKafkaKilledUnderProcessAndSink(t *testing.T) { outage(t, "kafka") }

// TestClickHouseKilledUnderSink: the same with ClickHouse killed (server
// and supervisor: it stays down until started again).
func TestClickHouseKilledUnderSink(t *testing.T) { outage(t, "clickhouse") }

// TestClusterLosesABroker runs on the three-broker cluster (ops/stack up
// --kafka-brokers 3; NODESHARE_KAFKA_CLUSTER=1): the topics have three
// copies and min.insync.replicas 2, producers wait for acks=all. Two
// `nodeshare process` share the consumer groups and one `nodeshare sink`
// stores; the broker that leads the entitlements topic is killed (kill -9)
// while inputs keep coming, one of the two processors is stopped midway
// (the groups rebalance onto the other), and the broker is started again.
// At the end nothing is lost (every input has its output), nothing is
// duplicated in ClickHouse, and audit verify is clean.
func TestClusterLosesABroker(t *testing.T) {
	cfg := requireFaultTests(t)
	if os.Getenv("NODESHARE_KAFKA_CLUSTER") != "1" {
		t.Skip("cluster test: needs the three-broker stack (ops/stack up --kafka-brokers 3) and NODESHARE_KAFKA_CLUSTER=1; ops/test runs it in its cluster step")
	}
	brokers := cfg.brokers()
	if len(brokers.Addrs) < 3 {
		t.Fatalf("NODESHARE_KAFKA_CLUSTER=1 but NODESHARE_KAFKA_BROKERS lists %d broker(s): %v", len(brokers.Addrs), brokers)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	store, db := freshDatabase(t, ctx, cfg)
	prefix := fmt.Sprintf("it-cluster-%d.", time.Now().UnixNano())
	// The binary's defaults (0: the brokers' default.replication.factor
	// and min.insync.replicas) or NODESHARE_KAFKA_* from ops/stack env.
	in := newFaultInputs(t, ctx, brokers, kafka.TopicOptions{}, prefix)
	leader := checkReplication(t, ctx, brokers, prefix+schemas.TopicEntitlements)
	victim := "kafka"
	if leader > 1 {
		victim = fmt.Sprintf("kafka-%d", leader)
	}
	env := []string{"NODESHARE_TOPIC_PREFIX=" + prefix, "NODESHARE_CLICKHOUSE_DATABASE=" + db}
	procArgs := []string{"process", "--group", prefix + "entitlements", "--lifecycle-group", prefix + "lifecycle"}
	procA := startDaemon(t, "process A", env, procArgs...)
	procB := startDaemon(t, "process B", env, procArgs...)
	snk := startDaemon(t, "sink", env, "sink", "--group", prefix+"sink", "--batch", "200", "--batch-wait", "50ms")
	for i := 0; i < 4; i++ {
		in.next(ctx, 25, 2)
	}
	waitFor(t, 2*time.Minute, "the sink to store the first records", func() bool {
		return rawRows(ctx, store) > 0
	}, procA, procB, snk)

	stack(t, "kill", victim)
	t.Cleanup(func() { stack(t, "start", victim) })
	down := time.Now()
	for i := 0; i < 3; i++ {
		in.next(ctx, 25, 2)
	}
	procA.stop(t) // leaves the groups: they rebalance onto process B
	for i := 0; i < 3; i++ {
		in.next(ctx, 25, 2)
	}
	stack(t, "start", victim)
	t.Logf("%s (leader of the entitlements topic) down for %s", victim, time.Since(down).Round(time.Second))
	for i := 0; i < 2; i++ {
		in.next(ctx, 25, 2)
	}
	out := waitComplete(t, ctx, in, store, procB, snk)
	procB.stop(t)
	snk.stop(t)
	for _, d := range []*daemon{procA, procB, snk} {
		d.logOutages(t)
	}
	t.Logf("FAULT broker %s killed on the 3-broker cluster, process A stopped midway (rebalance): %d records, %d rewards, %d entitlement and pool period keys; lost 0; "+
		"events_raw %d rows, %d through FINAL (%d merged away); entitlements %d rows, %d through FINAL; duplicate output keys on Kafka %d; audit verify clean; outage warnings: process A %d, process B %d, sink %d",
		victim, out.records, out.rewards, out.entKeys, out.rawRows, out.rawFinal, out.rawRows-out.rawFinal, out.entRows, out.entFinal, out.dupKeys, procA.outages(), procB.outages(), snk.outages())
}

// checkReplication fails unless topic has three copies of each partition,
// all in sync, and min.insync.replicas 2; it returns the node id of the
// leader of partition 0.
func checkReplication(t *testing.T, ctx context.Context, brokers kafka.Brokers, topic string) int {
	t.Helper()
	client := &kgo.Client{Addr: kgo.TCP(brokers.Addrs...), Timeout: 30 * time.Second}
	md, err := client.Metadata(ctx, &kgo.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	leader := -1
	for _, tp := range md.Topics {
		for _, p := range tp.Partitions {
			if len(p.Replicas) != 3 || len(p.Isr) != 3 {
				t.Fatalf("%s/%d: %d replicas, %d in sync, want 3 and 3", topic, p.ID, len(p.Replicas), len(p.Isr))
			}
			if p.ID == 0 {
				leader = p.Leader.ID
			}
		}
	}
	res, err := client.DescribeConfigs(ctx, &kgo.DescribeConfigsRequest{Resources: []kgo.DescribeConfigRequestResource{
		{ResourceType: kgo.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"min.insync.replicas"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Resources {
		for _, c := range r.ConfigEntries {
			if c.ConfigName == "min.insync.replicas" && c.ConfigValue != "2" {
				t.Fatalf("%s: min.insync.replicas %s, want 2", topic, c.ConfigValue)
			}
		}
	}
	if leader < 1 {
		t.Fatalf("%s: no leader of partition 0", topic)
	}
	return leader
}
