package lifecycle

import (
	"bytes"
	"errors"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"reflect"
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/schemas"
)

// fullLife is a pool's whole funding and settlement, in time order: three
// sponsors (one over its cap, one over the target), a deposit after
// funding, the whale's bond (over by 2 ICP) and a bond from someone else,
// the proposal, its adoption and the node.
func fullLife() (schemas.Pool, []event, []event) {
	p := poolNamed("p1", poolTerms(1))
	blocks := []event{
		deposit(1, day(1), s1, depositAcct(1), 40*icp),
		deposit(2, day(2), s2, depositAcct(1), 60*icp), // 50 accepted: the cap
		deposit(3, day(3), s3, depositAcct(1), 20*icp), // 10 accepted: funded
		deposit(4, day(4), s1, depositAcct(1), 5*icp),  // closed
		deposit(5, day(5), whale, bondAcct(1), 12*icp), // bond, 2 over
		deposit(6, day(6), s2, bondAcct(1), icp),       // not the purchaser
	}
	facts := []event{
		proposal("p1", "proposal_submitted", day(11), 42, ""),
		proposal("p1", "proposal_decided", day(12), 42, "adopted"),
		node("p1", "node_up", day(13), "node-7x"),
	}
	return p, blocks, facts
}

// The stage builds a pool's lifecycle from the three topics, whatever
// order the records arrive in within a batch and however the batches are
// cut (as long as no fact arrives after a later one of its pool): its
// state is what `pools replay` says of the facts in time order, and every
// transfer is published once under its seq.
func TestLifecycleFromTheTopicsInTimeOrder(t *testing.T) {
	p, blocks, facts := fullLife()
	inTime := append(append([]event{}, blocks...), facts...)
	want := expectedOutput(t, p, inTime...)
	for _, c := range []struct {
		name string
		cut  []int // batch sizes over the arrival order
		// factsFirst: the pool facts are published before the blocks
		// (possible only with one batch: otherwise they arrive before
		// the pool is funded, and the rules refuse them).
		factsFirst bool
	}{
		{"one batch, facts published first", []int{10}, true},
		{"one batch", []int{10}, false},
		{"one record per batch", []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, false},
		{"uneven batches", []int{3, 5, 2}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newMemLog()
			arrival := append([]event{poolEv(p)}, inTime...)
			if c.factsFirst {
				arrival = append(append([]event{poolEv(p)}, facts...), blocks...)
			}
			msgs := publish(t, l, arrival...)
			h := newHandler(t, l)
			for lo, i := 0, 0; i < len(c.cut); lo, i = lo+c.cut[i], i+1 {
				mustHandle(t, h, msgs[lo:lo+c.cut[i]])
			}
			o := readOutputs(t, l)
			checkPool(t, o, "p1", want)
			if len(o.dead) != 0 {
				t.Fatalf("dead letters: %+v", o.dead)
			}
			if st := o.states[schemas.PoolKey("d", "p1")]; st.State != "active" || st.Facts != 9 || st.AsOf != day(13) || st.TermsVersion != 1 {
				t.Fatalf("state %s, facts %d, as of %s, terms %d; want active, 9, %s, 1", st.State, st.Facts, st.AsOf, st.TermsVersion, day(13))
			}
			if len(o.transfers) != 6 { // over cap, over target, closed, over bond, not purchaser, settlement
				t.Fatalf("%d transfers, want 6", len(o.transfers))
			}
		})
	}
}

// Ties at one instant (docs/pipeline.md "The lifecycle processor"):
// deposits before pool facts, deposits by block index, pool facts in topic
// order.
func TestOrderAtOneInstant(t *testing.T) {
	p := poolNamed("p1", poolTerms(1))
	const t0 = "2026-01-05T12:00:00Z"
	for _, c := range []struct {
		name    string
		arrival []event // in one batch, in this order
		inOrder []event // the order the rules must see
	}{
		{"deposit before the proposal at the same instant",
			[]event{proposal("p1", "proposal_submitted", t0, 42, ""), deposit(1, day(1), s1, depositAcct(1), 50*icp), deposit(2, t0, s2, depositAcct(1), 50*icp)},
			[]event{deposit(1, day(1), s1, depositAcct(1), 50*icp), deposit(2, t0, s2, depositAcct(1), 50*icp), proposal("p1", "proposal_submitted", t0, 42, "")}},
		{"deposits by block index at the same instant",
			[]event{deposit(9, t0, s1, depositAcct(1), 60*icp), deposit(8, t0, s2, depositAcct(1), 60*icp)},
			[]event{deposit(8, t0, s2, depositAcct(1), 60*icp), deposit(9, t0, s1, depositAcct(1), 60*icp)}},
		{"pool facts in topic order at the same instant",
			[]event{deposit(1, day(1), s1, depositAcct(1), 50*icp), deposit(2, day(2), s2, depositAcct(1), 50*icp),
				proposal("p1", "proposal_submitted", t0, 42, ""), proposal("p1", "proposal_decided", t0, 42, "adopted")},
			[]event{deposit(1, day(1), s1, depositAcct(1), 50*icp), deposit(2, day(2), s2, depositAcct(1), 50*icp),
				proposal("p1", "proposal_submitted", t0, 42, ""), proposal("p1", "proposal_decided", t0, 42, "adopted")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newMemLog()
			msgs := publish(t, l, append([]event{poolEv(p)}, c.arrival...)...)
			mustHandle(t, newHandler(t, l), msgs)
			o := readOutputs(t, l)
			if len(o.dead) != 0 {
				t.Fatalf("dead letters: %+v", o.dead)
			}
			checkPool(t, o, "p1", expectedOutput(t, p, c.inOrder...))
		})
	}
}

// A fact that arrives after a later fact of its pool was applied is put
// in its place in time when that changes no published transfer; otherwise
// it is dead-lettered as out of order, with the reason, and left out.
func TestLateFacts(t *testing.T) {
	p := poolNamed("p1", poolTerms(1))
	funded := []event{deposit(1, day(1), s1, depositAcct(1), 50*icp), deposit(2, day(2), s2, depositAcct(1), 50*icp)}
	with := func(evs ...event) []event { return append(append([]event{}, funded...), evs...) }
	for _, c := range []struct {
		name          string
		first, late   []event // the batches, in arrival order
		inOrder       []event // what the pool must be
		deadReason    string  // "" when nothing is dead-lettered
		deadFactIndex int     // which event of late is dead-lettered
	}{
		{
			name: "late bond reordered: the node came up first, the bond's block arrived after",
			first: with(proposal("p1", "proposal_submitted", day(3), 42, ""), proposal("p1", "proposal_decided", day(4), 42, "adopted"),
				node("p1", "node_up", day(6), "n1")),
			late: []event{deposit(3, day(5), whale, bondAcct(1), 10*icp)},
			inOrder: with(proposal("p1", "proposal_submitted", day(3), 42, ""), proposal("p1", "proposal_decided", day(4), 42, "adopted"),
				deposit(3, day(5), whale, bondAcct(1), 10*icp), node("p1", "node_up", day(6), "n1")),
		},
		{
			name:       "late block that would move a published refund: out of order",
			first:      with(deposit(4, day(5), s3, depositAcct(1), 5*icp)), // closed: transfer 0
			late:       []event{deposit(3, day(4), s4, depositAcct(1), 3*icp)},
			inOrder:    with(deposit(4, day(5), s3, depositAcct(1), 5*icp)),
			deadReason: "would change transfer 0, already published",
		},
		{
			name:       "late fact that its place in time makes invalid",
			first:      with(proposal("p1", "proposal_submitted", day(5), 42, "")),
			late:       []event{proposal("p1", "proposal_submitted", "2026-01-01T12:00:00Z", 43, "")},
			inOrder:    with(proposal("p1", "proposal_submitted", day(5), 42, "")),
			deadReason: "proposal_submitted is not allowed in state funding",
		},
		{
			name:       "late fact that would make a later applied fact invalid",
			first:      with(proposal("p1", "proposal_submitted", day(3), 42, ""), proposal("p1", "proposal_decided", day(5), 42, "adopted")),
			late:       []event{proposal("p1", "proposal_decided", day(4), 42, "rejected")},
			inOrder:    with(proposal("p1", "proposal_submitted", day(3), 42, ""), proposal("p1", "proposal_decided", day(5), 42, "adopted")),
			deadReason: "would make proposal_decided (proposal 42) at \"2026-01-05T00:00:00Z\" invalid",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newMemLog()
			first := publish(t, l, append([]event{poolEv(p)}, c.first...)...)
			late := publish(t, l, c.late...)
			h := newHandler(t, l)
			mustHandle(t, h, first, late)
			o := readOutputs(t, l)
			checkPool(t, o, "p1", expectedOutput(t, p, c.inOrder...))
			if c.deadReason == "" {
				if len(o.dead) != 0 {
					t.Fatalf("dead letters: %+v", o.dead)
				}
			} else {
				if len(o.dead) != 1 || !strings.Contains(o.dead[0].Reason, c.deadReason) || !strings.Contains(o.dead[0].Reason, "pool d/p1: ") {
					t.Fatalf("dead letters %+v, want one saying %q", o.dead, c.deadReason)
				}
				if m := late[c.deadFactIndex]; o.dead[0].SourceTopic != m.Topic || o.dead[0].Offset != m.Offset {
					t.Fatalf("dead letter of %s/%d, want the late record %s/%d", o.dead[0].SourceTopic, o.dead[0].Offset, m.Topic, m.Offset)
				}
			}
			// A restarted processor finds the same: nothing more published.
			before := len(l.messages(schemas.TopicPoolLifecycle)) + len(l.messages(schemas.TopicDLQ))
			mustHandle(t, newHandler(t, l), late)
			if after := len(l.messages(schemas.TopicPoolLifecycle)) + len(l.messages(schemas.TopicDLQ)); after != before {
				t.Fatalf("a restart redelivering the late batch published %d more records", after-before)
			}
		})
	}
}

// Facts the rules refuse and records that cannot be read are dead-lettered
// once (DLQ v1: the value unchanged, keyed by the source coordinates, the
// reason in a header), left out, and the stream goes on; blocks to no pool
// and the connector's cursor records are neither facts nor dead letters.
func TestDeadLetters(t *testing.T) {
	p := poolNamed("p1", poolTerms(1))
	good := deposit(1, day(1), s1, depositAcct(1), 40*icp)
	badTerms := poolTerms(2)
	badTerms.TargetE8s = 0
	wrongTime := deposit(3, "yesterday", s2, depositAcct(1), icp)
	cursor := envelopeRecord(t, schemas.TopicLedgerBlocks, "ledger_cursor", "ryjl3-tyaaa-aaaaa-aaaba-cai/cursor/9", map[string]any{"ledger": "x", "next_index": 9})
	tampered := deposit(4, day(2), s3, depositAcct(1), icp).record(t)
	tampered.Value = bytes.Replace(tampered.Value, []byte(`"amount_e8s":100000000`), []byte(`"amount_e8s":900000000`), 1)
	for _, c := range []struct {
		name   string
		recs   func(t *testing.T) []schemas.Record
		reason string // "": no dead letter
	}{
		{"a pool fact of no pool", func(t *testing.T) []schemas.Record {
			return []schemas.Record{node("nope", "node_up", day(3), "n1").record(t)}
		}, "pool d/nope: no pool with lifecycle terms on dao.pools.v1"},
		{"a fact the state does not allow", func(t *testing.T) []schemas.Record {
			return []schemas.Record{node("p1", "node_up", day(3), "n1").record(t)}
		}, "pool d/p1: node_up (node \"n1\"): type: node_up is not allowed in state funding (only in adopted)"},
		{"a pool fact of an unknown type", func(t *testing.T) []schemas.Record {
			return []schemas.Record{node("p1", "vote_maybe", day(3), "").record(t)}
		}, "pool d/p1: type: must be one of proposal_submitted, proposal_decided, node_up, node_down, tick, vote_opened, ballot"},
		{"a vote without its threshold", func(t *testing.T) []schemas.Record {
			return []schemas.Record{node("p1", "vote_opened", day(3), "").record(t)}
		}, "pool d/p1: threshold_bps: is required for vote_opened"},
		{"a ballot fact without its ballot", func(t *testing.T) []schemas.Record {
			return []schemas.Record{node("p1", "ballot", day(3), "").record(t)}
		}, "pool d/p1: ballot: is required"},
		{"a proposal fact without its id", func(t *testing.T) []schemas.Record {
			f := schemas.PoolFact{DAO: "d", PoolID: "p1", Type: "proposal_submitted", At: day(3)}
			return []schemas.Record{envelopeRecord(t, schemas.TopicPoolFacts, schemas.TypePoolFact, "d/p1/x", f)}
		}, "pool d/p1: proposal_id: is required"},
		{"a pool fact that is not JSON", func(t *testing.T) []schemas.Record {
			return []schemas.Record{{Topic: schemas.TopicPoolFacts, Key: []byte("k"), Value: []byte("not json")}}
		}, "envelope"},
		{"a block of a pool with a bad time", func(t *testing.T) []schemas.Record {
			return []schemas.Record{wrongTime.record(t)}
		}, "pool d/p1: deposit (block 3): time: must be an RFC 3339 time"},
		{"a block of a pool whose payload does not match its hash", func(t *testing.T) []schemas.Record {
			return []schemas.Record{tampered}
		}, "provenance.content_sha256"},
		{"a block index used twice", func(t *testing.T) []schemas.Record {
			return []schemas.Record{deposit(1, day(2), s2, depositAcct(1), 2*icp).record(t)}
		}, "block_index: 1 repeats an earlier deposit's block_index"},
		{"terms the rules refuse", func(t *testing.T) []schemas.Record {
			return []schemas.Record{poolEv(poolNamed("p2", badTerms)).record(t)}
		}, "pool d/p2: terms.target_e8s: must be > 0, got 0"},
		{"a block to no pool, a cursor record, a burn: nothing", func(t *testing.T) []schemas.Record {
			burn := deposit(7, day(3), depositAcct(1), "", icp)
			burn.block.Op = "burn"
			return []schemas.Record{deposit(5, day(3), s1, nobody, icp).record(t), cursor, burn.record(t)}
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newMemLog()
			batch := publish(t, l, poolEv(p), good)
			bad := l.add(c.recs(t)...)
			batch = append(batch, bad...)
			h := newHandler(t, l)
			mustHandle(t, h, batch)
			o := readOutputs(t, l)
			checkPool(t, o, "p1", expectedOutput(t, p, good))
			if c.reason == "" {
				if len(o.dead) != 0 {
					t.Fatalf("dead letters: %+v", o.dead)
				}
				return
			}
			if len(o.dead) != 1 {
				t.Fatalf("%d dead letters, want 1: %+v", len(o.dead), o.dead)
			}
			dl, src := l.messages(schemas.TopicDLQ)[0], bad[len(bad)-1]
			if string(dl.Key) != schemas.DeadLetterKey(src.Topic, src.Partition, src.Offset) || !bytes.Equal(dl.Value, src.Value) {
				t.Fatalf("dead letter %s %q: want the coordinates of %s/%d and the value unchanged", dl.Key, dl.Value, src.Topic, src.Offset)
			}
			if !strings.Contains(o.dead[0].Reason, c.reason) {
				t.Fatalf("reason %q, want it to say %q", o.dead[0].Reason, c.reason)
			}
			// Redelivered, to the running processor and to a restarted one:
			// no second dead letter, nothing else.
			n := len(l.messages(schemas.TopicPoolLifecycle))
			mustHandle(t, h, batch)
			mustHandle(t, newHandler(t, l), batch)
			if got := readOutputs(t, l); len(got.dead) != 1 || len(l.messages(schemas.TopicPoolLifecycle)) != n {
				t.Fatalf("redelivery: %d dead letters, %d lifecycle records (want 1, %d)", len(got.dead), len(l.messages(schemas.TopicPoolLifecycle)), n)
			}
		})
	}
}

// A batch delivered again (the running processor, or a restarted one) adds
// nothing; a batch that changes no pool publishes no state; the order of
// the writes is the dead letters, then the states and the transfers (one
// write when they fit one produce request).
func TestRedeliveryAddsNothing(t *testing.T) {
	p, blocks, facts := fullLife()
	l := newMemLog()
	msgs := publish(t, l, append(append([]event{poolEv(p)}, blocks...), facts...)...)
	bad := l.add(node("nope", "node_up", day(20), "n1").record(t))
	msgs = append(msgs, bad...)
	h := newHandler(t, l)
	mustHandle(t, h, msgs)
	if want := []string{"1 records to [dao.dlq.v1]", "7 records to [dao.pool-lifecycle.v1]"}; strings.Join(l.journal, "; ") != strings.Join(want, "; ") {
		t.Fatalf("writes %v, want %v", l.journal, want)
	}
	snapshot := l.clone()
	mustHandle(t, h, msgs)
	mustHandle(t, newHandler(t, l), msgs)
	mustHandle(t, newHandler(t, l), msgs[3:5])
	quiet := publish(t, l, deposit(50, day(20), s1, nobody, icp))
	mustHandle(t, h, quiet)
	for _, topic := range []string{schemas.TopicPoolLifecycle, schemas.TopicDLQ} {
		if got, want := len(l.messages(topic)), len(snapshot.messages(topic)); got != want {
			t.Fatalf("%s: %d records after the redeliveries, %d before", topic, got, want)
		}
	}
}

// A restarted processor rebuilds from the topics exactly the state the
// running one holds (every pool, every transfer, the dead letters known),
// and then goes on as the running one does.
func TestRestartRebuildEqualsLiveState(t *testing.T) {
	p1, blocks, facts := fullLife()
	p2 := poolNamed("p2", poolTerms(2))
	evs := []event{poolEv(p1), poolEv(p2)}
	evs = append(evs, blocks[:4]...)
	evs = append(evs, deposit(10, day(2), s4, depositAcct(2), 30*icp), deposit(11, day(3), s4, depositAcct(2), 30*icp)) // s4 capped at 50
	evs = append(evs, blocks[4:]...)
	evs = append(evs, facts[0], node("p2", "node_up", day(9), "n"), facts[1]) // p2's node_up: refused
	evs = append(evs, deposit(12, day(14), s5, depositAcct(2), 60*icp), facts[2], deposit(13, day(15), s1, depositAcct(1), 2*icp))

	live := newMemLog()
	msgs := publish(t, live, evs...)
	h := newHandler(t, live)
	cuts := []int{2, 4, 3, 2, 3, 2}
	var batches [][]schemas.Message
	for lo, i := 0, 0; i < len(cuts); lo, i = lo+cuts[i], i+1 {
		batches = append(batches, msgs[lo:lo+cuts[i]])
	}
	mustHandle(t, h, batches...)

	// The same batches, the processor restarted before each one.
	restarted := newMemLog()
	publish(t, restarted, evs...)
	for i, b := range batches {
		if err := handle(newHandler(t, restarted), b); err != nil {
			t.Fatalf("restart before batch %d: %v", i, err)
		}
	}
	lo, ro := readOutputs(t, live), readOutputs(t, restarted)
	for _, id := range []string{"p1", "p2"} {
		k := schemas.PoolKey("d", id)
		if !reflect.DeepEqual(lo.states[k], ro.states[k]) {
			t.Fatalf("pool %s: restarted %+v\nlive %+v", id, ro.states[k], lo.states[k])
		}
	}
	if len(lo.transfers) != len(ro.transfers) || len(lo.dead) != len(ro.dead) || len(lo.dead) != 1 {
		t.Fatalf("transfers %d/%d, dead letters %d/%d (live/restarted), want one dead letter", len(lo.transfers), len(ro.transfers), len(lo.dead), len(ro.dead))
	}
	for k, tr := range lo.transfers {
		if !sameTransfer(ro.transfers[k], tr) || ro.transfers[k].TermsVersion != tr.TermsVersion {
			t.Fatalf("transfer %s: restarted %+v, live %+v", k, ro.transfers[k], tr)
		}
	}

	// The in-memory state of a processor that rebuilds now is the running
	// one's, pool by pool.
	fresh := &processor{cfg: Config{Group: DefaultGroup, Verifier: ic.Verifier{}}, log: live, out: Config{}.logger()}
	w := newWork()
	if err := fresh.rebuild(t.Context(), batches[len(batches)-1], w); err != nil {
		t.Fatal(err)
	}
	if len(fresh.runs) != 2 {
		t.Fatalf("rebuilt %d pools, want 2", len(fresh.runs))
	}
	for key, r := range fresh.runs {
		st := r.state()
		if got := lo.states[key]; got.Output != st.Output || got.Facts != st.Facts || got.AsOf != st.AsOf {
			t.Fatalf("pool %s rebuilt: %+v\nthe running processor published %+v", key, st, got)
		}
		if len(r.published) != len(r.rows) {
			t.Fatalf("pool %s rebuilt: %d transfers known published, %d computed", key, len(r.published), len(r.rows))
		}
	}
	if !fresh.dead[coord{schemas.TopicPoolFacts, 0, 1}] {
		t.Fatalf("the rebuilt processor does not know the dead letter of p2's node_up: %v", fresh.dead)
	}
}

// A batch whose outputs were published but whose offsets were not
// committed comes again, possibly cut otherwise: a state published from a
// shorter redelivery still reflects every fact the earlier state did, so a
// later restart restores the same pool.
func TestRedeliveryShorterThanTheCrashedBatch(t *testing.T) {
	p := poolNamed("p1", poolTerms(1))
	a := deposit(1, day(1), s1, depositAcct(1), 50*icp)
	b := deposit(2, day(2), s2, depositAcct(1), 60*icp) // funds the pool, 10 over the target
	c := deposit(3, day(3), s3, depositAcct(1), 5*icp)  // closed
	f := proposal("p1", "proposal_submitted", day(5), 42, "")
	g := proposal("p1", "proposal_decided", day(6), 42, "adopted")
	l := newMemLog()
	pool := publish(t, l, poolEv(p))
	blocks := publish(t, l, a, b, c)
	facts := publish(t, l, f)
	mustHandle(t, newHandler(t, l), pool, append(blocks, facts...)) // the second batch's commit is lost
	facts = append(facts, publish(t, l, g)...)
	mustHandle(t, newHandler(t, l), []schemas.Message{blocks[0], facts[1]}) // restart: the batch again, shorter, with g
	mustHandle(t, newHandler(t, l), blocks[1:])                             // restart: the rest of it
	o := readOutputs(t, l)
	checkPool(t, o, "p1", expectedOutput(t, p, a, b, c, f, g))
	if len(o.dead) != 0 {
		t.Fatalf("dead letters: %+v", o.dead)
	}
}

// Terms may change before the pool accepts a deposit (pools create allows
// it): the latest terms win, for the facts before and after; a change that
// computes the published transfers again unchanged keeps them (with the
// version they were published under); one that would change a published
// transfer stops the stage and publishes nothing.
func TestTermsChange(t *testing.T) {
	v1 := poolNamed("p1", poolTerms(1))
	t2 := poolTerms(1)
	t2.TermsVersion, t2.TargetE8s, t2.MaxSponsorBps = 2, 50*icp, 10_000
	v2 := poolNamed("p1", t2)

	t.Run("before any deposit", func(t *testing.T) {
		l := newMemLog()
		h := newHandler(t, l)
		mustHandle(t, h, publish(t, l, poolEv(v1)))
		mustHandle(t, h, publish(t, l, poolEv(v2), deposit(1, day(1), s1, depositAcct(1), 30*icp), deposit(2, day(2), s2, depositAcct(1), 30*icp)))
		o := readOutputs(t, l)
		checkPool(t, o, "p1", expectedOutput(t, v2, deposit(1, day(1), s1, depositAcct(1), 30*icp), deposit(2, day(2), s2, depositAcct(1), 30*icp)))
		st := o.states[schemas.PoolKey("d", "p1")]
		if st.TermsVersion != 2 || st.State != "funded" || o.stateRecords[schemas.PoolKey("d", "p1")] != 2 {
			t.Fatalf("state %+v after %d records, want funded under terms 2 (after the version 1 state)", st, o.stateRecords[schemas.PoolKey("d", "p1")])
		}
		if tr := o.transfers[schemas.PoolTransferKey("d", "p1", 0)]; tr.TermsVersion != 2 || *tr.Reason != "over_target" {
			t.Fatalf("transfer %+v, want an over_target refund under terms 2", tr)
		}
	})

	t.Run("after a refund, unchanged for it", func(t *testing.T) {
		l := newMemLog()
		h := newHandler(t, l)
		small := deposit(1, day(1), s1, depositAcct(1), icp/2) // below the minimum: refunded
		mustHandle(t, h, publish(t, l, poolEv(v1), small))
		later := poolTerms(1)
		later.TermsVersion, later.FundingDeadline = 2, "2026-04-01T00:00:00Z"
		mustHandle(t, newHandler(t, l), publish(t, l, poolEv(poolNamed("p1", later))))
		o := readOutputs(t, l)
		if tr := o.transfers[schemas.PoolTransferKey("d", "p1", 0)]; len(o.transfers) != 1 || tr.TermsVersion != 1 {
			t.Fatalf("transfers %+v: want the refund once, as published under terms 1", o.transfers)
		}
		if st := o.states[schemas.PoolKey("d", "p1")]; st.TermsVersion != 2 {
			t.Fatalf("state under terms %d, want 2", st.TermsVersion)
		}

		// A change that would accept what was refunded: the stage stops.
		lower := poolTerms(1)
		lower.TermsVersion, lower.MinContributionE8s = 3, icp/10
		before := len(l.messages(schemas.TopicPoolLifecycle))
		change := publish(t, l, poolEv(poolNamed("p1", lower)))
		for _, h := range []func() error{
			func() error { return handle(h, change) },
			func() error { return handle(newHandler(t, l), change) },
		} {
			if err := h(); err == nil || !strings.Contains(err.Error(), "transfer 0, published under terms version 1, would change") {
				t.Fatalf("handle: %v, want the stage stopped on the published transfer", err)
			}
		}
		if after := len(l.messages(schemas.TopicPoolLifecycle)); after != before || len(l.messages(schemas.TopicDLQ)) != 0 {
			t.Fatalf("%d records published after the refused change", after-before)
		}
	})
}

// Deposits to the bond account: the purchaser's count up to the bond (the
// rest goes back), anyone else's go back; a bond completed after the node
// came up settles the pool.
func TestBondAccountDeposits(t *testing.T) {
	p := poolNamed("p1", poolTerms(1))
	evs := []event{
		deposit(1, day(1), s1, depositAcct(1), 50*icp), deposit(2, day(2), s2, depositAcct(1), 50*icp),
		deposit(3, day(3), whale, bondAcct(1), 4*icp), deposit(4, day(4), s3, bondAcct(1), 2*icp),
		proposal("p1", "proposal_submitted", day(5), 7, ""), proposal("p1", "proposal_decided", day(6), 7, "adopted"),
		node("p1", "node_up", day(7), "n1"),
		deposit(5, day(8), whale, bondAcct(1), 7*icp), // completes the bond (1 over): settles
	}
	l := newMemLog()
	mustHandle(t, newHandler(t, l), publish(t, l, append([]event{poolEv(p)}, evs...)...))
	o := readOutputs(t, l)
	checkPool(t, o, "p1", expectedOutput(t, p, evs...))
	kinds := map[string]int{}
	for _, tr := range o.transfers {
		k := tr.Kind
		if tr.Reason != nil {
			k += "/" + *tr.Reason
		}
		kinds[k]++
	}
	if kinds["refund/not_purchaser"] != 1 || kinds["refund/over_bond"] != 1 || kinds["settlement"] != 1 || len(o.transfers) != 3 {
		t.Fatalf("transfers by kind %v, want one not_purchaser, one over_bond refund and the settlement", kinds)
	}
	// Each transfer names the account the money leaves: the bond's
	// refunds the bond account, the settlement the deposit account.
	for _, tr := range o.transfers {
		want := bondAcct(1)
		if tr.Kind == "settlement" {
			want = depositAcct(1)
		}
		if tr.From != want {
			t.Fatalf("transfer %d (%s) from %s, want %s", tr.Seq, tr.Kind, tr.From, want)
		}
	}
	if st := o.states[schemas.PoolKey("d", "p1")]; st.State != "active" {
		t.Fatalf("state %s, want active", st.State)
	}
}

// A tick (the connector's clock) lets time pass: the deadline fires and
// an unfunded pool refunds its sponsors from the deposit account, with
// their stakes and the first accepted deposit's time on the state.
func TestTickExpiresThePool(t *testing.T) {
	p := poolNamed("p1", poolTerms(1))
	evs := []event{
		deposit(1, day(1), s1, depositAcct(1), 30*icp), deposit(2, "2026-01-02T10:00:00+01:00", s2, depositAcct(1), 20*icp),
		deposit(3, day(3), s1, depositAcct(1), 5*icp),
	}
	l := newMemLog()
	mustHandle(t, newHandler(t, l), publish(t, l, append([]event{poolEv(p)}, evs...)...))
	st := readOutputs(t, l).states[schemas.PoolKey("d", "p1")]
	wantStakes := []schemas.PoolStake{{Account: s1, Identity: s1, AcceptedE8s: 35 * icp, FirstAcceptedAt: day(1)},
		{Account: s2, Identity: s2, AcceptedE8s: 20 * icp, FirstAcceptedAt: "2026-01-02T10:00:00+01:00"}}
	if s1 > s2 {
		wantStakes[0], wantStakes[1] = wantStakes[1], wantStakes[0]
	}
	if st.State != "funding" || !reflect.DeepEqual(st.Stakes, wantStakes) || st.SettledAt != "" {
		t.Fatalf("before the tick: %+v", st)
	}
	tick := event{fact: &schemas.PoolFact{DAO: "d", PoolID: "p1", Type: "tick", At: "2026-03-01T00:00:01Z"}}
	mustHandle(t, newHandler(t, l), publish(t, l, tick))
	o := readOutputs(t, l)
	checkPool(t, o, "p1", expectedOutput(t, p, append(evs, tick)...))
	if st := o.states[schemas.PoolKey("d", "p1")]; st.State != "expired" {
		t.Fatalf("after the tick: %s", st.State)
	}
	if len(o.transfers) != 2 {
		t.Fatalf("%d transfers, want the two refunds", len(o.transfers))
	}
	for _, tr := range o.transfers {
		if tr.Kind != "refund" || tr.From != depositAcct(1) || tr.Cause != "deadline" {
			t.Fatalf("transfer %+v", tr)
		}
	}
}

// A block consumed before its pool's record (they are on different
// topics) is the pool's deposit once the record comes.
func TestDepositBeforeItsPoolRecord(t *testing.T) {
	p := poolNamed("p1", poolTerms(1))
	l := newMemLog()
	h := newHandler(t, l)
	early := []event{deposit(1, day(1), s1, depositAcct(1), 30*icp), deposit(2, day(2), s2, nobody, icp)}
	mustHandle(t, h, publish(t, l, early...))
	if n := len(l.messages(schemas.TopicPoolLifecycle)); n != 0 {
		t.Fatalf("%d records before any pool", n)
	}
	mustHandle(t, h, publish(t, l, poolEv(p), deposit(3, day(3), s2, depositAcct(1), 30*icp)))
	checkPool(t, readOutputs(t, l), "p1", expectedOutput(t, p, early[0], deposit(3, day(3), s2, depositAcct(1), 30*icp)))
}

// Blocks a previous run handled while their pool was unknown (its record
// not yet consumed) are the pool's deposits after a restart: once the
// first batch of the blocks topic says where the group stands, the blocks
// below it that no state reflects are applied.
func TestBlocksHandledBeforeTheirPoolSurviveARestart(t *testing.T) {
	p := poolNamed("p1", poolTerms(1))
	early := []event{deposit(1, day(1), s1, depositAcct(1), 30*icp), deposit(2, day(2), s2, nobody, icp)}
	later := deposit(3, day(3), s2, depositAcct(1), 30*icp)
	want := expectedOutput(t, p, early[0], later)
	for _, c := range []struct {
		name    string
		batches func(pool, block []schemas.Message) [][]schemas.Message
	}{
		{"the first batch after the restart has blocks", func(pool, block []schemas.Message) [][]schemas.Message {
			return [][]schemas.Message{append(pool, block...)}
		}},
		{"the blocks come in a later batch", func(pool, block []schemas.Message) [][]schemas.Message {
			return [][]schemas.Message{pool, block}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newMemLog()
			mustHandle(t, newHandler(t, l), publish(t, l, early...)) // committed; then the run stops
			pool := publish(t, l, poolEv(p))
			block := publish(t, l, later)
			mustHandle(t, newHandler(t, l), c.batches(pool, block)...)
			o := readOutputs(t, l)
			checkPool(t, o, "p1", want)
			if len(o.dead) != 0 {
				t.Fatalf("dead letters: %+v", o.dead)
			}
		})
	}
}

// crashed is what the test crash hook panics with: the stage stops at the
// crash point as a killed process would, with nothing after it done.
type crashed struct{ point string }

func crashAt(point string) func(*Config) {
	return func(c *Config) {
		c.Crash = func(p string) {
			if p == point {
				panic(crashed{p})
			}
		}
	}
}

func handleUntilCrash(t *testing.T, h func() error) (fired bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crashed); !ok {
				panic(r)
			}
			fired = true
		}
	}()
	if err := h(); err != nil {
		t.Fatal(err)
	}
	return false
}

// A processor killed with half of a batch's transfers published, then
// restarted with the batch delivered again, leaves the topics byte for
// byte as a processor that never crashed.
func TestKilledMidPublishThenRedeliveryIsIdentical(t *testing.T) {
	p, blocks, facts := fullLife()
	evs := append(append([]event{poolEv(p)}, blocks...), facts...)
	bad := node("nope", "node_up", day(20), "n1")
	build := func() (*memLog, [][]schemas.Message) {
		l := newMemLog()
		msgs := publish(t, l, append(evs, bad)...)
		return l, [][]schemas.Message{msgs[:3], msgs[3:]}
	}
	clean, batches := build()
	mustHandle(t, newHandler(t, clean), batches...)

	l, batches := build()
	mustHandle(t, newHandler(t, l), batches[0])
	if !handleUntilCrash(t, func() error { return handle(newHandler(t, l, crashAt(CrashMidPublish)), batches[1]) }) {
		t.Fatal("the crash point was not reached")
	}
	if n := len(l.messages(schemas.TopicPoolLifecycle)); n == len(clean.messages(schemas.TopicPoolLifecycle)) {
		t.Fatal("everything was published before the crash point")
	}
	// Restart (an armed hook for another point changes nothing).
	if handleUntilCrash(t, func() error { return handle(newHandler(t, l, crashAt("elsewhere")), batches[1]) }) {
		t.Fatal("crashed again")
	}
	for _, topic := range []string{schemas.TopicPoolLifecycle, schemas.TopicDLQ} {
		got, want := l.messages(topic), clean.messages(topic)
		if len(got) != len(want) {
			t.Fatalf("%s: %d records after the crash and the restart, %d without a crash", topic, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i].Key, want[i].Key) || !bytes.Equal(got[i].Value, want[i].Value) {
				t.Fatalf("%s record %d: %s differs from the run without a crash (%s)", topic, i, got[i].Key, want[i].Key)
			}
		}
	}
}

// A log that fails stops the batch with the error (no commit); the same
// processor, given the batch again, rebuilds and completes it.
func TestLogFailureStopsTheBatchAndTheNextRebuilds(t *testing.T) {
	p, blocks, facts := fullLife()
	evs := append(append([]event{poolEv(p)}, blocks...), facts...)
	clean := newMemLog()
	mustHandle(t, newHandler(t, clean), publish(t, clean, evs...))
	for fail := 0; fail < 2; fail++ { // no dead letter: one write, states then transfers
		l := newMemLog()
		msgs := publish(t, l, evs...)
		h := newHandler(t, l)
		l.failAfter = fail
		if err := handle(h, msgs); !errors.Is(err, errBroker) && fail == 0 {
			t.Fatalf("failing after %d writes: %v, want the log's error", fail, err)
		}
		l.failAfter = -1
		mustHandle(t, h, msgs)
		got, want := l.messages(schemas.TopicPoolLifecycle), clean.messages(schemas.TopicPoolLifecycle)
		if len(got) != len(want) {
			t.Fatalf("failing after %d writes: %d records, want %d", fail, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i].Value, want[i].Value) {
				t.Fatalf("failing after %d writes: record %d (%s) differs from a run without failure", fail, i, got[i].Key)
			}
		}
	}
}

// A transfer once published never changes: a key that holds other content
// than the facts give stops the stage before it publishes anything. (The
// stage is the lifecycle topic's only writer: it reads the topic when it
// starts, then knows what it wrote.)
func TestConflictingTransferStopsTheStage(t *testing.T) {
	p := poolNamed("p1", poolTerms(1))
	l := newMemLog()
	other := schemas.PoolTransfer{DAO: "d", PoolID: "p1", Seq: 0, Kind: "refund", To: s1, GrossE8s: 1, Cause: "1", At: day(1), TermsVersion: 1}
	l.add(envelopeRecord(t, schemas.TopicPoolLifecycle, schemas.TypePoolTransfer, schemas.PoolTransferKey("d", "p1", 0), other))
	msgs := publish(t, l, poolEv(p), deposit(1, day(1), s1, depositAcct(1), icp/2))
	for i := 0; i < 2; i++ {
		err := handle(newHandler(t, l), msgs)
		if err == nil || !strings.Contains(err.Error(), "transfer 0, published under terms version 1, would change") {
			t.Fatalf("handle: %v, want the conflict", err)
		}
	}
	if n := len(l.messages(schemas.TopicPoolLifecycle)); n != 1 || len(l.journal) != 0 {
		t.Fatalf("%d records, writes %v: nothing may be published", n, l.journal)
	}
}

// Every input must have one partition: the order of a pool's facts is the
// order of its topic.
func TestInputWithTwoPartitionsIsRefused(t *testing.T) {
	l := newMemLog()
	msgs := publish(t, l, deposit(1, day(1), s1, nobody, icp))
	msgs[0].Partition = 1
	if err := handle(newHandler(t, l), msgs); err == nil || !strings.Contains(err.Error(), "exactly one partition") {
		t.Fatalf("handle: %v", err)
	}
}

// The peek reads a canonical block's `to` without decoding it; any other
// layout is decoded in full and gives the same.
func TestPeekBlock(t *testing.T) {
	rec := deposit(1, day(1), s1, depositAcct(1), icp).record(t)
	typ, to, ok := peekBlock(rec.Value)
	if !ok || string(typ) != schemas.TypeLedgerBlock || string(to) != depositAcct(1) {
		t.Fatalf("peek: %q %q %v", typ, to, ok)
	}
	spaced := append([]byte("{ "), rec.Value[1:]...)
	if _, _, ok := peekBlock(spaced); ok {
		t.Fatal("peek accepted a layout it does not know")
	}
	in := readBlock(&schemas.Message{Value: spaced})
	if in.kind != block || string(in.to) != depositAcct(1) || in.block == nil {
		t.Fatalf("full decode: %+v", in)
	}
	cursor := envelopeRecord(t, schemas.TopicLedgerBlocks, "ledger_cursor", "c", map[string]int{"next_index": 3})
	if in := readBlock(&schemas.Message{Value: cursor.Value}); in.kind != skip {
		t.Fatalf("a cursor record read as %v", in.kind)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{Group: DefaultGroup, Verifier: ic.Verifier{}}).Validate(); err != nil {
		t.Fatal(err)
	}
	if b := (Config{}).Batch(); b != DefaultMaxBatch {
		t.Fatalf("default batch %d, want %d", b, DefaultMaxBatch)
	}
	for name, c := range map[string]struct {
		cfg  Config
		want string
	}{
		"no group":          {Config{Verifier: ic.Verifier{}}, "consumer group is empty"},
		"no verifier":       {Config{Group: "g"}, "no signature verifier"},
		"output is input":   {Config{Group: "g", Verifier: ic.Verifier{}, LifecycleTopic: schemas.TopicLedgerBlocks}, "ledger blocks topic and lifecycle topic are both ic.ledger-blocks.v1"},
		"dlq is the output": {Config{Group: "g", Verifier: ic.Verifier{}, DLQTopic: schemas.TopicPoolLifecycle}, "lifecycle topic and dead-letter topic"},
		"negative batch":    {Config{Group: "g", Verifier: ic.Verifier{}, MaxBatch: -1}, "batch size must be >= 0"},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
		if _, err := New(c.cfg, newMemLog()); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
}
