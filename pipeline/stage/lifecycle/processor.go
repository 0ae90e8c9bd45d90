package lifecycle

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"

	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// tp is one partition of an input topic.
type tp struct {
	topic     string
	partition int
}

// processor is the stage. Its state is kept between batches and is valid
// only while ready: at the start, and after a batch that failed anywhere
// (the loop will deliver it again, and its effects may be half-made), the
// next batch first rebuilds everything from the log (rebuild.go).
type processor struct {
	cfg Config
	log Log
	out *slog.Logger

	ready    bool
	runs     map[string]*run // by pool key
	accounts map[string]*run // every pool's deposit and bond accounts
	dead     map[coord]bool  // input records dead-lettered (on the topic, or in this batch)
	// handled is, per input partition whose position is known (resolved),
	// the offset below which every record was handled. A topic's position
	// is known from its first batch after a rebuild (the loop delivers from
	// the committed offset), and the pools topic's from the rebuild, which
	// reads it to the end.
	handled  map[tp]int64
	resolved map[string]bool
}

// New returns the lifecycle processor's batch handler over log, for the
// consume loop (cmd/nodeshare runs it as kafka.Stage(h) under cfg.Group on
// cfg.Inputs()).
func New(cfg Config, log Log) (stage.BatchHandler, error) {
	if err := cfg.Validate(); err != nil {
		return stage.BatchHandler{}, err
	}
	if log == nil {
		return stage.BatchHandler{}, fmt.Errorf("lifecycle: no event log")
	}
	p := &processor{cfg: cfg, log: log, out: cfg.logger()}
	return stage.BatchHandler{Prepare: p.prepare, Handle: p.handle}, nil
}

// prepare reads every record of the batch (pure, per record: on every
// core, for the next batch while the current one is handled).
func (p *processor) prepare(batch []schemas.Message) any {
	return stage.Parallel(batch, func(m schemas.Message) input { return p.cfg.read(&m) })
}

// work is what one Handle call gathers before it publishes.
type work struct {
	dead       []schemas.Record
	deadCounts stage.DeadLetterCounts // dead by topic and reason, reported once published
	touched    map[*run]bool
	fresh      map[*run][]*fact // new facts by pool
	// inHand are the records read in this call, for dead letters of facts
	// refused after they were first routed.
	inHand   map[coord]*schemas.Message
	refetch  []refusal // refused facts whose record is not in hand (applied in an earlier batch)
	lookback []*run    // pools whose accounts appeared in this batch
}

func newWork() *work {
	return &work{deadCounts: stage.DeadLetterCounts{}, touched: map[*run]bool{}, fresh: map[*run][]*fact{}, inHand: map[coord]*schemas.Message{}}
}

func (p *processor) handle(ctx context.Context, batch []schemas.Message, prepared any) error {
	ins, ok := prepared.([]input)
	if !ok || len(ins) != len(batch) {
		ins = p.prepare(batch).([]input) // a loop that did not prepare: do it here
	}
	ready := p.ready
	p.ready = false // until this batch's outputs are acknowledged
	w := newWork()
	if !ready {
		if err := p.rebuild(ctx, batch, w); err != nil {
			return err
		}
	}
	if err := p.consume(ctx, batch, ins, w); err != nil {
		return err
	}
	if err := p.publish(ctx, w); err != nil {
		return err
	}
	p.ready = true
	stage.RecordsIn(p.cfg.Observer, batch)
	return nil
}

// onePartition refuses an input with more than one partition: the order
// of a pool's facts is their order in time, which the stage can only keep
// per partition (schemas.Topics creates one).
func onePartition(m *schemas.Message) error {
	if m.Partition != 0 {
		return fmt.Errorf("lifecycle: %s has a partition %d: every input of the lifecycle processor must have exactly one partition (schemas/topics.go)", m.Topic, m.Partition)
	}
	return nil
}

// done reports a record of a resolved topic that was handled already.
func (p *processor) done(m *schemas.Message) bool {
	return m.Offset < p.handled[tp{m.Topic, m.Partition}]
}

// consume routes the batch's records: first its pool records (a pool
// created in this batch takes its deposits of this batch), then its facts;
// then each touched pool applies its new facts.
func (p *processor) consume(ctx context.Context, batch []schemas.Message, ins []input, w *work) error {
	first, err := firstOffsets(batch)
	if err != nil {
		return err
	}
	for _, topic := range []string{p.cfg.blocks(), p.cfg.poolFacts()} {
		if o, ok := first[topic]; ok && !p.resolved[topic] {
			if err := p.resolve(ctx, topic, o, nil, w); err != nil {
				return err
			}
		}
	}
	for i := range batch {
		m := &batch[i]
		if ins[i].kind == poolRecord && !p.done(m) {
			if err := p.poolRecord(m, &ins[i], w); err != nil {
				return err
			}
		}
	}
	if err := p.lookback(ctx, w); err != nil {
		return err
	}
	for i := range batch {
		m := &batch[i]
		if p.done(m) {
			continue
		}
		switch in := &ins[i]; in.kind {
		case bad:
			w.reject(p, m, stage.ReasonUndecodable, in.err)
		case block:
			p.blockFact(m, in, w)
		case poolFact:
			p.poolFact(m, in, w)
		}
	}
	for i := range batch {
		k := tp{batch[i].Topic, batch[i].Partition}
		p.handled[k] = max(p.handled[k], batch[i].Offset+1)
	}
	return p.apply(w)
}

// reject dead-letters record m once, for reason, of class (stage.Reason*).
func (w *work) reject(p *processor, m *schemas.Message, class string, reason error) {
	c := coordOf(m)
	if p.dead[c] {
		return
	}
	p.dead[c] = true
	w.deadCounts.Add(m.Topic, class)
	if len(w.dead) == 0 { // one line per batch, not per record: a flood stays readable
		p.out.Warn("record dead-lettered", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", reason.Error())
	}
	k, v, h := schemas.DeadLetterRecord(m.Topic, m.Partition, m.Offset, m.Key, m.Value, reason.Error())
	w.dead = append(w.dead, schemas.Record{Topic: p.cfg.dlq(), Key: k, Value: v, Headers: h})
}

// rejectFact dead-letters a fact of r the rules refused.
func (w *work) rejectFact(p *processor, r *run, x refusal) {
	reason := fmt.Errorf("pool %s: %s: %w", r.key, x.f.what(), x.err)
	if m := w.inHand[x.f.src]; m != nil {
		w.reject(p, m, stage.ReasonRefused, reason)
		return
	}
	w.refetch = append(w.refetch, refusal{x.f, reason})
}

// add routes a new fact to its pool.
func (w *work) add(r *run, f *fact, m *schemas.Message) {
	w.fresh[r] = append(w.fresh[r], f)
	w.inHand[f.src] = m
	w.touched[r] = true
}

// poolRecord applies a pool record: the latest record of a pool wins.
func (p *processor) poolRecord(m *schemas.Message, in *input, w *work) error {
	if p.dead[coordOf(m)] {
		return nil // refused before: left out
	}
	pl := in.pool
	key := schemas.PoolKey(pl.DAO, pl.PoolID)
	r := p.runs[key]
	if pl.Terms == nil {
		// Not (or no longer) crowdfunded: no lifecycle. What was
		// published for it stays; its facts are now of no pool.
		if r != nil {
			p.unmap(r)
			delete(p.runs, key)
		}
		return nil
	}
	if in.err != nil {
		w.reject(p, m, stage.ReasonInvalid, fmt.Errorf("pool %s: %w", key, in.err))
		return nil
	}
	if r == nil {
		r, err := newRun(pl.DAO, pl.PoolID, *pl.Terms, in.terms)
		if err != nil {
			return fmt.Errorf("pool %s: %w", key, err)
		}
		p.runs[key] = r
		p.remap(r, w)
		w.touched[r] = true
		return nil
	}
	if reflect.DeepEqual(r.record, *pl.Terms) {
		return nil
	}
	moved := r.accounts() != [2]string{pl.Terms.DepositAccount, pl.Terms.BondAccount}
	refused, err := r.retarget(*pl.Terms, in.terms)
	if err != nil {
		return err
	}
	for _, x := range refused {
		w.rejectFact(p, r, x)
	}
	if moved {
		p.unmap(r)
		p.remap(r, w)
	}
	w.touched[r] = true
	return nil
}

// remap maps r's accounts to it; they are new, so the blocks already
// handled are searched for deposits to them (lookback).
func (p *processor) remap(r *run, w *work) {
	for _, a := range r.accounts() {
		p.accounts[a] = r
	}
	w.lookback = append(w.lookback, r)
}

func (p *processor) unmap(r *run) {
	for _, a := range r.accounts() {
		if p.accounts[a] == r {
			delete(p.accounts, a)
		}
	}
}

// lookback finds, for pools whose accounts appeared in this batch, the
// deposits to them among the blocks handled before (a block can be
// consumed before its pool's record: they are on different topics).
func (p *processor) lookback(ctx context.Context, w *work) error {
	pools := map[*run]bool{}
	for _, r := range w.lookback {
		pools[r] = true
	}
	w.lookback = nil
	topic := p.cfg.blocks()
	limit := p.handled[tp{topic, 0}]
	if len(pools) == 0 || limit == 0 {
		return nil
	}
	msgs, err := p.log.ReadAll(ctx, topic)
	if err != nil {
		return fmt.Errorf("lifecycle: look back for deposits to new pools: %w", err)
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Offset >= limit {
			break
		}
		if in := p.cfg.read(m); in.kind == block && pools[p.accounts[string(in.to)]] {
			p.blockFact(m, &in, w)
		}
	}
	return nil
}

// blockFact routes a block to the pool it is a deposit of, if any.
func (p *processor) blockFact(m *schemas.Message, in *input, w *work) {
	r := p.accounts[string(in.to)]
	if r == nil {
		return // the cheap skip: a block to no pool
	}
	c := coordOf(m)
	if p.dead[c] || r.isApplied[c] {
		return
	}
	b := in.block
	if b == nil {
		var err error
		if b, err = decodeBlock(m); err != nil {
			w.reject(p, m, stage.ReasonUndecodable, err)
			return
		}
	}
	if b.Op != "transfer" {
		return // a mint, burn or approve moves no sponsor's money into the pool
	}
	if b.To != string(in.to) {
		if r = p.accounts[b.To]; r == nil {
			return
		}
	}
	f, err := depositOf(m, b)
	if err != nil {
		w.reject(p, m, stage.ReasonInvalid, fmt.Errorf("pool %s: deposit (block %d): %w", r.key, b.Index, err))
		return
	}
	w.add(r, f, m)
}

// poolFact routes a pool fact to its pool.
func (p *processor) poolFact(m *schemas.Message, in *input, w *work) {
	c := coordOf(m)
	if p.dead[c] {
		return
	}
	r := p.runs[in.poolKey]
	if r == nil {
		w.reject(p, m, stage.ReasonRefused, fmt.Errorf("pool %s: no pool with lifecycle terms on %s (publish the pool, then publish the fact again)", in.poolKey, p.cfg.pools()))
		return
	}
	if r.isApplied[c] {
		return
	}
	if in.err != nil {
		w.reject(p, m, stage.ReasonInvalid, fmt.Errorf("pool %s: %w", in.poolKey, in.err))
		return
	}
	w.add(r, in.fact, m)
}

// apply applies every pool's new facts, pools in key order.
func (p *processor) apply(w *work) error {
	for _, r := range sortedRuns(w.fresh) {
		refused, err := r.advance(w.fresh[r])
		if err != nil {
			return err // an invariant broke: fatal, never a dead letter
		}
		for _, x := range refused {
			w.rejectFact(p, r, x)
		}
	}
	w.fresh = map[*run][]*fact{}
	return nil
}

func sortedRuns[V any](m map[*run]V) []*run {
	out := make([]*run, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *run) int { return cmp.Compare(a.key, b.key) })
	return out
}
