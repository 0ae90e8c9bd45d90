package lifecycle

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"hash/crc32"
	"testing"

	rules "github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// acct is the account identifier whose 28-byte hash is b repeated.
func acct(b byte) string {
	var a [32]byte
	for i := 4; i < 32; i++ {
		a[i] = b
	}
	binary.BigEndian.PutUint32(a[:4], crc32.ChecksumIEEE(a[4:]))
	return hex.EncodeToString(a[:])
}

var (
	whale      = acct(0xe1) // the purchaser
	s1, s2, s3 = acct(0x01), acct(0x02), acct(0x03)
	s4, s5     = acct(0x04), acct(0x05)
	nobody     = acct(0x99) // an account of no pool
)

const icp = 100_000_000

// depositAcct and bondAcct are pool n's accounts.
func depositAcct(n int) string { return acct(byte(0xd0 + n)) }
func bondAcct(n int) string    { return acct(byte(0xb0 + n)) }

// day is 2026-01-dd at midnight UTC; dayAt adds hours.
func day(dd int) string { return fmt.Sprintf("2026-01-%02dT00:00:00Z", dd) }

// poolTerms: a 100 ICP node, 1 ICP minimum, a 50% sponsor cap, deadline
// 2026-03-01, 5% slash, a 10 ICP bond from the whale, lock-up to
// 2027-03-01, fee 10,000 e8s; pool n's accounts.
func poolTerms(n int) *schemas.PoolTerms {
	return &schemas.PoolTerms{TermsVersion: 1, Treasury: "treasury", DepositAccount: depositAcct(n), TargetE8s: 100 * icp,
		MinContributionE8s: icp, MaxSponsorBps: 5000, FundingDeadline: "2026-03-01T00:00:00Z", Purchaser: whale, SlashBps: 500,
		BondE8s: 10 * icp, BondAccount: bondAcct(n), LockupUntil: "2027-03-01T00:00:00Z", MaxVotingBps: 10_000, LedgerFeeE8s: 10_000}
}

func poolNamed(id string, t *schemas.PoolTerms) schemas.Pool {
	return schemas.Pool{DAO: "d", PoolID: id, NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n1", WeightXDRPermyriad: 1}},
		Hoster: schemas.HosterTerms{Account: "h"}, RulesVersion: "v1", Terms: t}
}

// event is one input record of a test, with what the rules make of it.
type event struct {
	pool  *schemas.Pool
	block *schemas.LedgerBlock
	fact  *schemas.PoolFact
}

func poolEv(p schemas.Pool) event { return event{pool: &p} }

func deposit(index uint64, at, from, to string, amount uint64) event {
	return event{block: &schemas.LedgerBlock{Ledger: "ryjl3-tyaaa-aaaaa-aaaba-cai", Index: index, Time: at, Op: "transfer",
		From: from, To: to, AmountE8s: amount, FeeE8s: 10_000}}
}

func proposal(pool, typ, at string, id uint64, status string) event {
	return event{fact: &schemas.PoolFact{DAO: "d", PoolID: pool, Type: typ, At: at, ProposalID: &id, Status: status}}
}

func node(pool, typ, at, nodeID string) event {
	return event{fact: &schemas.PoolFact{DAO: "d", PoolID: pool, Type: typ, At: at, NodeID: nodeID}}
}

func envelopeRecord(t *testing.T, topic, typ, key string, v any) schemas.Record {
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

func (e event) record(t *testing.T) schemas.Record {
	t.Helper()
	switch {
	case e.pool != nil:
		return envelopeRecord(t, schemas.TopicPools, schemas.TypePool, schemas.PoolKey(e.pool.DAO, e.pool.PoolID), *e.pool)
	case e.block != nil:
		return envelopeRecord(t, schemas.TopicLedgerBlocks, schemas.TypeLedgerBlock, schemas.LedgerBlockKey(e.block.Ledger, e.block.Index), *e.block)
	}
	return envelopeRecord(t, schemas.TopicPoolFacts, schemas.TypePoolFact, schemas.PoolFactKey(*e.fact), *e.fact)
}

// rulesFact is the fact the rules take for a block or pool fact event.
func (e event) rulesFact(t *testing.T) rules.Fact {
	t.Helper()
	var f *fact
	var err error
	if e.block != nil {
		f, err = depositOf(&schemas.Message{}, e.block)
	} else {
		f, err = poolFactOf(&schemas.Message{}, e.fact, ic.Verifier{})
	}
	if err != nil {
		t.Fatal(err)
	}
	return f.Fact
}

// publish puts events on the log, as the connectors would, and returns
// their messages in that order.
func publish(t *testing.T, l *memLog, evs ...event) []schemas.Message {
	t.Helper()
	recs := make([]schemas.Record, len(evs))
	for i, e := range evs {
		recs[i] = e.record(t)
	}
	return l.add(recs...)
}

// expectedOutput is the `pools replay` output of pool p after the facts of
// evs, in that order, computed by the rules alone.
func expectedOutput(t *testing.T, p schemas.Pool, evs ...event) string {
	t.Helper()
	terms, err := termsOf(&p)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := rules.New(terms)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		if _, err := pool.Apply(e.rulesFact(t)); err != nil {
			t.Fatalf("expected output: fact %d: %v", i, err)
		}
	}
	return string(rules.EncodeOutput(pool.Result()))
}

func newHandler(t *testing.T, l Log, edit ...func(*Config)) stage.BatchHandler {
	t.Helper()
	cfg := Config{Group: DefaultGroup, Verifier: ic.Verifier{}}
	for _, e := range edit {
		e(&cfg)
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

func mustHandle(t *testing.T, h stage.BatchHandler, batches ...[]schemas.Message) {
	t.Helper()
	for i, b := range batches {
		if err := handle(h, b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
}

// outputs is what the stage published, read back.
type outputs struct {
	states       map[string]schemas.PoolState    // the latest state of each pool
	stateRecords map[string]int                  // state records per pool
	transfers    map[string]schemas.PoolTransfer // by key
	dead         []schemas.DeadLetter
}

func readOutputs(t *testing.T, l *memLog) outputs {
	t.Helper()
	o := outputs{states: map[string]schemas.PoolState{}, stateRecords: map[string]int{}, transfers: map[string]schemas.PoolTransfer{}}
	for _, m := range l.messages(schemas.TopicPoolLifecycle) {
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
			if string(m.Key) != schemas.PoolStateKey(st.DAO, st.PoolID) {
				t.Fatalf("state under key %s, want %s", m.Key, schemas.PoolStateKey(st.DAO, st.PoolID))
			}
			o.states[schemas.PoolKey(st.DAO, st.PoolID)] = st
			o.stateRecords[schemas.PoolKey(st.DAO, st.PoolID)]++
		case schemas.TypePoolTransfer:
			var tr schemas.PoolTransfer
			if err := env.DecodePayload(env.Type, &tr); err != nil {
				t.Fatal(err)
			}
			if string(m.Key) != schemas.PoolTransferKey(tr.DAO, tr.PoolID, tr.Seq) {
				t.Fatalf("transfer under key %s, want %s", m.Key, schemas.PoolTransferKey(tr.DAO, tr.PoolID, tr.Seq))
			}
			if _, dup := o.transfers[string(m.Key)]; dup {
				t.Fatalf("transfer %s published twice", m.Key)
			}
			o.transfers[string(m.Key)] = tr
		default:
			t.Fatalf("unexpected %s record on the lifecycle topic", env.Type)
		}
	}
	for _, m := range l.messages(schemas.TopicDLQ) {
		d, err := schemas.ReadDeadLetter(m.Key, m.Value, m.Headers)
		if err != nil {
			t.Fatal(err)
		}
		o.dead = append(o.dead, d)
	}
	return o
}

// checkPool checks pool id's latest state against want (a `pools replay`
// output) and that its transfers are on the topic, each once, as the
// output lists them.
func checkPool(t *testing.T, o outputs, id, want string) {
	t.Helper()
	st, ok := o.states[schemas.PoolKey("d", id)]
	if !ok {
		t.Fatalf("pool %s: no state published", id)
	}
	if st.Output != want {
		t.Fatalf("pool %s: state output\n got %s\nwant %s", id, st.Output, want)
	}
	// The transfers of the output, one record each.
	var parsed struct {
		Transfers []struct {
			Seq         int     `json:"seq"`
			Kind        string  `json:"kind"`
			To          string  `json:"to"`
			GrossE8s    int64   `json:"gross_e8s"`
			TransferE8s int64   `json:"transfer_e8s"`
			FeeE8s      int64   `json:"fee_e8s"`
			Reason      *string `json:"reason"`
			Cause       string  `json:"cause"`
			At          string  `json:"at"`
		} `json:"transfers"`
	}
	if err := json.Unmarshal([]byte(want), &parsed); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tr := range o.transfers {
		if tr.PoolID == id {
			n++
		}
	}
	if n != len(parsed.Transfers) {
		t.Fatalf("pool %s: %d transfers on the topic, the output lists %d", id, n, len(parsed.Transfers))
	}
	for _, w := range parsed.Transfers {
		got, ok := o.transfers[schemas.PoolTransferKey("d", id, w.Seq)]
		if !ok {
			t.Fatalf("pool %s: transfer %d is not on the topic", id, w.Seq)
		}
		gr, wr := "", ""
		if got.Reason != nil {
			gr = *got.Reason
		}
		if w.Reason != nil {
			wr = *w.Reason
		}
		if got.Kind != w.Kind || got.To != w.To || got.GrossE8s != w.GrossE8s || got.TransferE8s != w.TransferE8s ||
			got.FeeE8s != w.FeeE8s || gr != wr || got.Cause != w.Cause || got.At != w.At {
			t.Fatalf("pool %s: transfer %d is %+v, the output says %+v", id, w.Seq, got, w)
		}
	}
}
