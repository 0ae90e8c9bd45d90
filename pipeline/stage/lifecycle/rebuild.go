package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// rebuild makes the stage's state what the log says it is, before the
// first batch and after a batch that failed (its effects may be half
// made). batch is the batch about to be handled.
//
// What a pool is, is decided by what was published, never guessed again:
//   - its terms: its latest accepted record on dao.pools.v1 (read to the
//     end);
//   - the facts it applied: its facts below the positions its latest state
//     record reflects (HeaderHandled), less those dead-lettered. Applied
//     again in order, they give the state and the transfers on the topic
//     (a state is published before its transfers: a crash in between
//     leaves transfers to complete, and they are computed again here);
//   - the rest comes as new facts: from the batches, and, once the first
//     batch of a topic says where the group stands on it, the records
//     below that position a previous run handled without them changing a
//     pool's state (resolve).
func (p *processor) rebuild(ctx context.Context, batch []schemas.Message, w *work) error {
	p.runs, p.accounts, p.dead = map[string]*run{}, map[string]*run{}, map[coord]bool{}
	p.handled, p.resolved = map[tp]int64{}, map[string]bool{}
	first, err := firstOffsets(batch)
	if err != nil {
		return err
	}
	states, transfers, err := p.readOutputs(ctx)
	if err != nil {
		return err
	}
	if err := p.readDeadLetters(ctx); err != nil {
		return err
	}

	// The pools, to the end: every pool known before any block is routed.
	poolsTopic := p.cfg.pools()
	msgs, err := p.log.ReadAll(ctx, poolsTopic)
	if err != nil {
		return fmt.Errorf("lifecycle: rebuild: %w", err)
	}
	ins := stage.Parallel(msgs, func(m schemas.Message) input { return p.cfg.read(&m) })
	for i := range msgs {
		m := &msgs[i]
		if err := onePartition(m); err != nil {
			return err
		}
		if ins[i].kind == poolRecord {
			if err := p.poolRecord(m, &ins[i], w); err != nil {
				return err
			}
		}
		p.handled[tp{poolsTopic, 0}] = m.Offset + 1
	}
	p.resolved[poolsTopic] = true
	w.lookback = nil // the blocks below a topic's position are routed by resolve
	maxPos := map[string]int64{}
	for key, r := range p.runs {
		if pub := transfers[key]; pub != nil {
			r.published = pub
		}
		st := states[key]
		r.stateSHA = st.sha
		for k, o := range st.handled {
			r.pos[k] = o
			maxPos[k.topic] = max(maxPos[k.topic], o)
		}
	}

	// The facts each pool's latest state reflects.
	restore := map[*run][]*fact{}
	read := map[string][]schemas.Message{}
	for _, topic := range []string{p.cfg.blocks(), p.cfg.poolFacts()} {
		if maxPos[topic] == 0 {
			continue
		}
		msgs, err := p.log.ReadAll(ctx, topic)
		if err != nil {
			return fmt.Errorf("lifecycle: rebuild: %w", err)
		}
		read[topic] = msgs
		ins := stage.Parallel(msgs, func(m schemas.Message) input { return p.cfg.read(&m) })
		for i := range msgs {
			m := &msgs[i]
			if err := onePartition(m); err != nil {
				return err
			}
			if m.Offset >= maxPos[topic] {
				break
			}
			if f, r := p.applied(m, &ins[i]); f != nil {
				restore[r] = append(restore[r], f)
				w.inHand[f.src] = m
			}
		}
	}
	keys := make([]string, 0, len(p.runs))
	for k := range p.runs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r := p.runs[k]
		facts := restore[r]
		slices.SortFunc(facts, compareFacts)
		rp, err := replay(r.terms, facts)
		if err != nil {
			return fmt.Errorf("pool %s: rebuild: %w", r.key, err)
		}
		if seq, changed := r.changesPublished(rp.rows); changed {
			// Terms changed since, or the topic holds what the stage did not write.
			return r.conflict(seq, fmt.Sprintf("the facts its latest state reflects, under terms version %d, compute it otherwise", r.record.TermsVersion))
		}
		r.adopt(rp)
		for _, x := range rp.refused {
			w.rejectFact(p, r, x) // refused by terms that changed since
		}
		w.touched[r] = true
	}

	// The fact topics of this batch: their position is known now.
	for _, topic := range []string{p.cfg.blocks(), p.cfg.poolFacts()} {
		if o, ok := first[topic]; ok {
			if err := p.resolve(ctx, topic, o, read[topic], w); err != nil {
				return err
			}
		}
	}
	p.out.Info("lifecycle state rebuilt", "pools", len(p.runs), "dead_letters", len(p.dead), "restored_facts", len(w.inHand))
	return nil
}

// applied returns the fact of a record read by a rebuild, and its pool,
// when the pool's latest state reflects it (nil otherwise, or when it was
// dead-lettered).
func (p *processor) applied(m *schemas.Message, in *input) (*fact, *run) {
	var r *run
	switch in.kind {
	case block:
		r = p.accounts[string(in.to)]
	case poolFact:
		r = p.runs[in.poolKey]
	}
	if r == nil || p.dead[coordOf(m)] || m.Offset >= r.pos[tp{m.Topic, m.Partition}] {
		return nil, nil
	}
	if in.kind == poolFact {
		return in.fact, r // nil when the record is wrong: it was dead-lettered then
	}
	b := in.block
	if b == nil {
		var err error
		if b, err = decodeBlock(m); err != nil {
			return nil, nil
		}
	}
	if b.Op != "transfer" || b.To != string(in.to) {
		return nil, nil
	}
	f, err := depositOf(m, b)
	if err != nil {
		return nil, nil
	}
	return f, r
}

// resolve makes topic's position known: o, the first offset of its first
// batch since the rebuild. The loop delivers from the group's committed
// offset, so every record below o was handled by an earlier run, and its
// outputs are durable. Such a record that is in no pool's state and not
// dead-lettered is handled now, as new: a block consumed before its pool's
// record, or anything a pool's latest state does not cover. msgs is the
// topic if already read.
func (p *processor) resolve(ctx context.Context, topic string, o int64, msgs []schemas.Message, w *work) error {
	p.resolved[topic] = true
	p.handled[tp{topic, 0}] = o
	if o == 0 {
		return nil
	}
	if msgs == nil {
		var err error
		if msgs, err = p.log.ReadAll(ctx, topic); err != nil {
			return fmt.Errorf("lifecycle: %w", err)
		}
	}
	for i := range msgs {
		m := &msgs[i]
		if err := onePartition(m); err != nil {
			return err
		}
		if m.Offset >= o {
			break
		}
		switch in := p.cfg.read(m); in.kind {
		case bad:
			w.reject(p, m, stage.ReasonUndecodable, in.err)
		case block:
			p.blockFact(m, &in, w)
		case poolFact:
			p.poolFact(m, &in, w)
		}
	}
	return nil
}

// firstOffsets is the first offset of each topic in batch (one partition
// each).
func firstOffsets(batch []schemas.Message) (map[string]int64, error) {
	first := map[string]int64{}
	for i := range batch {
		m := &batch[i]
		if err := onePartition(m); err != nil {
			return nil, err
		}
		if o, ok := first[m.Topic]; !ok || m.Offset < o {
			first[m.Topic] = m.Offset
		}
	}
	return first, nil
}

// publishedState is what the lifecycle topic says of a pool's latest state.
type publishedState struct {
	sha     string
	handled map[tp]int64
}

// readOutputs reads the lifecycle topic: each pool's latest state and its
// transfers.
func (p *processor) readOutputs(ctx context.Context) (map[string]publishedState, map[string]map[int]schemas.PoolTransfer, error) {
	msgs, err := p.log.ReadAll(ctx, p.cfg.lifecycle())
	if err != nil {
		return nil, nil, fmt.Errorf("lifecycle: rebuild: %w", err)
	}
	states := map[string]publishedState{}
	transfers := map[string]map[int]schemas.PoolTransfer{}
	for i := range msgs {
		m := &msgs[i]
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil {
			continue // not the stage's
		}
		switch env.Type {
		case schemas.TypePoolState:
			var st schemas.PoolState
			if env.DecodePayload(schemas.TypePoolState, &st) != nil {
				continue
			}
			ps := publishedState{sha: env.Provenance.ContentSHA256, handled: map[tp]int64{}}
			for _, h := range m.Headers {
				if h.Key == HeaderHandled {
					if pos, ok := decodeHandled(h.Value); ok {
						ps.handled = pos
					}
				}
			}
			states[schemas.PoolKey(st.DAO, st.PoolID)] = ps // the latest record of the key wins
		case schemas.TypePoolTransfer:
			var t schemas.PoolTransfer
			if env.DecodePayload(schemas.TypePoolTransfer, &t) != nil {
				continue
			}
			key := schemas.PoolKey(t.DAO, t.PoolID)
			if transfers[key] == nil {
				transfers[key] = map[int]schemas.PoolTransfer{}
			}
			if _, dup := transfers[key][t.Seq]; !dup { // the first one stands
				transfers[key][t.Seq] = t
			}
		}
	}
	return states, transfers, nil
}

// readDeadLetters reads which input records are already dead-lettered
// (DLQ v1: the key is the source coordinates).
func (p *processor) readDeadLetters(ctx context.Context) error {
	msgs, err := p.log.ReadAll(ctx, p.cfg.dlq())
	if err != nil {
		return fmt.Errorf("lifecycle: rebuild: %w", err)
	}
	inputs := map[string]bool{}
	for _, t := range p.cfg.Inputs() {
		inputs[t] = true
	}
	for i := range msgs {
		m := &msgs[i]
		if !schemas.IsDeadLetterRecord(m.Headers) {
			continue
		}
		f := strings.Split(string(m.Key), "/")
		if len(f) != 3 || !inputs[f[0]] {
			continue
		}
		pn, err1 := strconv.Atoi(f[1])
		off, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 == nil && err2 == nil {
			p.dead[coord{f[0], pn, off}] = true
		}
	}
	return nil
}
