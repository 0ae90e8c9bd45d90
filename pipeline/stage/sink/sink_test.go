package sink

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

func newHandler(t *testing.T, store Store, crash stage.Crash) stage.BatchHandler {
	t.Helper()
	h, err := New(Config{Group: DefaultGroup, MaxBatch: 1000, MaxWait: time.Millisecond, Crash: crash}, store)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func handle(h stage.BatchHandler, batch []schemas.Message) error {
	return h.Handle(context.Background(), batch, h.Prepare(batch))
}

var at = time.Date(2026, 9, 2, 6, 0, 0, 0, time.UTC)

// messages returns n records of topic/0 from offset from: entitlements,
// each a valid envelope.
func messages(t *testing.T, topic string, from, n int) []schemas.Message {
	t.Helper()
	var out []schemas.Message
	for i := from; i < from+n; i++ {
		e := schemas.Entitlement{DAO: "d", Period: "2026-09-01", PoolID: "p", Recipient: fmt.Sprintf("s%04d", i), Role: "sponsor",
			RulesVersion: "v1", ShareE8s: int64(i), OwedE8s: int64(i), TransferE8s: int64(i)}
		key := schemas.EntitlementKey(e.DAO, e.Period, e.PoolID, e.Role, e.Recipient)
		env, err := schemas.NewEnvelope(schemas.TypeEntitlement, key, schemas.Provenance{Source: "nodeshare", Method: "entitle"}, e)
		if err != nil {
			t.Fatal(err)
		}
		b, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, schemas.Message{Topic: topic, Partition: 0, Offset: int64(i), Key: []byte(key), Value: b, Time: at})
	}
	return out
}

// checkChain verifies the hash chain of rows (one stream, from offset 0):
// each row links to the one before it, and the hashes recompute.
func checkChain(t *testing.T, rows []schemas.RawEvent, n int) {
	t.Helper()
	if len(rows) != n {
		t.Fatalf("%d raw rows stored, want %d", len(rows), n)
	}
	prev := schemas.ChainGenesis
	for i, r := range rows {
		if r.Offset != int64(i) || r.PrevHash != prev || r.RowHash != schemas.ChainHash(prev, r.ChainRow()) {
			t.Fatalf("row %d (offset %d): the chain does not link", i, r.Offset)
		}
		prev = r.RowHash
	}
}

// The chain links across batches: from the sink's own tip when a batch
// follows the last one, from the store's tip after a restart, and the
// hashes are those of one batch of everything.
func TestChainLinksAcrossBatchesAndRestarts(t *testing.T) {
	msgs := messages(t, "t", 0, 30)
	store := newMemStore()
	h := newHandler(t, store, nil)
	for _, b := range [][]schemas.Message{msgs[0:7], msgs[7:8], msgs[8:20]} {
		if err := handle(h, b); err != nil {
			t.Fatal(err)
		}
	}
	// A restarted sink knows no tip: it asks the store.
	if err := handle(newHandler(t, store, nil), msgs[20:30]); err != nil {
		t.Fatal(err)
	}
	rows := store.rows("t")
	checkChain(t, rows, 30)
	one := newMemStore()
	if err := handle(newHandler(t, one, nil), msgs); err != nil {
		t.Fatal(err)
	}
	for i, r := range one.rows("t") {
		if r.RowHash != rows[i].RowHash {
			t.Fatalf("offset %d: batching changed the row hash", i)
		}
	}
	if store.typed["ent"] != 30 || len(store.ents) != 30 || store.ents[29].Offset != 29 || store.ents[29].EventID != string(msgs[29].Key) {
		t.Fatalf("entitlement rows: %d, last %+v", len(store.ents), store.ents[len(store.ents)-1])
	}
}

// A redelivered batch (a crash before the commit) sends the same tokens,
// so the store keeps one copy of everything.
func TestRedeliveredBatchStoresNothingMore(t *testing.T) {
	msgs := messages(t, "t", 0, 40)
	store := newMemStore()
	if err := handle(newHandler(t, store, nil), msgs); err != nil {
		t.Fatal(err)
	}
	for _, restart := range []bool{false, true} {
		h := newHandler(t, store, nil)
		if !restart {
			if err := handle(h, msgs[:10]); err != nil {
				t.Fatal(err)
			}
		}
		if err := handle(h, msgs); err != nil {
			t.Fatal(err)
		}
	}
	checkChain(t, store.rows("t"), 40)
	if store.inserts != 40+10 || store.typed["ent"] != 40+10 {
		t.Fatalf("%d raw and %d entitlement rows sent: want each record once, plus the first 10 once more (a batch cut differently has other tokens)", store.inserts, store.typed["ent"])
	}
}

// A sink killed after the raw rows and before the typed rows stores the
// typed rows after a restart, and the raw rows again with the same tokens.
func TestKilledAfterRawCompletesOnRestart(t *testing.T) {
	msgs := messages(t, "t", 0, 25)
	store := newMemStore()
	crashed := false
	func() {
		defer func() {
			if r := recover(); r != nil {
				if r != CrashAfterRaw {
					panic(r)
				}
				crashed = true
			}
		}()
		_ = handle(newHandler(t, store, func(p string) {
			if p == CrashAfterRaw {
				panic(p)
			}
		}), msgs)
	}()
	if !crashed {
		t.Fatal("the crash point was not reached")
	}
	if len(store.rows("t")) != 25 || store.typed["ent"] != 0 {
		t.Fatalf("at the crash point: %d raw rows, %d typed: want all raw, no typed", len(store.rows("t")), store.typed["ent"])
	}
	if err := handle(newHandler(t, store, nil), msgs); err != nil {
		t.Fatal(err)
	}
	checkChain(t, store.rows("t"), 25)
	if store.inserts != 25 || store.typed["ent"] != 25 {
		t.Fatalf("after the restart: %d raw rows sent, %d entitlement rows: want 25 and 25", store.inserts, store.typed["ent"])
	}
}

// A store that fails for a while (restarting) is retried: the batch is
// stored once it answers.
func TestStoreFailuresAreRetried(t *testing.T) {
	msgs := messages(t, "t", 0, 5)
	store := newMemStore()
	store.failures["raw"], store.failures["ent"], store.failures["tip"] = 1, 2, 1
	if err := handle(newHandler(t, store, nil), msgs); err != nil {
		t.Fatal(err)
	}
	checkChain(t, store.rows("t"), 5)
	if store.typed["ent"] != 5 {
		t.Fatalf("%d entitlement rows after the retries, want 5", store.typed["ent"])
	}
	// A store that does not come back fails the batch (no commit).
	down := newMemStore()
	down.failures["raw"] = 100
	if err := handle(newHandler(t, down, nil), msgs); err == nil {
		t.Fatal("a store that never answers stored the batch")
	}
}

// A record the sink cannot read is stored raw as "undecodable" and as a
// dead letter; a DLQ v1 record is stored with its reason; a payout result
// gets its recording time from the record.
func TestUndecodableAndDeadLetterRecords(t *testing.T) {
	k, v, hs := schemas.DeadLetterRecord("ic.icp-xdr-rates.v1", 0, 7, []byte("cmc/spot/1"), []byte("garbage"), "envelope: not json")
	res := schemas.PayoutResult{IntentID: "i1", Status: "sent", AmountE8s: 5, Recipient: "r"}
	env, err := schemas.NewEnvelope(schemas.TypePayoutResult, "i1/sent/1", schemas.Provenance{Source: "nodeshare"}, res)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := env.Marshal()
	batch := []schemas.Message{
		{Topic: "a", Offset: 0, Key: []byte("bad"), Value: []byte("{not json"), Time: at},
		{Topic: schemas.TopicDLQ, Offset: 0, Key: k, Value: v, Headers: hs, Time: at},
		{Topic: schemas.TopicPayoutResults, Offset: 0, Key: []byte("i1"), Value: rb, Time: at},
	}
	store := newMemStore()
	obs := &counted{dead: map[string]int{}, rows: map[string]int{}}
	h, err := New(Config{Group: DefaultGroup, MaxBatch: 1000, MaxWait: time.Millisecond, Observer: obs}, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := handle(h, batch); err != nil {
		t.Fatal(err)
	}
	// The sink counts the record it dead-letters itself, not the dead
	// letter it stores from the DLQ; and the rows of each insert.
	if want := map[string]int{"a undecodable": 1}; !maps.Equal(obs.dead, want) {
		t.Errorf("dead letters observed %v, want %v", obs.dead, want)
	}
	if want := map[string]int{"events_raw": 3, "dead_letters": 2, "payout_results": 1}; !maps.Equal(obs.rows, want) || obs.in != 3 {
		t.Errorf("rows observed %v (records in %d), want %v (3)", obs.rows, obs.in, want)
	}
	if r := store.rows("a"); len(r) != 1 || r[0].EventType != "undecodable" || r[0].Payload != "{not json" {
		t.Fatalf("undecodable raw row: %+v", r)
	}
	if r := store.rows(schemas.TopicDLQ); len(r) != 1 || r[0].EventType != schemas.TypeDeadLetter || !strings.Contains(r[0].Provenance, "not json") {
		t.Fatalf("dead letter raw row: %+v", r)
	}
	if len(store.dead) != 2 || store.dead[0].SourceTopic != "a" || store.dead[1].SourceTopic != "ic.icp-xdr-rates.v1" || store.dead[1].Offset != 7 {
		t.Fatalf("dead letter rows: %+v", store.dead)
	}
	if len(store.results) != 1 || store.results[0].IntentID != "i1" || !store.results[0].RecordedAt.Equal(at) {
		t.Fatalf("result rows: %+v", store.results)
	}
}

// counted is an Observer that keeps the counts.
type counted struct {
	in   int
	dead map[string]int
	rows map[string]int
}

func (c *counted) RecordsIn(_ string, n int)                { c.in += n }
func (c *counted) DeadLettered(topic, reason string, n int) { c.dead[topic+" "+reason] += n }
func (c *counted) Stored(table string, rows int, _ time.Duration) {
	c.rows[table] += rows
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{MaxBatch: 1, MaxWait: time.Second}, "consumer group is empty"},
		{Config{Group: "g", MaxWait: time.Second}, "batch must be > 0 records, got 0"},
		{Config{Group: "g", MaxBatch: 1}, "batch wait must be > 0"},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
		if _, err := New(c.cfg, newMemStore()); err == nil {
			t.Errorf("%+v: New accepted the config", c.cfg)
		}
	}
}
