package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	auditstage "github.com/nodeshare/nodeshare/pipeline/stage/audit"
	"github.com/nodeshare/nodeshare/pipeline/stage/process"
	"github.com/nodeshare/nodeshare/pipeline/stage/sink"
	"github.com/nodeshare/nodeshare/schemas"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// freshDatabase returns a store on a new, empty ClickHouse database that is
// dropped when the test ends, so a test can own the whole audit trail.
func freshDatabase(t *testing.T, ctx context.Context, cfg config) (*clickhouse.Store, string) {
	t.Helper()
	db := fmt.Sprintf("nodeshare_it_%d", time.Now().UnixNano())
	c := cfg.ClickHouse
	c.Database = db
	store, err := clickhouse.Open(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = store.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		store.Close()
	})
	return store, db
}

// kafkaTotals counts the records of the sink's topics and the distinct
// entitlement keys, as they are now, with each topic's end offset (records
// produced later by other tests are beyond it).
func kafkaTotals(t *testing.T, ctx context.Context, brokers kafka.Brokers) (records int, entitlementKeys int, ends map[string]int64) {
	t.Helper()
	keys := map[string]bool{}
	ends = map[string]int64{}
	for _, topic := range sink.Topics() {
		msgs, err := kafka.ReadAll(ctx, brokers, topic)
		if err != nil {
			t.Fatal(err)
		}
		records += len(msgs)
		for _, m := range msgs {
			if m.Partition != 0 {
				t.Fatalf("topic %s: the test expects one partition", topic)
			}
			ends[topic] = m.Offset + 1
		}
		if topic == schemas.TopicEntitlements {
			for _, m := range msgs {
				if env, err := schemas.DecodeEnvelope(m.Value); err == nil && env.Type == schemas.TypeEntitlement {
					keys[string(m.Key)] = true
				}
			}
		}
	}
	return records, len(keys), ends
}

// storedBelow counts the distinct raw rows of each topic below its end.
func storedBelow(t *testing.T, ctx context.Context, store *clickhouse.Store, ends map[string]int64) (n uint64) {
	t.Helper()
	for topic, end := range ends {
		n += count(t, ctx, store, "SELECT uniqExact(offset) FROM events_raw WHERE topic = ? AND offset < ?", topic, uint64(end))
	}
	return n
}

func count(t *testing.T, ctx context.Context, store *clickhouse.Store, q string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := store.Conn().QueryRow(ctx, q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestSinkKilledMidBatchLosesAndDuplicatesNothing kills the sink (SIGKILL)
// after it stored a batch of raw rows but before the typed rows and the
// offset commit, restarts it, and checks that ClickHouse holds every Kafka
// record exactly once, that the hash chain is intact, and that audit verify
// then detects a changed raw row and a changed decision row.
func TestSinkKilledMidBatchLosesAndDuplicatesNothing(t *testing.T) {
	cfg := requireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := demo(ctx, cfg, fmt.Sprintf("it-sink-%d", time.Now().UnixNano()), quietLog()); err != nil {
		t.Fatal(err)
	}
	store, db := freshDatabase(t, ctx, cfg)
	records, entKeys, ends := kafkaTotals(t, ctx, cfg.brokers())
	group := fmt.Sprintf("it-sink-%d", time.Now().UnixNano())
	env := []string{"NODESHARE_CLICKHOUSE_DATABASE=" + db}

	code, _, stderr := runCLI(t, append(env, "NODESHARE_CRASH_AT="+sink.CrashAfterRaw), "sink", "--group", group, "--drain", "--batch", "50", "--batch-wait", "20ms")
	if code != -1 {
		t.Fatalf("the sink was meant to be killed mid-batch, exit %d:\n%s", code, stderr)
	}
	stored := count(t, ctx, store, "SELECT count() FROM events_raw")
	if stored == 0 || stored >= uint64(records) {
		t.Fatalf("after the crash: %d raw rows of %d records (want some, not all)", stored, records)
	}
	if n := count(t, ctx, store, "SELECT count() FROM entitlements"); n != 0 {
		t.Fatalf("typed rows written after the crash point: %d", n)
	}
	if code, _, stderr := runCLI(t, env, "sink", "--group", group, "--drain", "--batch", "70"); code != 0 {
		t.Fatalf("sink restart: exit %d\n%s", code, stderr)
	}
	// Nothing lost: every record on the topics when the test began is
	// stored; nothing duplicated: one row per coordinate through FINAL.
	// (Other tests may have produced more since; those are stored too.)
	if n := storedBelow(t, ctx, store, ends); n != uint64(records) {
		t.Fatalf("events_raw holds %d of the %d records that were on the topics", n, records)
	}
	final := count(t, ctx, store, "SELECT count() FROM events_raw FINAL")
	if n := count(t, ctx, store, "SELECT uniqExact(topic, partition, offset) FROM events_raw"); n != final || final < uint64(records) {
		t.Fatalf("events_raw: %d rows through FINAL, %d distinct coordinates, %d records at the start", final, n, records)
	}
	if n := count(t, ctx, store, "SELECT count() FROM entitlements FINAL"); n < uint64(entKeys) {
		t.Fatalf("entitlements holds %d rows, Kafka had %d distinct entitlement keys", n, entKeys)
	}
	rep, err := auditstage.Verify(ctx, store, schemas.TopicEntitlements)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 || uint64(rep.Chained) != final || rep.Periods == 0 {
		t.Fatalf("audit verify after crash and restart: %d chained of %d, %d periods, findings %v", rep.Chained, final, rep.Periods, rep.Findings)
	}

	// Change one raw entitlement row: the chain breaks exactly there.
	var off uint64
	if err := store.Conn().QueryRow(ctx, "SELECT offset FROM events_raw FINAL WHERE topic = ? AND event_type = 'entitlement' ORDER BY offset LIMIT 1",
		schemas.TopicEntitlements).Scan(&off); err != nil {
		t.Fatal(err)
	}
	if err := store.Conn().Exec(ctx, fmt.Sprintf("ALTER TABLE events_raw UPDATE payload = replaceOne(payload, '\"transfer_e8s\":', '\"transfer_e8s\":1') WHERE topic = '%s' AND offset = %d SETTINGS mutations_sync = 2",
		schemas.TopicEntitlements, off)); err != nil {
		t.Fatal(err)
	}
	rep, err = auditstage.Verify(ctx, store, schemas.TopicEntitlements)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("events_raw %s/0@%d", schemas.TopicEntitlements, off)
	if !hasFinding(rep, "chain", want) {
		t.Fatalf("changed raw row not reported at %s: %v", want, rep.Findings)
	}
	// Change one decision row: the decision-table and SQL totals checks see it.
	if err := store.Conn().Exec(ctx, "ALTER TABLE entitlements UPDATE transfer_e8s = transfer_e8s + 1 WHERE role = 'hoster' SETTINGS mutations_sync = 2"); err != nil {
		t.Fatal(err)
	}
	rep, err = auditstage.Verify(ctx, store, schemas.TopicEntitlements)
	if err != nil {
		t.Fatal(err)
	}
	if !hasFinding(rep, "decision-table", "hoster") || !hasFinding(rep, "totals", "pool_periods") {
		t.Fatalf("changed entitlement row not reported: %v", rep.Findings)
	}
}

func hasFinding(rep auditstage.Report, check, where string) bool {
	for _, f := range rep.Findings {
		if f.Check == check && strings.Contains(f.Where, where) {
			return true
		}
	}
	return false
}

// TestProcessorKilledMidPublishThenReplayIsIdentical replays every reward
// into a fresh topic, killing the processor after it published half of the
// first reward's records; after a restart the fresh topic holds each key
// once and byte-identical to the live dao.entitlements.v1.
func TestProcessorKilledMidPublishThenReplayIsIdentical(t *testing.T) {
	cfg := requireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dao := fmt.Sprintf("it-replay-%d", time.Now().UnixNano())
	if _, err := demo(ctx, cfg, dao, quietLog()); err != nil {
		t.Fatal(err)
	}
	topic := fmt.Sprintf("it.entitlements-replay-%d", time.Now().UnixNano())
	group := "it-replay-" + topic
	args := []string{"process", "--group", group, "--entitlements-topic", topic, "--drain", "--ledger-fee-e8s", "10000"}
	code, _, stderr := runCLI(t, []string{"NODESHARE_CRASH_AT=" + process.CrashMidPublish}, args...)
	if code != -1 {
		t.Fatalf("the processor was meant to be killed mid-publish, exit %d:\n%s", code, stderr)
	}
	partial, err := kafka.ReadAll(ctx, cfg.brokers(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(partial) == 0 {
		t.Fatal("nothing was published before the crash point")
	}
	if code, _, stderr := runCLI(t, nil, args...); code != 0 {
		t.Fatalf("processor restart: exit %d\n%s", code, stderr)
	}
	replayed, err := kafka.ReadAll(ctx, cfg.brokers(), topic)
	if err != nil {
		t.Fatal(err)
	}
	live, err := kafka.ReadAll(ctx, cfg.brokers(), schemas.TopicEntitlements)
	if err != nil {
		t.Fatal(err)
	}
	// The records of this test's DAO, made by this version of the code,
	// must come out byte for byte (older history on a long-lived stack may
	// predate a format change, so it is not compared).
	mine := func(k string) bool { return strings.HasPrefix(k, dao+"/") }
	liveByKey := map[string][]byte{}
	for _, m := range live {
		if mine(string(m.Key)) {
			liveByKey[string(m.Key)] = m.Value
		}
	}
	if len(liveByKey) != 75 { // 2 pool periods + 73 entitlements
		t.Fatalf("the live topic holds %d records of %s, want 75", len(liveByKey), dao)
	}
	seen := map[string]bool{}
	all := map[string]bool{}
	for _, m := range replayed {
		k := string(m.Key)
		if all[k] {
			t.Fatalf("key %s published twice in the replay", k)
		}
		all[k] = true
		if !mine(k) {
			continue
		}
		seen[k] = true
		if !bytes.Equal(liveByKey[k], m.Value) {
			t.Fatalf("key %s: replay differs from the live topic\nlive:   %.400s\nreplay: %.400s", k, liveByKey[k], m.Value)
		}
	}
	if len(seen) != len(liveByKey) {
		t.Fatalf("replay has %d keys, live topic %d", len(seen), len(liveByKey))
	}
}

// TestMalformedEventsGoToTheDeadLetterTopic publishes one bad record of
// every kind to the processor's inputs, and checks that each lands in
// dao.dlq.v1 and in ClickHouse with its reason, and that the stream goes on.
func TestMalformedEventsGoToTheDeadLetterTopic(t *testing.T) {
	cfg := requireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	brokers := cfg.brokers()
	if err := kafka.EnsureTopics(ctx, brokers, schemas.Topics(), 1); err != nil {
		t.Fatal(err)
	}
	nonce := fmt.Sprintf("it-dlq-%d", time.Now().UnixNano())
	env := func(typ string, v any) []byte {
		e, err := schemas.NewEnvelope(typ, nonce, schemas.Provenance{Source: "test"}, v)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := e.Marshal()
		return b
	}
	wrongVersion := bytes.Replace(env(schemas.TypeRate, schemas.Rate{Kind: "spot", TimestampSeconds: 1, XDRPermyriadPerICP: 1}), []byte(`"schema_version":1`), []byte(`"schema_version":9`), 1)
	badHash := bytes.Replace(env(schemas.TypeRate, schemas.Rate{Kind: "spot", TimestampSeconds: 1, XDRPermyriadPerICP: 5}), []byte(`"xdr_permyriad_per_icp":5`), []byte(`"xdr_permyriad_per_icp":6`), 1)
	cases := []struct {
		topic, reason string
		value         []byte
	}{
		{schemas.TopicRates, "envelope", []byte("not json at all")},
		{schemas.TopicRates, "schema_version must be 1", wrongVersion},
		{schemas.TopicRates, "content_sha256", badHash},
		{schemas.TopicRates, "xdr_permyriad_per_icp must be > 0", env(schemas.TypeRate, schemas.Rate{Kind: "spot", TimestampSeconds: 1})},
		{schemas.TopicPools, "type must be", env(schemas.TypeRate, schemas.Rate{Kind: "spot", TimestampSeconds: 1, XDRPermyriadPerICP: 1})},
		{schemas.TopicPools, "nodes is empty", env(schemas.TypePool, schemas.Pool{DAO: nonce, PoolID: "p", NodeProvider: "np"})},
		{schemas.TopicContributions, "amount_e8s must be > 0", env(schemas.TypeContribution, schemas.Contribution{DAO: nonce, PoolID: "p", ContributionID: "c", Sponsor: "s", AmountE8s: -5, At: "2026-01-01T00:00:00Z"})},
		{schemas.TopicContributions, "unknown field", env(schemas.TypeContribution, map[string]any{"dao": nonce, "surprise": 1})},
		{schemas.TopicNodeRewards, "no pool of node provider", env(schemas.TypeNodeReward, schemas.NodeReward{NodeProvider: nonce, TimestampSeconds: 1, AmountE8s: 5, XDRPermyriadPerICP: 1})},
		{schemas.TopicNodeRewards, "xdr_permyriad_per_icp must be > 0", env(schemas.TypeNodeReward, schemas.NodeReward{NodeProvider: nonce, TimestampSeconds: 1, AmountE8s: 5})},
	}
	p := kafka.NewProducer(brokers)
	defer p.Close()
	for i, c := range cases {
		if err := p.Publish(ctx, kafka.Record{Topic: c.topic, Key: []byte(fmt.Sprintf("%s/%d", nonce, i)), Value: c.value}); err != nil {
			t.Fatal(err)
		}
	}
	// The processor and the sink drain; then a normal month still goes through.
	res, err := demo(ctx, cfg, nonce+"-after", quietLog())
	if err != nil {
		t.Fatalf("the stream did not go on after bad records: %v", err)
	}
	if res.Payout.Sent == 0 {
		t.Fatal("the month after the bad records paid nothing")
	}
	dl, err := kafka.ReadAll(ctx, brokers, schemas.TopicDLQ)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, m := range dl {
		if !schemas.IsDeadLetterRecord(m.Headers) {
			continue // an older dead letter of another run
		}
		d, err := schemas.ReadDeadLetter(m.Key, m.Value, m.Headers)
		if err != nil {
			t.Fatalf("dead letter %s/%d@%d: %v", m.Topic, m.Partition, m.Offset, err)
		}
		if strings.HasPrefix(d.Key, nonce+"/") {
			// DLQ v1: the value is the rejected record, byte for byte.
			if want := schemas.DeadLetterKey(d.SourceTopic, d.Partition, d.Offset); string(m.Key) != want {
				t.Errorf("dead letter key %q, want %q", m.Key, want)
			}
			reasons[d.Key] = d.Reason
			var i int
			if _, err := fmt.Sscanf(strings.TrimPrefix(d.Key, nonce+"/"), "%d", &i); err != nil || i >= len(cases) {
				t.Fatalf("dead letter key %q is none of the cases", d.Key)
			}
			if !bytes.Equal(m.Value, cases[i].value) || d.SourceTopic != cases[i].topic {
				t.Errorf("dead letter %s: value %q from %s, want the record as published %q from %s", d.Key, m.Value, d.SourceTopic, cases[i].value, cases[i].topic)
			}
		}
	}
	store, err := clickhouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for i, c := range cases {
		key := fmt.Sprintf("%s/%d", nonce, i)
		if !strings.Contains(reasons[key], c.reason) {
			t.Errorf("case %d on %s: dead letter reason %q, want it to mention %q", i, c.topic, reasons[key], c.reason)
		}
		if n := count(t, ctx, store, "SELECT count() FROM dead_letters FINAL WHERE key = ? AND position(reason, ?) > 0 AND base64Decode(raw_base64) = ?", key, c.reason, string(c.value)); n == 0 {
			t.Errorf("case %d: no dead_letters row in ClickHouse with reason %q and the raw bytes", i, c.reason)
		}
		// The raw audit row of the dead letter, through the auditors' view.
		if n := count(t, ctx, store, "SELECT count() FROM raw_dead_letters_v1 WHERE event_id = ? AND source_topic = ? AND position(reason, ?) > 0",
			deadLetterEventID(t, dl, key), c.topic, c.reason); n == 0 {
			t.Errorf("case %d: no raw_dead_letters_v1 row with source %s and reason %q", i, c.topic, c.reason)
		}
	}
}

// deadLetterEventID is the DLQ record key (the raw row's event id) of the
// dead letter of the record published with key.
func deadLetterEventID(t *testing.T, dl []kafka.Message, key string) string {
	t.Helper()
	for _, m := range dl {
		if d, err := schemas.ReadDeadLetter(m.Key, m.Value, m.Headers); err == nil && d.Key == key {
			return string(m.Key)
		}
	}
	t.Fatalf("no dead letter for %s", key)
	return ""
}

// TestRatesProcessorAveragesThirtyDays publishes spot rates on three days
// and checks the processor's 30-day average and NNS rate (with the minimum
// floor) as of each observation.
func TestRatesProcessorAveragesThirtyDays(t *testing.T) {
	cfg := requireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	brokers := cfg.brokers()
	if err := kafka.EnsureTopics(ctx, brokers, schemas.Topics(), 1); err != nil {
		t.Fatal(err)
	}
	// A range of days of its own, far from any other test's rates.
	base := uint64(2_000_000_000 + (time.Now().UnixNano()/1e9%100_000)*86_400*40)
	src := fmt.Sprintf("it-rates-%d", time.Now().UnixNano())
	obs := []schemas.Rate{
		{Kind: "spot", TimestampSeconds: base + 100, XDRPermyriadPerICP: 30_000},
		{Kind: "spot", TimestampSeconds: base + 86_400, XDRPermyriadPerICP: 40_001},
		{Kind: "spot", TimestampSeconds: base + 2*86_400, XDRPermyriadPerICP: 5_000},
	}
	var facts []schemas.Fact
	for _, r := range obs {
		f, err := schemas.NewFact(schemas.TopicRates, schemas.TypeRate, schemas.RateKey(src, r.Kind, r.TimestampSeconds), schemas.Provenance{Source: "test"}, r)
		if err != nil {
			t.Fatal(err)
		}
		facts = append(facts, f)
	}
	p := kafka.NewProducer(brokers)
	defer p.Close()
	if _, err := (&kafka.Log{Brokers: brokers, Producer: p}).PublishOnce(ctx, facts); err != nil {
		t.Fatal(err)
	}
	pc := process.Config{Group: process.DefaultGroup, EntitlementsTopic: schemas.TopicEntitlements, Params: entitle.Params{LedgerFeeE8s: 10_000}, Logger: quietLog()}
	if err := runProcessor(ctx, brokers, kafka.TopicOptions{}, "", pc, true); err != nil {
		t.Fatal(err)
	}
	msgs, err := kafka.ReadAll(ctx, brokers, schemas.TopicRates)
	if err != nil {
		t.Fatal(err)
	}
	// The derived rates are keyed nodeshare/<kind>/<timestamp seconds>
	// (schemas.RateKey); this test's timestamps are in a range of its own.
	got := map[string]int64{}
	for _, m := range msgs {
		parts := strings.Split(string(m.Key), "/")
		if len(parts) != 3 || parts[0] != "nodeshare" {
			continue
		}
		ts, err := strconv.ParseUint(parts[2], 10, 64)
		if err != nil || ts < base || ts > base+2*86_400 {
			continue
		}
		if want := schemas.RateKey("nodeshare", parts[1], ts); string(m.Key) != want {
			t.Fatalf("derived rate key %q, want %q", m.Key, want)
		}
		e, err := schemas.DecodeEnvelope(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		var r schemas.Rate
		if err := e.DecodePayload(schemas.TypeRate, &r); err != nil {
			t.Fatal(err)
		}
		k := parts[1] + "@" + strconv.FormatUint(r.TimestampSeconds-base, 10)
		if _, dup := got[k]; dup {
			t.Fatalf("derived rate %s published twice", k)
		}
		got[k] = r.XDRPermyriadPerICP
	}
	want := map[string]int64{
		"avg30@100": 30_000, "nns@100": 30_000,
		"avg30@86400": 35_000, "nns@86400": 35_000, // floor((30000+40001)/2)
		"avg30@172800": 25_000, "nns@172800": 25_000, // floor(75001/3)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}
