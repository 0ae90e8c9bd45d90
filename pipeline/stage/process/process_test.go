package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

func record(t *testing.T, topic, typ, key string, v any) schemas.Record {
	t.Helper()
	f, err := schemas.NewFact(topic, typ, key, schemas.Provenance{Source: "test"}, v)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Envelope.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return schemas.Record{Topic: topic, Key: []byte(key), Value: b}
}

// world publishes a DAO with two pools of one node provider, their
// contributions and one NNS reward, and returns the records in the order
// the processor consumes them.
func world(t *testing.T, l *memLog) []schemas.Message {
	t.Helper()
	pools := []schemas.Pool{
		{DAO: "d", PoolID: "p1", NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n1", WeightXDRPermyriad: 3}},
			Hoster: schemas.HosterTerms{Account: "h", FixedXDRPermyriad: 10_000, Bps: 1000}, DAOFeeBps: 200, WhalePremiumBps: 3500, RulesVersion: "v1", ProposalStatus: "adopted"},
		{DAO: "d", PoolID: "p2", NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n2", WeightXDRPermyriad: 1}},
			Hoster: schemas.HosterTerms{Account: "h", Bps: 500}, RulesVersion: "v1", ProposalStatus: "adopted"},
	}
	var recs []schemas.Record
	for _, p := range pools {
		recs = append(recs, record(t, schemas.TopicPools, schemas.TypePool, schemas.PoolKey(p.DAO, p.PoolID), p))
	}
	for i := 0; i < 8; i++ {
		c := schemas.Contribution{DAO: "d", PoolID: []string{"p1", "p2"}[i%2], ContributionID: fmt.Sprintf("c%d", i),
			Sponsor: fmt.Sprintf("s%d", i), AmountE8s: int64(1_00000000 + i*10_000_000), At: "2026-01-02T00:00:00Z"}
		recs = append(recs, record(t, schemas.TopicContributions, schemas.TypeContribution, schemas.ContributionKey(c.DAO, c.PoolID, c.ContributionID), c))
	}
	r := schemas.NodeReward{NodeProvider: "np", TimestampSeconds: 1_790_000_000, AmountE8s: 100_000_000_003, XDRPermyriadPerICP: 35_000}
	recs = append(recs, record(t, schemas.TopicNodeRewards, schemas.TypeNodeReward, schemas.NodeRewardKey(r.NodeProvider, r.TimestampSeconds), r))
	return l.add(recs...)
}

func newHandler(t *testing.T, cfg Config, l Log) stage.BatchHandler {
	t.Helper()
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.EntitlementsTopic == "" {
		cfg.EntitlementsTopic = schemas.TopicEntitlements
	}
	h, err := New(cfg, l)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// handle runs one batch as the consume loop does: prepare, then handle.
func handle(h stage.BatchHandler, batch []schemas.Message) error {
	return h.Handle(context.Background(), batch, h.Prepare(batch))
}

// expectedFacts is what the rules decide for the world, computed without
// the stage.
func expectedFacts(t *testing.T, batch []schemas.Message) []schemas.Fact {
	t.Helper()
	st := entitle.NewState()
	var reward schemas.NodeReward
	for _, m := range batch {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if m.Topic == schemas.TopicNodeRewards {
			if err := env.DecodePayload(schemas.TypeNodeReward, &reward); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := st.Apply(env); err != nil {
			t.Fatal(err)
		}
	}
	facts, err := st.Reward(reward, entitle.Params{LedgerFeeE8s: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	return facts
}

// A reward's pool periods and entitlements are published once, as the
// rules decided them; a redelivered batch (a crash before the commit)
// publishes nothing more and dead-letters nothing.
func TestRewardIsPublishedOnceAndRedeliveryAddsNothing(t *testing.T) {
	l := newMemLog()
	batch := world(t, l)
	h := newHandler(t, Config{Params: entitle.Params{LedgerFeeE8s: 10_000}}, l)
	if err := handle(h, batch); err != nil {
		t.Fatal(err)
	}
	want := expectedFacts(t, batch)
	got := l.keys(schemas.TopicEntitlements)
	if len(got) != len(want) || len(want) < 4 {
		t.Fatalf("published %d records, the rules decided %d", len(got), len(want))
	}
	for i, f := range want {
		if got[i] != f.Key {
			t.Fatalf("record %d: key %s, want %s (in the rules' order)", i, got[i], f.Key)
		}
	}
	for _, restart := range []bool{false, true} {
		if restart {
			h = newHandler(t, Config{Params: entitle.Params{LedgerFeeE8s: 10_000}}, l)
		}
		if err := handle(h, batch); err != nil {
			t.Fatal(err)
		}
		if n := len(l.keys(schemas.TopicEntitlements)); n != len(want) {
			t.Fatalf("redelivery (restart %v): the topic holds %d records, want %d", restart, n, len(want))
		}
	}
	if n := len(l.keys(schemas.TopicDLQ)); n != 0 {
		t.Fatalf("%d dead letters for valid records", n)
	}
}

// Invalid records become dead letters (DLQ v1: the value unchanged, the
// reason in a header, keyed by the source coordinates), published once the
// batch's facts are, in one write; the valid records of the batch are
// handled all the same.
func TestInvalidRecordsAreDeadLetteredAndTheStreamGoesOn(t *testing.T) {
	l := newMemLog()
	good := world(t, l)
	bad := l.add(
		schemas.Record{Topic: schemas.TopicRates, Key: []byte("x/0"), Value: []byte("not json at all")},
		record(t, schemas.TopicContributions, schemas.TypeContribution, "x/1", schemas.Contribution{DAO: "other", PoolID: "p1", ContributionID: "neg", Sponsor: "s", AmountE8s: -5, At: "2026-01-01T00:00:00Z"}),
		record(t, schemas.TopicNodeRewards, schemas.TypeNodeReward, "x/2", schemas.NodeReward{NodeProvider: "nobody", TimestampSeconds: 1, AmountE8s: 5, XDRPermyriadPerICP: 1}),
	)
	reasons := []string{"envelope", "amount_e8s must be > 0", "no pool of node provider"}
	batch := append([]schemas.Message{bad[0], bad[1]}, append(good, bad[2])...)
	obs := &counted{}
	h := newHandler(t, Config{DLQTopic: "test.dlq", Params: entitle.Params{LedgerFeeE8s: 10_000}, Observer: obs}, l)
	if err := handle(h, batch); err != nil {
		t.Fatal(err)
	}
	// The observer is told of each dead letter's class, and of every
	// record handled, once the batch is durable.
	wantDead := map[string]int{
		schemas.TopicRates + " " + stage.ReasonUndecodable:     1,
		schemas.TopicContributions + " " + stage.ReasonInvalid: 1,
		schemas.TopicNodeRewards + " " + stage.ReasonRefused:   1,
	}
	if !maps.Equal(obs.dead, wantDead) {
		t.Errorf("dead letters observed %v, want %v", obs.dead, wantDead)
	}
	in := 0
	for _, n := range obs.in {
		in += n
	}
	if in != len(batch) {
		t.Errorf("records in observed %v: %d, want %d", obs.in, in, len(batch))
	}
	if n, want := len(l.keys(schemas.TopicEntitlements)), len(expectedFacts(t, good)); n != want {
		t.Fatalf("valid records beside bad ones: %d records published, want %d", n, want)
	}
	dl, _ := l.ReadAll(context.Background(), "test.dlq")
	if len(dl) != len(bad) {
		t.Fatalf("%d dead letters on the configured topic, want %d", len(dl), len(bad))
	}
	for i, m := range dl {
		d, err := schemas.ReadDeadLetter(m.Key, m.Value, m.Headers)
		if err != nil {
			t.Fatal(err)
		}
		src := bad[i]
		if string(m.Key) != schemas.DeadLetterKey(src.Topic, src.Partition, src.Offset) || !bytes.Equal(m.Value, src.Value) {
			t.Errorf("dead letter %d: key %s, value %q: want the coordinates of %s/%d@%d and the value unchanged", i, m.Key, m.Value, src.Topic, src.Partition, src.Offset)
		}
		if !strings.Contains(d.Reason, reasons[i]) {
			t.Errorf("dead letter %d: reason %q, want it to mention %q", i, d.Reason, reasons[i])
		}
	}
	// Durable before effect, in order: the reward's facts, then the dead
	// letters in one write (the last one: the loop commits after it).
	if last := l.journal[len(l.journal)-1]; last != "publish 3" {
		t.Fatalf("writes %v: the dead letters must be the batch's last write, in one", l.journal)
	}
}

// counted is a stage.StreamObserver that keeps the counts.
type counted struct{ in, dead map[string]int }

func (c *counted) RecordsIn(topic string, n int) {
	if c.in == nil {
		c.in = map[string]int{}
	}
	c.in[topic] += n
}

func (c *counted) DeadLettered(topic, reason string, n int) {
	if c.dead == nil {
		c.dead = map[string]int{}
	}
	c.dead[topic+" "+reason] += n
}

// crashed is what the test crash hook panics with: the stage stops at the
// crash point as a killed process would, with nothing after it done.
type crashed struct{ point string }

func crashAt(point string) stage.Crash {
	return func(p string) {
		if p == point {
			panic(crashed{p})
		}
	}
}

// handleUntilCrash runs one batch and reports whether the crash hook fired.
func handleUntilCrash(t *testing.T, h stage.BatchHandler, batch []schemas.Message) (fired bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crashed); !ok {
				panic(r)
			}
			fired = true
		}
	}()
	if err := handle(h, batch); err != nil {
		t.Fatal(err)
	}
	return false
}

// A processor killed with half of a reward's facts published completes the
// reward after a restart: every key once, byte-identical to a processor
// that never crashed.
func TestKilledMidPublishCompletesOnRestart(t *testing.T) {
	l := newMemLog()
	batch := world(t, l)
	params := entitle.Params{LedgerFeeE8s: 10_000}
	if !handleUntilCrash(t, newHandler(t, Config{Params: params, Crash: crashAt(CrashMidPublish)}, l), batch) {
		t.Fatal("the crash point was not reached")
	}
	want := expectedFacts(t, batch)
	if n := len(l.keys(schemas.TopicEntitlements)); n != len(want)/2 {
		t.Fatalf("at the crash point %d records are published, want half of %d", n, len(want))
	}
	if n := len(l.keys(schemas.TopicDLQ)); n != 0 {
		t.Fatal("dead letters written before the crash point")
	}
	// Restart: an armed hook for another point does not change the output.
	if handleUntilCrash(t, newHandler(t, Config{Params: params, Crash: crashAt("elsewhere")}, l), batch) {
		t.Fatal("crashed again")
	}
	ref := newMemLog()
	world(t, ref)
	if err := handle(newHandler(t, Config{Params: params}, ref), batch); err != nil {
		t.Fatal(err)
	}
	got, _ := l.ReadAll(context.Background(), schemas.TopicEntitlements)
	clean, _ := ref.ReadAll(context.Background(), schemas.TopicEntitlements)
	seen := map[string][]byte{}
	for _, m := range got {
		if _, dup := seen[string(m.Key)]; dup {
			t.Fatalf("key %s published twice", m.Key)
		}
		seen[string(m.Key)] = m.Value
	}
	if len(seen) != len(clean) {
		t.Fatalf("after the restart %d keys, without a crash %d", len(seen), len(clean))
	}
	for _, m := range clean {
		if !bytes.Equal(seen[string(m.Key)], m.Value) {
			t.Fatalf("key %s differs from the run without a crash", m.Key)
		}
	}
}

// A log that fails stops the batch with the error (no commit): the loop
// delivers it again.
func TestLogFailureStopsTheBatch(t *testing.T) {
	l := newMemLog()
	batch := world(t, l)
	boom := errors.New("broker gone")
	l.fail = boom
	if err := handle(newHandler(t, Config{}, l), batch); !errors.Is(err, boom) {
		t.Fatalf("handle: %v, want the log's error", err)
	}
}

func rate(t *testing.T, l *memLog, source string, ts uint64, v int64) schemas.Message {
	t.Helper()
	return l.add(record(t, schemas.TopicRates, schemas.TypeRate, schemas.RateKey(source, "spot", ts), schemas.Rate{Kind: "spot", TimestampSeconds: ts, XDRPermyriadPerICP: v}))[0]
}

func derivedRates(t *testing.T, l *memLog) map[string]int64 {
	t.Helper()
	msgs, _ := l.ReadAll(context.Background(), schemas.TopicRates)
	out := map[string]int64{}
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if env.Provenance.Source != "nodeshare" {
			continue
		}
		var r schemas.Rate
		if err := env.DecodePayload(schemas.TypeRate, &r); err != nil {
			t.Fatal(err)
		}
		if want := schemas.RateKey("nodeshare", r.Kind, r.TimestampSeconds); string(m.Key) != want {
			t.Fatalf("derived rate key %s, want %s", m.Key, want)
		}
		if _, dup := out[string(m.Key)]; dup {
			t.Fatalf("derived rate %s published twice", m.Key)
		}
		out[string(m.Key)] = r.XDRPermyriadPerICP
	}
	return out
}

// Two spot rates with one timestamp (two sources) derive one avg30 and one
// nns fact under nodeshare/<kind>/<timestamp>: those as of the first of
// them on the topic. Any batching, a redelivery and a replay give the
// same facts and no conflict.
func TestDerivedRatesOnePerKindAndTimestamp(t *testing.T) {
	const t1, t2 = 1_790_000_000, 1_790_000_000 + 86_400
	build := func() (*memLog, []schemas.Message) {
		l := newMemLog()
		return l, []schemas.Message{rate(t, l, "cmc", t1, 30_000), rate(t, l, "dashboard", t1, 30_010), rate(t, l, "cmc", t2, 40_001)}
	}
	// Minimum rate 4 XDR per ICP: the floor lifts the NNS rate.
	cfg := Config{Params: entitle.Params{MinimumICPXDRRate: 400}}
	want := map[string]int64{
		"nodeshare/avg30/1790000000": 30_000, "nodeshare/nns/1790000000": 40_000, // as of cmc's: the dashboard's came later
		"nodeshare/avg30/1790086400": 35_005, "nodeshare/nns/1790086400": 40_000, // floor((30010+40001)/2): the day's latest, highest rate
	}
	for _, cut := range [][]int{{3}, {1, 1, 1}, {2, 1}} {
		l, spots := build()
		h := newHandler(t, cfg, l)
		for lo, i := 0, 0; i < len(cut); lo, i = lo+cut[i], i+1 {
			if err := handle(h, spots[lo:lo+cut[i]]); err != nil {
				t.Fatalf("batches %v: %v", cut, err)
			}
		}
		// Redelivery of everything, by a restarted processor.
		if err := handle(newHandler(t, cfg, l), spots); err != nil {
			t.Fatalf("batches %v, redelivered: %v", cut, err)
		}
		got := derivedRates(t, l)
		if len(got) != len(want) {
			t.Fatalf("batches %v: derived %v, want %v", cut, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("batches %v: %s = %d, want %d", cut, k, got[k], v)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Group: DefaultGroup, EntitlementsTopic: schemas.TopicEntitlements}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		edit func(*Config)
		want string
	}{
		"no group":           {func(c *Config) { c.Group = "" }, "consumer group is empty"},
		"no output":          {func(c *Config) { c.EntitlementsTopic = "" }, "entitlements topic is empty"},
		"output is an input": {func(c *Config) { c.EntitlementsTopic = schemas.TopicRates }, "is one of the inputs"},
		"output is read":     {func(c *Config) { c.DLQTopic = schemas.TopicPoolLifecycle }, "output topic dao.pool-lifecycle.v1 is one of the topics a reward's state is read from"},
		"negative fee":       {func(c *Config) { c.Params.LedgerFeeE8s = -1 }, "ledger fee must be >= 0 e8s, got -1"},
		"untyped input":      {func(c *Config) { c.InputTypes = map[string]string{"t": ""} }, "both must be set"},
	} {
		cfg := ok
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
		if _, err := New(cfg, newMemLog()); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
}
