package connect

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/rates"
	"github.com/nodeshare/nodeshare/schemas"
)

// In-memory fakes of the stage's ports: each records the calls it served
// and can be told to fail the next calls (faults) or to answer only after
// the call's context ends (hang), as the real sources do under load.

// transientErr is a source failure the one classifier retries, as
// *ic.Error with Transient set is.
type transientErr struct{ msg string }

func (e *transientErr) Error() string     { return e.msg }
func (e *transientErr) IsTransient() bool { return true }

// faults is a queue of failures for the next calls, and a hang switch.
type faults struct {
	mu    sync.Mutex
	next  []error
	hang  bool
	calls []string
}

// enter records call and returns the failure it must report, if any.
func (f *faults) enter(ctx context.Context, call string) error {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	hang := f.hang
	var err error
	if len(f.next) > 0 {
		err, f.next = f.next[0], f.next[1:]
	}
	f.mu.Unlock()
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", call, ctx.Err())
	}
	if hang {
		<-ctx.Done()
		return fmt.Errorf("%s: %w", call, ctx.Err())
	}
	return err
}

func (f *faults) fail(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next = append(f.next, errs...)
}

func (f *faults) setHang(h bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hang = h
}

func (f *faults) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *faults) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// fakeGovernance serves reward events newest first, pageSize per page, the
// way list_node_provider_rewards does.
type fakeGovernance struct {
	faults
	pageSize int
	events   []schemas.RewardEvent
}

var govProv = schemas.Provenance{Source: "ic", Canister: "rrkah-fqaaa-aaaaa-aaaaq-cai"}

func (g *fakeGovernance) set(events ...schemas.RewardEvent) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.events = append([]schemas.RewardEvent(nil), events...)
	sort.Slice(g.events, func(i, j int) bool { return g.events[i].TimestampSeconds > g.events[j].TimestampSeconds })
}

func (g *fakeGovernance) RewardEvents(ctx context.Context, start uint64, end *uint64) ([]schemas.RewardEvent, bool, error) {
	call := fmt.Sprintf("list %d..", start)
	if end != nil {
		call += fmt.Sprint(*end)
	}
	if err := g.enter(ctx, call); err != nil {
		return nil, false, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var page []schemas.RewardEvent
	for _, e := range g.events {
		if e.TimestampSeconds >= start && (end == nil || e.TimestampSeconds <= *end) && len(page) < g.pageSize {
			e.Provenance = govProv
			e.Provenance.Method = "list_node_provider_rewards"
			page = append(page, e)
		}
	}
	return page, len(page) == g.pageSize, nil
}

func (g *fakeGovernance) MostRecentRewardEvent(ctx context.Context) (*schemas.RewardEvent, error) {
	if err := g.enter(ctx, "recent"); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.events) == 0 {
		return nil, nil
	}
	e := g.events[0]
	e.Provenance = govProv
	e.Provenance.Method = "get_most_recent_monthly_node_provider_rewards"
	return &e, nil
}

// fakeCMC serves two certified rates.
type fakeCMC struct {
	faults
	spot, avg schemas.CertifiedRate
}

func cmcRate(ts, rate uint64, method string) schemas.CertifiedRate {
	return schemas.CertifiedRate{TimestampSeconds: ts, XDRPermyriadPerICP: rate,
		Provenance: schemas.Provenance{Source: "ic", Canister: "rkp4c-7iaaa-aaaaa-aaaca-cai", Method: method, CertTimeNanos: ts * 1e9}}
}

func (c *fakeCMC) SpotRate(ctx context.Context) (schemas.CertifiedRate, error) {
	if err := c.enter(ctx, "spot"); err != nil {
		return schemas.CertifiedRate{}, err
	}
	return c.spot, nil
}

func (c *fakeCMC) AverageRate(ctx context.Context) (schemas.CertifiedRate, error) {
	if err := c.enter(ctx, "avg30"); err != nil {
		return schemas.CertifiedRate{}, err
	}
	return c.avg, nil
}

// fakeNRC answers the days it has nodes for; any other day is Missing,
// as the canister's Err answer.
type fakeNRC struct {
	faults
	nodes map[schemas.Date][]schemas.NodeDailyReward
}

func (n *fakeNRC) NodeRewards(ctx context.Context, day schemas.Date) (schemas.NodeRewardsDay, error) {
	if err := n.enter(ctx, day.String()); err != nil {
		return schemas.NodeRewardsDay{}, err
	}
	out := schemas.NodeRewardsDay{Day: day, Provenance: schemas.Provenance{Source: "ic", Canister: "sgymv-uiaaa-aaaaa-aaaia-cai", Method: "get_node_providers_rewards_calculation"}}
	nodes, ok := n.nodes[day]
	if !ok {
		out.Missing = "no metrics for " + day.String()
	}
	out.Nodes = nodes
	return out, nil
}

// fakeDashboard serves two rate series, or an error.
type fakeDashboard struct {
	faults
	spot, avg []rates.Point
}

func (d *fakeDashboard) SpotRates(ctx context.Context, _, _ time.Time) ([]rates.Point, schemas.Provenance, error) {
	return d.series(ctx, "spot", d.spot)
}

func (d *fakeDashboard) AverageRates(ctx context.Context, _, _ time.Time) ([]rates.Point, schemas.Provenance, error) {
	return d.series(ctx, "avg30", d.avg)
}

func (d *fakeDashboard) series(ctx context.Context, kind string, pts []rates.Point) ([]rates.Point, schemas.Provenance, error) {
	prov := schemas.Provenance{Source: "dashboard", Method: "GET /" + kind}
	if err := d.enter(ctx, kind); err != nil {
		return nil, prov, err
	}
	return pts, prov, nil
}

// memLog is an in-memory event log with the Log port's contract: one
// partition per topic, PublishOnce by key and content hash (as
// connectors/kafka.Log).
type memLog struct {
	mu     sync.Mutex
	topics map[string][]schemas.Message
	fail   error // when set, every publish fails with it
	// refuse, when set, is asked before each publish: an error fails that
	// publish whole (nothing of it is written).
	refuse func(facts []schemas.Fact) error
}

func newMemLog() *memLog { return &memLog{topics: map[string][]schemas.Message{}} }

func (l *memLog) PublishOnce(_ context.Context, facts []schemas.Fact) (schemas.PublishStats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var st schemas.PublishStats
	if l.fail != nil {
		return st, l.fail
	}
	if l.refuse != nil {
		if err := l.refuse(facts); err != nil {
			return st, err
		}
	}
	held := map[string]string{} // topic + " " + key -> content hash
	for t, ms := range l.topics {
		for _, m := range ms {
			if env, err := schemas.DecodeEnvelope(m.Value); err == nil {
				held[t+" "+string(m.Key)] = env.Provenance.ContentSHA256
			}
		}
	}
	var conflicts []string
	for _, f := range facts {
		k := f.Topic + " " + f.Key
		switch h, ok := held[k]; {
		case ok && h == f.Envelope.Provenance.ContentSHA256:
			st.Present++
		case ok:
			st.Conflicts++
			conflicts = append(conflicts, k)
		default:
			b, err := f.Envelope.Marshal()
			if err != nil {
				return st, err
			}
			l.topics[f.Topic] = append(l.topics[f.Topic], schemas.Message{Topic: f.Topic, Offset: int64(len(l.topics[f.Topic])), Key: []byte(f.Key), Value: b})
			held[k] = f.Envelope.Provenance.ContentSHA256
			st.Published++
		}
	}
	if len(conflicts) > 0 {
		return st, &schemas.ConflictError{Conflicts: conflicts}
	}
	return st, nil
}

func (l *memLog) ReadAll(_ context.Context, topic string) ([]schemas.Message, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]schemas.Message(nil), l.topics[topic]...), nil
}

// counts is key -> records on topic.
func (l *memLog) counts(topic string) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for _, m := range l.topics[topic] {
		out[string(m.Key)]++
	}
	return out
}

// envelope is the last record of key on topic.
func (l *memLog) envelope(topic, key string) (schemas.Envelope, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ms := l.topics[topic]
	for i := len(ms) - 1; i >= 0; i-- {
		if string(ms[i].Key) == key {
			return schemas.DecodeEnvelope(ms[i].Value)
		}
	}
	return schemas.Envelope{}, errors.New(topic + ": no key " + key)
}
