package connect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// The pools' ledger blocks through the Ledger port: the cursor across
// polls and processes, windows, filtering by the pools' accounts, and
// failures that must publish nothing and keep the cursor.

const (
	ledgerID = "ryjl3-tyaaa-aaaaa-aaaba-cai"
	treasury = "rrkah-fqaaa-aaaaa-aaaaq-cai"
	// Sponsors and a stranger: any 64-hex account identifiers do here.
	sponsor1 = "1111111111111111111111111111111111111111111111111111111111111111"
	sponsor2 = "2222222222222222222222222222222222222222222222222222222222222222"
	stranger = "3333333333333333333333333333333333333333333333333333333333333333"
)

// fakeLedger serves its blocks, all of them proven (a read that must fail
// is queued with faults.fail).
type fakeLedger struct {
	faults
	blocks []schemas.LedgerBlock
	// certNanos is the certified time of every read (42 when 0).
	certNanos uint64
}

func (l *fakeLedger) Canister() string { return ledgerID }

func (l *fakeLedger) ChainLength(ctx context.Context) (uint64, error) {
	if err := l.enter(ctx, "length"); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.blocks)), nil
}

func (l *fakeLedger) ReadBlocks(ctx context.Context, start, end uint64) ([]schemas.LedgerBlock, uint64, schemas.Provenance, error) {
	prov := schemas.Provenance{Source: "ic", Canister: ledgerID, Method: "query_blocks", CertTimeNanos: 42}
	if l.certNanos != 0 {
		prov.CertTimeNanos = l.certNanos
	}
	if err := l.enter(ctx, fmt.Sprintf("read %d", start)); err != nil {
		return nil, 0, prov, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := uint64(len(l.blocks))
	if start > n {
		return nil, 0, prov, fmt.Errorf("read from %d, past the certified tip's chain length %d", start, n)
	}
	return slices.Clone(l.blocks[start:min(end, n)]), n, prov, nil
}

// add appends a block; its index is returned.
func (l *fakeLedger) add(op, from, to string, amount uint64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := uint64(len(l.blocks))
	at := time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	l.blocks = append(l.blocks, schemas.LedgerBlock{Ledger: ledgerID, Index: i, Time: at.Format(time.RFC3339Nano), TimestampNanos: uint64(at.UnixNano()),
		Op: op, From: from, To: to, AmountE8s: amount, FeeE8s: 10_000, HashHex: fmt.Sprintf("%064x", i+1), ParentHashHex: fmt.Sprintf("%064x", i)})
	return i
}

// accounts are the deposit and bond accounts of dao/poolID under owner.
func accounts(t *testing.T, owner, dao, poolID string) (deposit, bond string) {
	t.Helper()
	d, err := schemas.AccountOf(owner, schemas.DepositSubaccount(dao, poolID))
	if err != nil {
		t.Fatal(err)
	}
	b, err := schemas.AccountOf(owner, schemas.BondSubaccount(dao, poolID))
	if err != nil {
		t.Fatal(err)
	}
	return d.ID, b.ID
}

// testPool is a pool with terms (only what the stage reads is filled).
func testPool(t *testing.T, owner, dao, poolID string, nodes ...string) schemas.Pool {
	t.Helper()
	dep, bond := accounts(t, owner, dao, poolID)
	p := schemas.Pool{DAO: dao, PoolID: poolID, Terms: &schemas.PoolTerms{TermsVersion: 1, Treasury: owner, DepositAccount: dep, BondAccount: bond}}
	for _, n := range nodes {
		p.Nodes = append(p.Nodes, schemas.Node{NodeID: n, WeightXDRPermyriad: 1})
	}
	return p
}

// put appends a record to topic as another writer would (a new terms
// version of a pool keeps its key).
func (l *memLog) put(t *testing.T, topic, typ, key string, payload any) {
	t.Helper()
	env, err := schemas.NewEnvelope(typ, key, schemas.Provenance{Source: "dao-admin"}, payload)
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.topics[topic] = append(l.topics[topic], schemas.Message{Topic: topic, Offset: int64(len(l.topics[topic])), Key: []byte(key), Value: b})
}

func (e *env) putPool(t *testing.T, p schemas.Pool) {
	e.log.put(t, schemas.TopicPools, schemas.TypePool, schemas.PoolKey(p.DAO, p.PoolID), p)
}

// withLedger adds the ledger port; since nil starts at the tip.
func withLedger(l *fakeLedger, since *uint64, window int) func(*Config, *Ports) {
	return func(cfg *Config, p *Ports) {
		p.Ledger = l
		cfg.LedgerSinceBlock, cfg.LedgerWindow = since, window
	}
}

func u64(v uint64) *uint64 { return &v }

func blockKeys(idx ...uint64) []string {
	var out []string
	for _, i := range idx {
		out = append(out, schemas.LedgerBlockKey(ledgerID, i))
	}
	return out
}

func cursorKeys(next ...uint64) []string {
	var out []string
	for _, n := range next {
		out = append(out, LedgerCursorKey(ledgerID, n))
	}
	return out
}

func TestLedgerBlocksOnceAcrossPollsAndRestarts(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	l := &fakeLedger{}
	pool := testPool(t, treasury, "dao", "pool-a")
	dep, bond := pool.Terms.DepositAccount, pool.Terms.BondAccount
	// pool-b changed treasury in its second terms version: the accounts
	// of both versions are the pool's.
	oldB := testPool(t, treasury, "dao", "pool-b")
	newB := testPool(t, ledgerID, "dao", "pool-b")
	newB.Terms.TermsVersion = 2
	e.putPool(t, pool)
	e.putPool(t, oldB)
	e.putPool(t, newB)
	// A pool without terms has no accounts to watch.
	e.putPool(t, schemas.Pool{DAO: "dao", PoolID: "configured"})

	l.add("mint", "", sponsor1, 100_000_000)                       // 0
	l.add("transfer", sponsor1, dep, 50_000_000)                   // 1 deposit
	l.add("transfer", sponsor1, stranger, 5)                       // 2 not a pool's
	l.add("transfer", sponsor2, bond, 30_000_000)                  // 3 bond
	l.add("transfer", dep, sponsor1, 1_000_000)                    // 4 a refund leaving the pool
	l.add("mint", "", dep, 1)                                      // 5 not a transfer
	l.add("approve", dep, "", 0)                                   // 6 not a transfer
	l.add("transfer", sponsor2, oldB.Terms.DepositAccount, 40_000) // 7 pool-b, terms v1
	l.add("transfer", sponsor2, newB.Terms.DepositAccount, 40_000) // 8 pool-b, terms v2

	// Windows of three blocks: each window's pool blocks, then its cursor.
	c := e.connector(t, icOnly, withLedger(l, u64(0), 3))
	st, err := c.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.LedgerBlocksRead != 9 || st.LedgerBlocksPublished != 5 || st.LedgerNextIndex != 9 {
		t.Fatalf("poll 1: %+v", st)
	}
	want := append(blockKeys(1, 3, 4, 7, 8), cursorKeys(3, 6, 9)...)
	assertOnce(t, e.log, schemas.TopicLedgerBlocks, want...)

	// The same process again, then a new one: the tip has not moved, so
	// nothing is read and nothing is written.
	for i, c := range []*Connector{c, e.connector(t, icOnly, withLedger(l, u64(0), 3))} {
		l.reset()
		st, err := c.Poll(ctx)
		if err != nil || st.LedgerBlocksRead != 0 || st.LedgerNextIndex != 9 {
			t.Fatalf("re-poll %d: %+v %v", i, st, err)
		}
		if calls := l.log(); strings.Join(calls, ",") != "read 9" {
			t.Fatalf("re-poll %d: ledger calls %v", i, calls)
		}
	}
	assertOnce(t, e.log, schemas.TopicLedgerBlocks, want...)

	// New blocks, a restarted process: it resumes at the cursor on the
	// topic (not at --ledger-since-block), publishes the new pool block.
	l.add("transfer", sponsor2, dep, 60_000_000) // 9
	l.add("transfer", stranger, sponsor1, 7)     // 10
	st, err = e.connector(t, icOnly, withLedger(l, u64(0), 3)).Poll(ctx)
	if err != nil || st.LedgerBlocksRead != 2 || st.LedgerBlocksPublished != 1 || st.LedgerNextIndex != 11 {
		t.Fatalf("after restart: %+v %v", st, err)
	}
	want = append(blockKeys(1, 3, 4, 7, 8, 9), cursorKeys(3, 6, 9, 11)...)
	assertOnce(t, e.log, schemas.TopicLedgerBlocks, want...)

	// The record: the block as the port read it, with the read's
	// provenance; the cursor record says where reading resumes.
	env, err := e.log.envelope(schemas.TopicLedgerBlocks, schemas.LedgerBlockKey(ledgerID, 4))
	if err != nil {
		t.Fatal(err)
	}
	var b schemas.LedgerBlock
	if err := env.DecodePayload(schemas.TypeLedgerBlock, &b); err != nil || b != l.blocks[4] {
		t.Fatalf("block 4: %+v %v", b, err)
	}
	if p := env.Provenance; p.Source != "ic" || p.Canister != ledgerID || p.Method != "query_blocks" || p.CertTimeNanos != 42 || p.FetchTime != "2025-10-20T12:00:00Z" {
		t.Fatalf("block provenance %+v", p)
	}
	env, err = e.log.envelope(schemas.TopicLedgerBlocks, LedgerCursorKey(ledgerID, 11))
	if err != nil {
		t.Fatal(err)
	}
	var cur LedgerCursor
	if err := env.DecodePayload(TypeLedgerCursor, &cur); err != nil || cur != (LedgerCursor{Ledger: ledgerID, NextIndex: 11}) {
		t.Fatalf("cursor %+v %v", cur, err)
	}
}

// Without a start, the first poll starts at the chain's length and writes
// that down, so a restart does not take the (moved) tip again.
func TestLedgerStartsAtTheTipAndRemembersIt(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	l := &fakeLedger{}
	pool := testPool(t, treasury, "dao", "pool-a")
	e.putPool(t, pool)
	l.add("mint", "", sponsor1, 100)
	l.add("transfer", sponsor1, pool.Terms.DepositAccount, 50) // before the start: not read
	l.add("transfer", sponsor1, stranger, 5)

	st, err := e.connector(t, icOnly, withLedger(l, nil, 0)).Poll(ctx)
	if err != nil || st.LedgerBlocksRead != 0 || st.LedgerNextIndex != 3 {
		t.Fatalf("first poll: %+v %v", st, err)
	}
	if calls := l.log(); strings.Join(calls, ",") != "length,read 3" {
		t.Fatalf("first poll calls %v", calls)
	}
	assertOnce(t, e.log, schemas.TopicLedgerBlocks, cursorKeys(3)...)

	// A deposit while the connector is down; the tip moved: the restarted
	// connector reads from the cursor, not from the new tip.
	l.add("transfer", sponsor2, pool.Terms.DepositAccount, 70)
	l.reset()
	st, err = e.connector(t, icOnly, withLedger(l, nil, 0)).Poll(ctx)
	if err != nil || st.LedgerBlocksPublished != 1 || st.LedgerNextIndex != 4 {
		t.Fatalf("after restart: %+v %v", st, err)
	}
	if calls := l.log(); strings.Join(calls, ",") != "read 3" {
		t.Fatalf("after restart calls %v", calls)
	}
	assertOnce(t, e.log, schemas.TopicLedgerBlocks, append(blockKeys(3), cursorKeys(3, 4)...)...)
}

// A read that fails (the chain does not verify) publishes nothing and
// moves nothing; the next good read publishes every block once.
func TestLedgerBrokenChainPublishesNothing(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	l := &fakeLedger{}
	pool := testPool(t, treasury, "dao", "pool-a")
	e.putPool(t, pool)
	l.add("transfer", sponsor1, pool.Terms.DepositAccount, 50)
	c := e.connector(t, icOnly, withLedger(l, u64(0), 0))
	if _, err := c.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	before := e.log.counts(schemas.TopicLedgerBlocks)

	l.add("transfer", sponsor2, pool.Terms.DepositAccount, 60)
	l.add("transfer", sponsor1, pool.Terms.BondAccount, 70)
	// Not transient: one try, no retry.
	l.fail(errors.New("ic: query_blocks: block does not chain to the certified tip: block 2 hashes to ab, but the certified tip names cd"))
	l.reset()
	st, err := c.Poll(ctx)
	if err == nil || !strings.Contains(err.Error(), "does not chain") || st.LedgerNextIndex != 1 || st.LedgerBlocksPublished != 0 {
		t.Fatalf("broken chain: %+v %v", st, err)
	}
	if calls := l.log(); len(calls) != 1 {
		t.Fatalf("a broken chain was retried: %v", calls)
	}
	if got := e.log.counts(schemas.TopicLedgerBlocks); len(got) != len(before) {
		t.Fatalf("published after a broken chain: %v", got)
	}
	// A port that returns fewer blocks than the certified chain holds (a
	// hole) is refused by the stage too.
	c.p.Ledger = holeLedger{l}
	if _, err := c.Poll(ctx); err == nil || !strings.Contains(err.Error(), "nothing published") {
		t.Fatalf("hole: %v", err)
	}
	if got := e.log.counts(schemas.TopicLedgerBlocks); len(got) != len(before) {
		t.Fatalf("published with a hole: %v", got)
	}
	c.p.Ledger = l
	if _, err := c.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	assertOnce(t, e.log, schemas.TopicLedgerBlocks, append(blockKeys(0, 1, 2), cursorKeys(1, 3)...)...)
}

// holeLedger drops the first block of every read.
type holeLedger struct{ *fakeLedger }

func (h holeLedger) ReadBlocks(ctx context.Context, start, end uint64) ([]schemas.LedgerBlock, uint64, schemas.Provenance, error) {
	bs, n, p, err := h.fakeLedger.ReadBlocks(ctx, start, end)
	if len(bs) > 0 {
		bs = bs[1:]
	}
	return bs, n, p, err
}

// A publish that fails keeps the cursor before its window; a crash between
// a window's blocks and its cursor reads the window again, and finds its
// blocks present.
func TestLedgerFailedPublishKeepsTheCursor(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	l := &fakeLedger{}
	pool := testPool(t, treasury, "dao", "pool-a")
	e.putPool(t, pool)
	for range 6 {
		l.add("transfer", sponsor1, pool.Terms.DepositAccount, 50)
	}
	hasKey := func(facts []schemas.Fact, key string) bool {
		return slices.ContainsFunc(facts, func(f schemas.Fact) bool { return f.Key == key })
	}
	e.log.refuse = func(facts []schemas.Fact) error {
		if hasKey(facts, schemas.LedgerBlockKey(ledgerID, 3)) {
			return errors.New("broker down")
		}
		return nil
	}
	c := e.connector(t, icOnly, withLedger(l, u64(0), 2))
	st, err := c.Poll(ctx)
	if err == nil || !strings.Contains(err.Error(), "broker down") || !strings.Contains(err.Error(), "the cursor stays at 2") || st.LedgerNextIndex != 2 {
		t.Fatalf("failed publish: %+v %v", st, err)
	}
	assertOnce(t, e.log, schemas.TopicLedgerBlocks, append(blockKeys(0, 1), cursorKeys(2)...)...)

	// The cursor record of a window fails after its blocks were written
	// (as if the process died between the two).
	e.log.refuse = func(facts []schemas.Fact) error {
		if hasKey(facts, LedgerCursorKey(ledgerID, 4)) {
			return errors.New("killed")
		}
		return nil
	}
	if st, err := e.connector(t, icOnly, withLedger(l, u64(0), 2)).Poll(ctx); err == nil || st.LedgerNextIndex != 2 {
		t.Fatalf("killed before the cursor: %+v %v", st, err)
	}
	assertOnce(t, e.log, schemas.TopicLedgerBlocks, append(blockKeys(0, 1, 2, 3), cursorKeys(2)...)...)

	e.log.refuse = nil
	l.reset()
	st, err = e.connector(t, icOnly, withLedger(l, u64(0), 2)).Poll(ctx)
	if err != nil || st.LedgerNextIndex != 6 || st.LedgerBlocksPublished != 4 {
		t.Fatalf("resumed: %+v %v", st, err)
	}
	if calls := l.log(); strings.Join(calls, ",") != "read 2" {
		t.Fatalf("resumed calls %v", calls)
	}
	assertOnce(t, e.log, schemas.TopicLedgerBlocks, append(blockKeys(0, 1, 2, 3, 4, 5), cursorKeys(2, 4, 6)...)...)
}

// A transient failure of the ledger is retried like any source's.
func TestLedgerTransientFailureIsRetried(t *testing.T) {
	e := newEnv()
	l := &fakeLedger{}
	pool := testPool(t, treasury, "dao", "pool-a")
	e.putPool(t, pool)
	l.add("transfer", sponsor1, pool.Terms.DepositAccount, 50)
	l.fail(&transientErr{"ic: query_blocks: 503"})
	st, err := e.connector(t, icOnly, withLedger(l, u64(0), 0)).Poll(context.Background())
	if err != nil || st.LedgerBlocksPublished != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	if calls := l.log(); strings.Join(calls, ",") != "read 0,read 0" {
		t.Fatalf("calls %v", calls)
	}
}

// The ledger's certified time is the pools' clock: once it is a second
// past a pool's funding deadline, lock-up end or vote close, a tick at that second is
// published, once.
func TestTicksFollowTheCertifiedTime(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	l := &fakeLedger{}
	pool := testPool(t, treasury, "dao", "pool-a")
	pool.Terms.FundingDeadline, pool.Terms.LockupUntil = "2026-02-01T00:00:00Z", "2027-02-01T00:00:00+01:00"
	e.putPool(t, pool)
	l.add("mint", "", sponsor1, 1)
	poll := func(at time.Time) {
		t.Helper()
		l.certNanos = uint64(at.UnixNano())
		if _, err := e.connector(t, icOnly, withLedger(l, u64(0), 3)).Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tick := func(at string) string {
		return schemas.PoolFactKey(schemas.PoolFact{DAO: "dao", PoolID: "pool-a", Type: "tick", At: at})
	}
	poll(time.Date(2026, 2, 1, 0, 0, 0, 999_999_999, time.UTC)) // the deadline has not passed by a second
	assertOnce(t, e.log, schemas.TopicPoolFacts)
	poll(time.Date(2026, 2, 1, 0, 0, 1, 0, time.UTC))
	poll(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	assertOnce(t, e.log, schemas.TopicPoolFacts, tick("2026-02-01T00:00:01Z"))
	// A vote's close is a timed rule too: it decides the vote.
	th := int64(5001)
	opened := schemas.PoolFact{DAO: "dao", PoolID: "pool-a", Type: "vote_opened", At: "2026-05-01T00:00:00Z", VoteID: "v1",
		Kind: "terminate_hoster", Subject: `{"hoster":"h"}`, ClosesAt: "2026-06-01T12:00:00Z", ThresholdBps: &th}
	e.putFact(t, opened)
	poll(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	poll(time.Date(2026, 6, 1, 12, 0, 1, 0, time.UTC))
	voteKey := schemas.PoolFactKey(opened)
	assertOnce(t, e.log, schemas.TopicPoolFacts, tick("2026-02-01T00:00:01Z"), voteKey, tick("2026-06-01T12:00:01Z"))
	poll(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC))
	assertOnce(t, e.log, schemas.TopicPoolFacts, tick("2026-02-01T00:00:01Z"), voteKey, tick("2026-06-01T12:00:01Z"), tick("2027-01-31T23:00:01Z"))
	env, err := e.log.envelope(schemas.TopicPoolFacts, tick("2027-01-31T23:00:01Z"))
	if err != nil {
		t.Fatal(err)
	}
	var f schemas.PoolFact
	if err := env.DecodePayload(schemas.TypePoolFact, &f); err != nil || f.Type != "tick" || f.At != "2027-01-31T23:00:01Z" {
		t.Fatalf("tick %+v %v", f, err)
	}
	if p := env.Provenance; p.Source != "nodeshare" || p.CertTimeNanos != uint64(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()) || !strings.Contains(p.Method, "certified time") {
		t.Fatalf("tick provenance %+v", p)
	}
}
