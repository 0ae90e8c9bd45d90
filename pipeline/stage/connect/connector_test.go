package connect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nodeshare/nodeshare/pipeline/rates"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// The stage driven through its ports with the in-memory fakes of
// fakes_test.go. cmd/nodeshare/connect_test.go runs the same stage on the
// real Kafka and the IC simulator.

const (
	npA    = "2vxsx-fae"
	npB    = "rwlgt-iiaaa-aaaaa-aaaaa-cai"
	node1  = "ryjl3-tyaaa-aaaaa-aaaba-cai"
	node2  = "qjdve-lqaaa-aaaaa-aaaeq-cai"
	node3  = "qhbym-qaaaa-aaaaa-aaafq-cai"
	ts1    = 1_759_000_000
	period = nnsRewardPeriodSeconds
	ts2    = ts1 + period
	npBAcc = "5f0b4c3f1e4a2ad4a3b7f0c2f0e5d6c7b8a9f0e1d2c3b4a5968778695a4b3c2d"
)

func day(d uint32) schemas.Date { return schemas.Date{Year: 2025, Month: 9, Day: d} }

func month(ts uint64, from, to uint32) schemas.RewardEvent {
	f, t := day(from), day(to)
	return schemas.RewardEvent{TimestampSeconds: ts, XDRPermyriadPerICP: 35_000, StartDate: &f, EndDate: &t,
		Rewards: []schemas.ProviderReward{{NodeProvider: npA, AmountE8s: 4_285_714_285, RewardAccount: npA}, {NodeProvider: npB, AmountE8s: 7, RewardAccount: npBAcc}}}
}

func nodeDay(np, id string, d uint32, adjusted string) schemas.NodeDailyReward {
	return schemas.NodeDailyReward{Day: day(d).String(), NodeProvider: np, NodeID: id, NodeRewardType: "type1.1", Region: "Europe,Switzerland", DCID: "zh1",
		OriginalFailureRate: "0", RelativeFailureRate: "0", SubnetAssignedFailureRate: "0", ExtrapolatedFailureRate: "0",
		PerformanceMultiplier: "1", RewardsReduction: "0", BaseXDRPermyriad: adjusted, AdjustedXDRPermyriad: adjusted}
}

// env is one world: the sources, the log and a fixed clock. Connectors
// made from it share the log, as successive processes share Kafka.
type env struct {
	gov  *fakeGovernance
	cmc  *fakeCMC
	nrc  *fakeNRC
	dash *fakeDashboard
	log  *memLog
	now  time.Time
	mu   sync.Mutex
	logs bytes.Buffer
}

// newEnv: two reward periods (September 1-3 and 4-6), agreeing CMC and
// dashboard rates, and NRC days 1-6 for npA's two nodes and days 1-3 for
// npB's one node (10,000 XDR permyriad a day each).
func newEnv() *env {
	e := &env{
		gov:  &fakeGovernance{pageSize: 24},
		cmc:  &fakeCMC{spot: cmcRate(1_760_000_000, 36_000, "get_icp_xdr_conversion_rate"), avg: cmcRate(1_759_900_000, 35_000, "get_average_icp_xdr_conversion_rate")},
		nrc:  &fakeNRC{nodes: map[schemas.Date][]schemas.NodeDailyReward{}},
		dash: &fakeDashboard{spot: []rates.Point{{TimestampSeconds: 1_760_000_000, XDRPermyriadPerICP: decimal.NewFromInt(36_000)}}, avg: []rates.Point{{TimestampSeconds: 1_759_900_000, XDRPermyriadPerICP: decimal.NewFromInt(35_000)}}},
		log:  newMemLog(),
		now:  time.Date(2025, 10, 20, 12, 0, 0, 0, time.UTC),
	}
	e.gov.set(month(ts1, 1, 3), month(ts2, 4, 6))
	for d := uint32(1); d <= 6; d++ {
		e.nrc.nodes[day(d)] = []schemas.NodeDailyReward{nodeDay(npA, node1, d, "10000"), nodeDay(npA, node2, d, "10000")}
		if d <= 3 {
			e.nrc.nodes[day(d)] = append(e.nrc.nodes[day(d)], nodeDay(npB, node3, d, "10000"))
		}
	}
	return e
}

func (e *env) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logs.Write(p)
}

func (e *env) logText() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logs.String()
}

// connector is a new process: fresh resume point, the same log.
func (e *env) connector(t *testing.T, mod ...func(*Config, *Ports)) *Connector {
	t.Helper()
	cfg := Config{Once: true, CallTimeout: time.Second, Attempts: 2, RetryBackoff: time.Millisecond, Tolerance: rates.DefaultTolerance,
		Logger: slog.New(slog.NewJSONHandler(e, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	p := Ports{Governance: e.gov, CMC: e.cmc, NRC: e.nrc, Dashboard: e.dash, Log: e.log, Clock: stage.ClockFunc(func() time.Time { return e.now })}
	for _, m := range mod {
		m(&cfg, &p)
	}
	c, err := New(cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func icOnly(_ *Config, p *Ports) { p.NRC, p.Dashboard = nil, nil }

func key(np string, ts uint64) string { return schemas.NodeRewardKey(np, ts) }

func assertOnce(t *testing.T, l *memLog, topic string, want ...string) {
	t.Helper()
	got := l.counts(topic)
	for _, k := range want {
		if got[k] != 1 {
			t.Errorf("%s: key %s has %d records, want 1 (all: %v)", topic, k, got[k], got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d keys, want %d: %v", topic, len(got), len(want), got)
	}
}

func TestPublishesEachFactOnce(t *testing.T) {
	e := newEnv()
	// Two processes one after the other. The first reads the NRC for both
	// periods' six days. The second resumes at period 2 (the newest reward
	// on the topic), whose weights exist for npA but not for npB (no nodes
	// in the NRC that period), so it reads period 2's three days again;
	// period 1 is not read.
	for i, want := range []Stats{
		{PublishStats: schemas.PublishStats{Published: 4 + 4 + 15 + 5}, NRCDaysQueried: 6},
		{PublishStats: schemas.PublishStats{Present: 2 + 4 + 6 + 2}, NRCDaysQueried: 3},
	} {
		st, err := e.connector(t).Poll(context.Background())
		if err != nil || st != want {
			t.Fatalf("poll %d: %+v, %v; want %+v", i+1, st, err, want)
		}
	}
	assertOnce(t, e.log, schemas.TopicNodeRewards, key(npA, ts1), key(npB, ts1), key(npA, ts2), key(npB, ts2))
	assertOnce(t, e.log, schemas.TopicRates, "cmc/spot/1760000000", "cmc/avg30/1759900000", "dashboard/spot/1760000000", "dashboard/avg30/1759900000")
	var daily []string
	for d := uint32(1); d <= 6; d++ {
		daily = append(daily, schemas.NodeDailyRewardKey(npA, node1, day(d).String()), schemas.NodeDailyRewardKey(npA, node2, day(d).String()))
		if d <= 3 {
			daily = append(daily, schemas.NodeDailyRewardKey(npB, node3, day(d).String()))
		}
	}
	assertOnce(t, e.log, schemas.TopicNodeDailyRewards, daily...)
	assertOnce(t, e.log, schemas.TopicNodePeriodWeights, schemas.NodePeriodWeightKey(npA, ts1, node1), schemas.NodePeriodWeightKey(npA, ts1, node2),
		schemas.NodePeriodWeightKey(npB, ts1, node3), schemas.NodePeriodWeightKey(npA, ts2, node1), schemas.NodePeriodWeightKey(npA, ts2, node2))
	assertOnce(t, e.log, schemas.TopicSourceAlarms)

	// The mapping of a reward and its provenance.
	env, err := e.log.envelope(schemas.TopicNodeRewards, key(npB, ts1))
	if err != nil {
		t.Fatal(err)
	}
	var r schemas.NodeReward
	if err := env.DecodePayload(schemas.TypeNodeReward, &r); err != nil {
		t.Fatal(err)
	}
	if r != (schemas.NodeReward{NodeProvider: npB, TimestampSeconds: ts1, AmountE8s: 7, XDRPermyriadPerICP: 35_000, RewardAccount: npBAcc}) {
		t.Fatalf("reward %+v", r)
	}
	if p := env.Provenance; p.Source != "ic" || p.Canister != govProv.Canister || p.Method != "list_node_provider_rewards" || p.FetchTime != "2025-10-20T12:00:00Z" {
		t.Fatalf("reward provenance %+v", p)
	}
	if env, _ := e.log.envelope(schemas.TopicRates, "cmc/spot/1760000000"); env.Provenance.CertTimeNanos != 1_760_000_000e9 || env.Provenance.Method != "get_icp_xdr_conversion_rate" {
		t.Fatalf("cmc provenance %+v", env.Provenance)
	}
	if env, _ := e.log.envelope(schemas.TopicRates, "dashboard/avg30/1759900000"); env.Provenance.Source != "dashboard" || env.Provenance.FetchTime == "" {
		t.Fatalf("dashboard provenance %+v", env.Provenance)
	}
	env, err = e.log.envelope(schemas.TopicNodePeriodWeights, schemas.NodePeriodWeightKey(npA, ts1, node1))
	if err != nil {
		t.Fatal(err)
	}
	var w schemas.NodePeriodWeight
	if err := env.DecodePayload(schemas.TypeNodePeriodWeight, &w); err != nil {
		t.Fatal(err)
	}
	if w.WeightXDRPermyriad != 30_000 || w.Days != 3 || w.DaysWithNode != 3 || w.RewardEventID != key(npA, ts1) || w.FromDay != "2025-09-01" || w.ToDay != "2025-09-03" {
		t.Fatalf("weight %+v", w)
	}
	if m := env.Provenance.Method; m != "get_node_providers_rewards_calculation (sum over the period's days)" {
		t.Fatalf("weight provenance %q", m)
	}
}

func TestRewardsPaging(t *testing.T) {
	e := newEnv()
	e.gov.pageSize = 2
	ev := func(k uint64) uint64 { return ts1 + k*period }
	var events []schemas.RewardEvent
	for k := uint64(0); k < 5; k++ {
		events = append(events, month(ev(k), 1, 3))
	}
	e.gov.set(events...)
	c := e.connector(t, icOnly)
	ctx := context.Background()
	poll := func(wantCalls ...string) {
		t.Helper()
		e.gov.reset()
		if _, err := c.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if got := e.gov.log(); strings.Join(got, " ") != strings.Join(wantCalls, " ") {
			t.Fatalf("governance calls %v, want %v", got, wantCalls)
		}
	}
	// First poll: the whole history, newest first, two per page, each page
	// ending below the previous one's oldest event.
	poll("list 0..", fmt.Sprintf("list 0..%d", ev(3)-1), fmt.Sprintf("list 0..%d", ev(1)-1))
	if n := len(e.log.counts(schemas.TopicNodeRewards)); n != 10 {
		t.Fatalf("%d rewards after paging, want 10", n)
	}
	// Later polls ask for the most recent event only.
	poll("recent")
	e.gov.set(append(events, month(ev(5), 1, 3))...)
	poll("recent")
	// More than one and a half periods missed: the gap is paged from the
	// newest reward seen (ev 5) down.
	for k := uint64(6); k <= 8; k++ {
		events = append(events, month(ev(k), 1, 3))
	}
	e.gov.set(append(events, month(ev(5), 1, 3))...)
	poll("recent", fmt.Sprintf("list %d..", ev(5)), fmt.Sprintf("list %d..%d", ev(5), ev(7)-1))
	var want []string
	for k := uint64(0); k <= 8; k++ {
		want = append(want, key(npA, ev(k)), key(npB, ev(k)))
	}
	assertOnce(t, e.log, schemas.TopicNodeRewards, want...)

	// A new process resumes at the newest reward on the topic (a reward
	// from another source, here the demo, does not count), or at
	// SinceSeconds when that is later.
	demo, err := schemas.NewFact(schemas.TopicNodeRewards, schemas.TypeNodeReward, key(npA, ev(20)), schemas.Provenance{Source: "demo"},
		schemas.NodeReward{NodeProvider: npA, TimestampSeconds: ev(20), AmountE8s: 1, XDRPermyriadPerICP: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.log.PublishOnce(ctx, []schemas.Fact{demo}); err != nil {
		t.Fatal(err)
	}
	c = e.connector(t, icOnly)
	poll(fmt.Sprintf("list %d..", ev(8)))
	c = e.connector(t, icOnly, func(cfg *Config, _ *Ports) { cfg.SinceSeconds = ev(10) })
	poll(fmt.Sprintf("list %d..", ev(10)))
}

// A source whose pages do not move down is stopped, not paged forever.
func TestRewardsPagingStopsOnABadSource(t *testing.T) {
	e := newEnv()
	e.gov.pageSize = 1
	c := e.connector(t, icOnly)
	c.p.Governance = stuckGovernance{e.gov}
	_, err := c.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "paging stopped") {
		t.Fatalf("err %v", err)
	}
}

// stuckGovernance ignores the end of the filter.
type stuckGovernance struct{ *fakeGovernance }

func (g stuckGovernance) RewardEvents(ctx context.Context, start uint64, _ *uint64) ([]schemas.RewardEvent, bool, error) {
	return g.fakeGovernance.RewardEvents(ctx, start, nil)
}

func TestConflictIsReportedNotOverwritten(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	if _, err := e.connector(t, icOnly).Poll(ctx); err != nil {
		t.Fatal(err)
	}
	// Governance now reports another amount for a published reward, and
	// the CMC a new rate.
	changed := month(ts2, 4, 6)
	changed.Rewards[0].AmountE8s++
	e.gov.set(month(ts1, 1, 3), changed)
	e.cmc.spot = cmcRate(1_760_086_400, 36_100, "get_icp_xdr_conversion_rate")
	c := e.connector(t, icOnly)
	st, err := c.Poll(ctx)
	var ce *schemas.ConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || !strings.Contains(ce.Conflicts[0], key(npA, ts2)) || st.Conflicts != 1 || st.Published != 1 {
		t.Fatalf("conflict: %+v, %v", st, err)
	}
	env, _ := e.log.envelope(schemas.TopicNodeRewards, key(npA, ts2))
	var r schemas.NodeReward
	if err := env.DecodePayload(schemas.TypeNodeReward, &r); err != nil || r.AmountE8s != 4_285_714_285 {
		t.Fatalf("the published fact was overwritten: %+v %v", r, err)
	}
	assertOnce(t, e.log, schemas.TopicRates, "cmc/spot/1760000000", "cmc/avg30/1759900000", "cmc/spot/1760086400")
	// The poll failed, so the resume point did not move: the next poll
	// pages the history again instead of asking for the most recent event.
	e.gov.reset()
	_, _ = c.Poll(ctx)
	if calls := e.gov.log(); len(calls) == 0 || !strings.HasPrefix(calls[0], "list ") {
		t.Fatalf("after a conflict: %v", calls)
	}
}

func TestPublishFailureKeepsTheResumePoint(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	c := e.connector(t, icOnly)
	e.log.fail = errors.New("broker down")
	if _, err := c.Poll(ctx); err == nil || !strings.Contains(err.Error(), "broker down") {
		t.Fatalf("err %v", err)
	}
	e.log.fail = nil
	e.gov.reset()
	if _, err := c.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if calls := e.gov.log(); len(calls) != 1 || calls[0] != "list 0.." {
		t.Fatalf("calls after a failed publish %v", calls)
	}
	assertOnce(t, e.log, schemas.TopicNodeRewards, key(npA, ts1), key(npB, ts1), key(npA, ts2), key(npB, ts2))
}

func TestDashboardCrossCheck(t *testing.T) {
	e := newEnv()
	e.dash.spot = []rates.Point{{TimestampSeconds: 1_760_000_060, XDRPermyriadPerICP: decimal.RequireFromString("40000.5")}}
	ctx := context.Background()
	alarm := schemas.SourceAlarmKey("spot", 1_760_000_000, 1_760_000_060)
	for i := 0; i < 2; i++ {
		st, err := e.connector(t, func(_ *Config, p *Ports) { p.NRC = nil }).Poll(ctx)
		if err != nil || st.Alarms != 1 {
			t.Fatalf("poll %d: %+v %v", i+1, st, err)
		}
	}
	if !strings.Contains(e.logText(), "source mismatch") {
		t.Fatalf("no alarm log\n%s", e.logText())
	}
	assertOnce(t, e.log, schemas.TopicSourceAlarms, alarm)
	env, err := e.log.envelope(schemas.TopicSourceAlarms, alarm)
	if err != nil {
		t.Fatal(err)
	}
	var a schemas.SourceMismatch
	if err := env.DecodePayload(schemas.TypeSourceMismatch, &a); err != nil {
		t.Fatal(err)
	}
	// |40000.5 - 36000| / 36000 = 1111.25 bps > 100.
	if a.CMCXDRPermyriadPerICP != 36_000 || a.DashboardXDRPermyriadPerICP != "40000.5" || a.DiffBps != "1111.25" || a.ToleranceBps != 100 || env.Provenance.Source != "nodeshare" {
		t.Fatalf("alarm %+v %+v", a, env.Provenance)
	}
	// The dashboard's own point is published, truncated to whole permyriad.
	env, err = e.log.envelope(schemas.TopicRates, schemas.RateKey("dashboard", "spot", 1_760_000_060))
	var r schemas.Rate
	if err != nil || env.DecodePayload(schemas.TypeRate, &r) != nil || r.XDRPermyriadPerICP != 40_000 {
		t.Fatalf("dashboard rate %+v %v", r, err)
	}

	// Points further apart than the skew are not compared: logged, no alarm.
	e.dash.spot = []rates.Point{{TimestampSeconds: 1_760_000_000 + 7200, XDRPermyriadPerICP: decimal.NewFromInt(50_000)}}
	st, err := e.connector(t, func(_ *Config, p *Ports) { p.NRC = nil }).Poll(ctx)
	if err != nil || st.Alarms != 0 || !strings.Contains(e.logText(), "rates not compared") {
		t.Fatalf("skew: %+v %v", st, err)
	}

	// A dashboard outage fails the poll, named, and the IC facts are still
	// published.
	e.dash.fail(&transientErr{"HTTP 503"}, &transientErr{"HTTP 503"})
	e.cmc.avg = cmcRate(1_759_990_000, 35_100, "get_average_icp_xdr_conversion_rate")
	st, err = e.connector(t, func(_ *Config, p *Ports) { p.NRC = nil }).Poll(ctx)
	if err == nil || !strings.Contains(err.Error(), "dashboard spot: HTTP 503") || !strings.Contains(err.Error(), "dashboard avg30: HTTP 503") || st.Published != 1 {
		t.Fatalf("outage: %+v %v", st, err)
	}
	// The port retries itself: the stage called each series once.
	if calls := e.dash.log(); len(calls) != 8 {
		t.Fatalf("dashboard calls %v", calls)
	}
}

func TestNRCDaysAndWeights(t *testing.T) {
	ctx := context.Background()
	t.Run("provider filter", func(t *testing.T) {
		e := newEnv()
		st, err := e.connector(t, func(c *Config, p *Ports) { c.NRCProviders = []string{npA}; p.Dashboard = nil }).Poll(ctx)
		if err != nil || st.NRCDaysQueried != 6 {
			t.Fatalf("%+v %v", st, err)
		}
		for k := range e.log.counts(schemas.TopicNodeDailyRewards) {
			if !strings.HasPrefix(k, npA+"/") {
				t.Fatalf("filtered provider published: %s", k)
			}
		}
		assertOnce(t, e.log, schemas.TopicNodePeriodWeights, schemas.NodePeriodWeightKey(npA, ts1, node1), schemas.NodePeriodWeightKey(npA, ts1, node2),
			schemas.NodePeriodWeightKey(npA, ts2, node1), schemas.NodePeriodWeightKey(npA, ts2, node2))
		// Every filtered provider is weighed: a second process reads no day.
		st, err = e.connector(t, func(c *Config, p *Ports) { c.NRCProviders = []string{npA}; p.Dashboard = nil }).Poll(ctx)
		if err != nil || st.NRCDaysQueried != 0 {
			t.Fatalf("second: %+v %v", st, err)
		}
	})
	t.Run("a missing day holds the period's weights back", func(t *testing.T) {
		e := newEnv()
		delete(e.nrc.nodes, day(5))
		st, err := e.connector(t, func(_ *Config, p *Ports) { p.Dashboard = nil }).Poll(ctx)
		if err != nil || st.NRCDaysQueried != 6 || st.NRCDaysMissing != 1 {
			t.Fatalf("%+v %v", st, err)
		}
		for k := range e.log.counts(schemas.TopicNodePeriodWeights) {
			if strings.Contains(k, fmt.Sprint(ts2)) {
				t.Fatalf("weight of an incomplete period: %s", k)
			}
		}
		if n := len(e.log.counts(schemas.TopicNodeDailyRewards)); n != 15-2 {
			t.Fatalf("%d daily facts", n)
		}
	})
	t.Run("recent days and a period without dates", func(t *testing.T) {
		e := newEnv()
		ev := month(ts1, 1, 3)
		ev.StartDate, ev.EndDate = nil, nil
		e.gov.set(ev)
		e.nrc.nodes = map[schemas.Date][]schemas.NodeDailyReward{}
		st, err := e.connector(t, func(c *Config, p *Ports) { c.NRCRecentDays = 2; p.Dashboard = nil }).Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// ts1 is 2025-09-27T19:06:40Z: the period is the 2,629,800 s before
		// it, 2025-08-28 to 2025-09-26 (30 days), plus 2025-10-18 and -19.
		from, to := periodDays(ev)
		if from.String() != "2025-08-28" || to.String() != "2025-09-26" || st.NRCDaysQueried != 32 || st.NRCDaysMissing != 32 {
			t.Fatalf("%s..%s %+v", from, to, st)
		}
		calls := e.nrc.log()
		if calls[0] != "2025-08-28" || calls[len(calls)-1] != "2025-10-19" {
			t.Fatalf("days asked %v", calls)
		}
	})
	t.Run("only complete days are asked", func(t *testing.T) {
		e := newEnv()
		e.now = time.Date(2025, 9, 5, 8, 0, 0, 0, time.UTC)
		st, err := e.connector(t, func(_ *Config, p *Ports) { p.Dashboard = nil }).Poll(ctx)
		if err != nil || st.NRCDaysQueried != 4 || strings.Join(e.nrc.log(), " ") != "2025-09-01 2025-09-02 2025-09-03 2025-09-04" {
			t.Fatalf("%+v %v %v", st, err, e.nrc.log())
		}
		// Period 2 is not over: no weights for it yet.
		if n := len(e.log.counts(schemas.TopicNodePeriodWeights)); n != 3 {
			t.Fatalf("%d weights", n)
		}
	})
	t.Run("a failing canister stops the day loop", func(t *testing.T) {
		e := newEnv()
		e.nrc.fail(errors.New("candid: cannot decode"))
		st, err := e.connector(t, func(_ *Config, p *Ports) { p.Dashboard = nil }).Poll(ctx)
		if err == nil || !strings.Contains(err.Error(), "nrc get_node_providers_rewards_calculation 2025-09-01: candid: cannot decode (attempt 1 of 2)") {
			t.Fatalf("%+v %v", st, err)
		}
		if n := len(e.nrc.log()); n != 1 {
			t.Fatalf("%d NRC calls after a fatal failure", n)
		}
		// The other sources' facts are published.
		if n := len(e.log.counts(schemas.TopicNodeRewards)); n != 4 {
			t.Fatalf("%d rewards", n)
		}
	})
}

func TestPeriodWeights(t *testing.T) {
	d := func(n uint32, nodes ...schemas.NodeDailyReward) schemas.NodeRewardsDay {
		return schemas.NodeRewardsDay{Day: day(n), Nodes: nodes}
	}
	days := []schemas.NodeRewardsDay{
		d(1, nodeDay(npA, node2, 1, "0.5"), nodeDay(npA, node1, 1, "1e3"), nodeDay(npB, node3, 1, "99")),
		d(2, nodeDay(npA, node2, 2, "0.75"), nodeDay(npA, node1, 2, "NaN")),
	}
	ws, err := periodWeights(npA, ts1, day(1), day(2), days)
	if err == nil || !strings.Contains(err.Error(), "nrc 2025-09-02 node "+node1) {
		t.Fatalf("bad value: %v", err)
	}
	// Sorted by node id; node1's unreadable day is left out of its sum.
	want := []schemas.NodePeriodWeight{
		{NodeProvider: npA, RewardTimestampSeconds: ts1, RewardEventID: key(npA, ts1), NodeID: node2, FromDay: "2025-09-01", ToDay: "2025-09-02", Days: 2, DaysWithNode: 2, AdjustedSum: "1.25", WeightXDRPermyriad: 1},
		{NodeProvider: npA, RewardTimestampSeconds: ts1, RewardEventID: key(npA, ts1), NodeID: node1, FromDay: "2025-09-01", ToDay: "2025-09-02", Days: 2, DaysWithNode: 1, AdjustedSum: "1000", WeightXDRPermyriad: 1000},
	}
	if fmt.Sprint(ws) != fmt.Sprint(want) {
		t.Fatalf("weights\n%+v\nwant\n%+v", ws, want)
	}
	// A weight beyond int64 is reported and left out.
	ws, err = periodWeights(npB, ts1, day(1), day(1), []schemas.NodeRewardsDay{d(1, nodeDay(npB, node3, 1, "9223372036854775807"))})
	if len(ws) != 0 || err == nil || !strings.Contains(err.Error(), "overflows int64") {
		t.Fatalf("overflow: %v %v", ws, err)
	}
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	t.Run("a transient failure is retried", func(t *testing.T) {
		e := newEnv()
		e.gov.fail(&transientErr{"simulated transient query reject"})
		if _, err := e.connector(t, icOnly).Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if calls := e.gov.log(); len(calls) != 2 || !strings.Contains(e.logText(), "transient failure, retrying") || !strings.Contains(e.logText(), "simulated transient query reject") {
			t.Fatalf("calls %v\n%s", calls, e.logText())
		}
	})
	t.Run("any other failure is not", func(t *testing.T) {
		e := newEnv()
		e.cmc.fail(errors.New("certificate verification failed"))
		_, err := e.connector(t, icOnly).Poll(ctx)
		if err == nil || !strings.Contains(err.Error(), "cmc get_icp_xdr_conversion_rate: certificate verification failed (attempt 1 of 2)") {
			t.Fatalf("err %v", err)
		}
		if calls := e.cmc.log(); len(calls) != 2 || calls[0] != "spot" || calls[1] != "avg30" {
			t.Fatalf("cmc calls %v", calls)
		}
	})
	t.Run("a call slower than its timeout is tried Attempts times", func(t *testing.T) {
		e := newEnv()
		e.gov.setHang(true)
		start := time.Now()
		_, err := e.connector(t, icOnly, func(c *Config, _ *Ports) { c.CallTimeout = 50 * time.Millisecond }).Poll(ctx)
		if err == nil || !strings.Contains(err.Error(), "governance list_node_provider_rewards") || !strings.Contains(err.Error(), "attempt 2 of 2") ||
			!strings.Contains(err.Error(), "deadline exceeded") {
			t.Fatalf("err %v", err)
		}
		if n := len(e.gov.log()); n != 2 || time.Since(start) > 5*time.Second {
			t.Fatalf("%d calls in %s", n, time.Since(start))
		}
	})
	t.Run("a cancelled poll says it stopped", func(t *testing.T) {
		e := newEnv()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := e.connector(t, icOnly).Poll(cctx)
		if err == nil || !strings.Contains(err.Error(), "stopped: context canceled") {
			t.Fatalf("err %v", err)
		}
	})
}

// A failed first poll leaves the resume point alone: the next poll pages
// the whole history again instead of taking only the most recent reward.
func TestFailedFirstPollPagesTheHistoryAgain(t *testing.T) {
	e := newEnv()
	ctx := context.Background()
	c := e.connector(t, icOnly)
	e.gov.fail(&transientErr{"reject"}, &transientErr{"reject"})
	if _, err := c.Poll(ctx); err == nil {
		t.Fatal("the first poll did not fail")
	}
	e.gov.reset()
	if _, err := c.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if calls := e.gov.log(); len(calls) != 1 || calls[0] != "list 0.." {
		t.Fatalf("second poll %v", calls)
	}
	assertOnce(t, e.log, schemas.TopicNodeRewards, key(npA, ts1), key(npB, ts1), key(npA, ts2), key(npB, ts2))
}

func TestRun(t *testing.T) {
	e := newEnv()
	e.gov.fail(errors.New("boom"))
	err := e.connector(t, icOnly).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(e.logText(), `"level":"ERROR","msg":"poll done"`) ||
		!strings.Contains(e.logText(), `"nrc_days_queried":0`) {
		t.Fatalf("once: %v\n%s", err, e.logText())
	}
	// The service stops without an error when its context ends.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.connector(t, icOnly, func(c *Config, _ *Ports) { c.Once, c.Interval = false, time.Hour }).Run(ctx); err != nil {
		t.Fatalf("loop: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Interval: time.Second, CallTimeout: time.Second, Attempts: 1}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Interval = 10 * time.Millisecond }, "interval must be >= 1s"},
		{func(c *Config) { c.CallTimeout = 0 }, "call timeout must be > 0"},
		{func(c *Config) { c.Attempts = 0 }, "attempts must be >= 1"},
		{func(c *Config) { c.NRCRecentDays = -1 }, "nrc recent days"},
		{func(c *Config) { c.Tolerance.MaxDiffBps = -1 }, "rate tolerance"},
		{func(c *Config) { c.NRCProviders = []string{""} }, "empty principal"},
	} {
		cfg := ok
		c.mod(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
	// --once needs no interval.
	once := ok
	once.Once, once.Interval = true, 0
	if err := once.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(ok, Ports{}); err == nil || !strings.Contains(err.Error(), "ports are required") {
		t.Fatalf("missing ports: %v", err)
	}
}
