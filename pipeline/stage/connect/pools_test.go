package connect

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// The pool watcher: proposal decisions and nodes joining and leaving,
// each published once.

// fakeProposals serves decisions by proposal id (nil: not decided yet).
type fakeProposals struct {
	faults
	mu2       sync.Mutex
	decisions map[uint64]*schemas.PoolFact
	unknown   map[uint64]bool
}

func (f *fakeProposals) ProposalDecision(ctx context.Context, id uint64) (*schemas.PoolFact, schemas.Provenance, error) {
	prov := schemas.Provenance{Source: "ic", Canister: "rrkah-fqaaa-aaaaa-aaaaq-cai", Method: "get_proposal_info"}
	if err := f.enter(ctx, fmt.Sprint(id)); err != nil {
		return nil, prov, err
	}
	f.mu2.Lock()
	defer f.mu2.Unlock()
	if f.unknown[id] {
		return nil, prov, fmt.Errorf("ic: get_proposal_info: governance has no proposal %d", id)
	}
	d := f.decisions[id]
	if d == nil {
		return nil, prov, nil
	}
	out := *d
	pid := id
	out.ProposalID = &pid
	return &out, prov, nil
}

func (f *fakeProposals) decide(id uint64, status, at string) {
	f.mu2.Lock()
	defer f.mu2.Unlock()
	if f.decisions == nil {
		f.decisions = map[uint64]*schemas.PoolFact{}
	}
	f.decisions[id] = &schemas.PoolFact{Type: "proposal_decided", Status: status, At: at}
}

func withProposals(f *fakeProposals) func(*Config, *Ports) {
	return func(_ *Config, p *Ports) { p.Proposals = f }
}

func (e *env) putFact(t *testing.T, f schemas.PoolFact) {
	e.log.put(t, schemas.TopicPoolFacts, schemas.TypePoolFact, schemas.PoolFactKey(f), f)
}

func submitted(dao, pool string, id uint64, at string) schemas.PoolFact {
	return schemas.PoolFact{DAO: dao, PoolID: pool, Type: "proposal_submitted", At: at, ProposalID: &id}
}

func decidedKey(dao, pool string, id uint64) string {
	return schemas.PoolFactKey(schemas.PoolFact{DAO: dao, PoolID: pool, Type: "proposal_decided", ProposalID: &id})
}

func nodeKey(dao, pool, typ, node, at string) string {
	return schemas.PoolFactKey(schemas.PoolFact{DAO: dao, PoolID: pool, Type: typ, NodeID: node, At: at})
}

func (l *memLog) poolFact(t *testing.T, key string) schemas.PoolFact {
	t.Helper()
	env, err := l.envelope(schemas.TopicPoolFacts, key)
	if err != nil {
		t.Fatal(err)
	}
	var f schemas.PoolFact
	if err := env.DecodePayload(schemas.TypePoolFact, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestProposalDecidedOnce(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	props := &fakeProposals{}
	e.putPool(t, testPool(t, treasury, "dao", "pool-a"))
	e.putPool(t, testPool(t, treasury, "dao", "pool-late"))
	e.putPool(t, testPool(t, treasury, "dao", "pool-quiet")) // nothing submitted: never asked about
	e.putFact(t, submitted("dao", "pool-a", 7, "2025-10-01T00:00:00Z"))
	// The DAO recorded this submission after Governance's decision.
	e.putFact(t, submitted("dao", "pool-late", 8, "2025-10-06T00:00:00Z"))
	// A submission for a pool that is not on dao.pools.v1 is not watched.
	e.putFact(t, submitted("dao", "ghost", 9, "2025-10-01T00:00:00Z"))
	poll := func(c *Connector) Stats {
		t.Helper()
		props.reset()
		st, err := c.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	c := e.connector(t, icOnly, withProposals(props))

	// Open, then adopted but not executed (the port reports neither):
	// asked every poll, nothing published.
	for range 2 {
		if st := poll(c); st.PoolFacts != 0 {
			t.Fatalf("undecided: %+v", st)
		}
		if calls := props.log(); strings.Join(calls, ",") != "7,8" {
			t.Fatalf("calls %v", calls)
		}
	}
	assertOnce(t, e.log, schemas.TopicPoolFacts, schemas.PoolFactKey(submitted("dao", "pool-a", 7, "2025-10-01T00:00:00Z")),
		schemas.PoolFactKey(submitted("dao", "pool-late", 8, "")), schemas.PoolFactKey(submitted("dao", "ghost", 9, "")))

	props.decide(7, "adopted", "2025-10-05T10:00:00Z")
	props.decide(8, "rejected", "2025-10-05T11:00:00Z")
	if st := poll(c); st.PoolFacts != 2 {
		t.Fatalf("decided: %+v", st)
	}
	// Decided proposals are not asked about again, by this process or the
	// next.
	for _, c := range []*Connector{c, e.connector(t, icOnly, withProposals(props))} {
		if st := poll(c); st.PoolFacts != 0 || len(props.log()) != 0 {
			t.Fatalf("after the decision: %+v, calls %v", st, props.log())
		}
	}
	assertOnce(t, e.log, schemas.TopicPoolFacts, schemas.PoolFactKey(submitted("dao", "pool-a", 7, "")), schemas.PoolFactKey(submitted("dao", "pool-late", 8, "")),
		schemas.PoolFactKey(submitted("dao", "ghost", 9, "")), decidedKey("dao", "pool-a", 7), decidedKey("dao", "pool-late", 8))

	if f := e.log.poolFact(t, decidedKey("dao", "pool-a", 7)); f.DAO != "dao" || f.PoolID != "pool-a" || f.Type != "proposal_decided" ||
		f.At != "2025-10-05T10:00:00Z" || f.ProposalID == nil || *f.ProposalID != 7 || f.Status != "adopted" || f.NodeID != "" {
		t.Fatalf("decision %+v", f)
	}
	// Dated at the submission, not before it: the lifecycle takes facts in
	// time order.
	if f := e.log.poolFact(t, decidedKey("dao", "pool-late", 8)); f.At != "2025-10-06T00:00:00Z" || f.Status != "rejected" {
		t.Fatalf("late submission's decision %+v", f)
	}
	if !strings.Contains(e.logText(), "decided the proposal before the DAO's recorded submission") {
		t.Fatal("the re-dated decision was not logged")
	}
	env, _ := e.log.envelope(schemas.TopicPoolFacts, decidedKey("dao", "pool-a", 7))
	if p := env.Provenance; p.Source != "ic" || p.Method != "get_proposal_info" || p.FetchTime == "" {
		t.Fatalf("decision provenance %+v", p)
	}
}

// A proposal Governance does not know fails the poll, naming the pool;
// the other pools' decisions are still published.
func TestUnknownProposalIsAnError(t *testing.T) {
	e := newEnv()
	props := &fakeProposals{unknown: map[uint64]bool{7: true}}
	props.decide(8, "failed", "2025-10-07T00:00:00Z")
	e.putPool(t, testPool(t, treasury, "dao", "pool-a"))
	e.putPool(t, testPool(t, treasury, "dao", "pool-b"))
	e.putFact(t, submitted("dao", "pool-a", 7, "2025-10-01T00:00:00Z"))
	e.putFact(t, submitted("dao", "pool-b", 8, "2025-10-01T00:00:00Z"))
	st, err := e.connector(t, icOnly, withProposals(props)).Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "pool dao/pool-a") || !strings.Contains(err.Error(), "no proposal 7") || st.PoolFacts != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	if f := e.log.poolFact(t, decidedKey("dao", "pool-b", 8)); f.Status != "failed" {
		t.Fatalf("%+v", f)
	}
}

// octDay is a day of October 2025.
func octDay(d int) schemas.Date { return schemas.Date{Year: 2025, Month: 10, Day: uint32(d)} }

// setNodes makes the NRC answer days from..to of October with node
// "always" every day and each of present's nodes on its days.
func (e *env) setNodes(from, to int, present map[string][]int) {
	for d := from; d <= to; d++ {
		nodes := []schemas.NodeDailyReward{nodeDayOn(npB, "always", octDay(d))}
		for id, days := range present {
			if slices.Contains(days, d) {
				nodes = append(nodes, nodeDayOn(npA, id, octDay(d)))
			}
		}
		e.nrc.nodes[octDay(d)] = nodes
	}
}

func nodeDayOn(np, id string, d schemas.Date) schemas.NodeDailyReward {
	n := nodeDay(np, id, 1, "10000")
	n.Day = d.String()
	return n
}

func days(from, to int) []int {
	var out []int
	for d := from; d <= to; d++ {
		out = append(out, d)
	}
	return out
}

func TestNodeUpAndDownOnce(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	e.now = time.Date(2025, 10, 20, 12, 0, 0, 0, time.UTC)
	props := &fakeProposals{}
	nodes := func(cfg *Config, p *Ports) {
		cfg.NRCRecentDays = 6 // October 14..19
		p.Dashboard = nil
		p.Proposals = props
	}
	// pool-a: adopted on the 16th at 10:00; its node runs from the 15th.
	// pool-b: adopted on the 1st; its node joins on the 17th.
	// pool-c: submitted, not decided: its node is not watched.
	for _, p := range []schemas.Pool{
		testPool(t, treasury, "dao", "pool-a", "node-a"),
		testPool(t, treasury, "dao", "pool-b", "node-b", "node-b"),
		testPool(t, treasury, "dao", "pool-c", "node-c"),
	} {
		e.putPool(t, p)
	}
	for i, p := range []string{"pool-a", "pool-b", "pool-c"} {
		e.putFact(t, submitted("dao", p, uint64(i+1), "2025-09-20T00:00:00Z"))
	}
	a, b := uint64(1), uint64(2)
	e.putFact(t, schemas.PoolFact{DAO: "dao", PoolID: "pool-a", Type: "proposal_decided", At: "2025-10-16T10:00:00Z", ProposalID: &a, Status: "adopted"})
	e.putFact(t, schemas.PoolFact{DAO: "dao", PoolID: "pool-b", Type: "proposal_decided", At: "2025-10-01T00:00:00Z", ProposalID: &b, Status: "adopted"})
	// The NRC has no results for the 14th: no evidence either way.
	e.setNodes(15, 19, map[string][]int{"node-a": days(15, 19), "node-b": days(17, 19), "node-c": days(15, 19)})

	upA := nodeKey("dao", "pool-a", "node_up", "node-a", "2025-10-16T10:00:00Z")
	upB := nodeKey("dao", "pool-b", "node_up", "node-b", "2025-10-17T00:00:00Z")
	facts := func() []string {
		var out []string
		for k := range e.log.counts(schemas.TopicPoolFacts) {
			if strings.Contains(k, "/node_") {
				out = append(out, k)
			}
		}
		return out
	}
	for i := range 2 {
		st, err := e.connector(t, nodes).Poll(ctx)
		if err != nil || st.PoolFacts != []int{2, 0}[i] {
			t.Fatalf("poll %d: %+v %v", i, st, err)
		}
	}
	if got := facts(); len(got) != 2 || !slices.Contains(got, upA) || !slices.Contains(got, upB) {
		t.Fatalf("node facts %v", got)
	}
	if f := e.log.poolFact(t, upA); f.Type != "node_up" || f.NodeID != "node-a" || f.At != "2025-10-16T10:00:00Z" {
		t.Fatalf("node_up %+v", f)
	}
	env, _ := e.log.envelope(schemas.TopicPoolFacts, upB)
	if p := env.Provenance; p.Source != "ic" || p.Method != "get_node_providers_rewards_calculation" {
		t.Fatalf("node provenance %+v", p)
	}

	// Two days later node-a has left on the 20th; a new process sees it.
	e.now = e.now.AddDate(0, 0, 2)
	e.setNodes(20, 21, map[string][]int{"node-b": {20, 21}})
	downA := nodeKey("dao", "pool-a", "node_down", "node-a", "2025-10-20T00:00:00Z")
	for i := range 2 {
		st, err := e.connector(t, nodes).Poll(ctx)
		if err != nil || st.PoolFacts != []int{1, 0}[i] {
			t.Fatalf("after leaving, poll %d: %+v %v", i, st, err)
		}
	}
	// It comes back on the 23rd: a new node_up (the lifecycle decides
	// whether it still counts).
	e.now = e.now.AddDate(0, 0, 2)
	e.setNodes(22, 23, map[string][]int{"node-a": {23}, "node-b": {22, 23}})
	if st, err := e.connector(t, nodes).Poll(ctx); err != nil || st.PoolFacts != 1 {
		t.Fatalf("back: %+v %v", st, err)
	}
	again := nodeKey("dao", "pool-a", "node_up", "node-a", "2025-10-23T00:00:00Z")
	got := facts()
	slices.Sort(got)
	want := []string{upA, downA, again, upB}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("node facts %v, want %v", got, want)
	}
	for k, n := range e.log.counts(schemas.TopicPoolFacts) {
		if n != 1 {
			t.Fatalf("%s: %d records", k, n)
		}
	}
}

// Without the NRC there is no evidence: no node fact, and no error.
func TestNodesNeedTheNRC(t *testing.T) {
	e := newEnv()
	props := &fakeProposals{}
	e.putPool(t, testPool(t, treasury, "dao", "pool-a", "node-a"))
	e.putFact(t, submitted("dao", "pool-a", 1, "2025-09-20T00:00:00Z"))
	one := uint64(1)
	e.putFact(t, schemas.PoolFact{DAO: "dao", PoolID: "pool-a", Type: "proposal_decided", At: "2025-10-01T00:00:00Z", ProposalID: &one, Status: "adopted"})
	e.setNodes(15, 19, map[string][]int{"node-a": days(15, 19)})
	st, err := e.connector(t, icOnly, withProposals(props), func(cfg *Config, _ *Ports) { cfg.NRCRecentDays = 6 }).Poll(context.Background())
	if err != nil || st.PoolFacts != 0 {
		t.Fatalf("%+v %v", st, err)
	}
	if calls := props.log(); len(calls) != 0 {
		t.Fatalf("a decided proposal was asked about: %v", calls)
	}
}
