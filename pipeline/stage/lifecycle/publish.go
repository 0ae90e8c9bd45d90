package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	rules "github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// OneWrite and OneWriteBytes bound what the stage writes to the lifecycle
// topic in one Publish when the order matters (states, then the transfers
// they account for): connectors/kafka's producer sends up to 1,000 records
// and 16 MiB of one partition as one produce request, which the broker
// appends whole or not at all. More is written in two calls, the states
// first.
const (
	OneWrite      = 1000
	OneWriteBytes = 8 << 20
)

// provenance of everything the stage derives: the rules, by version.
var provenance = schemas.Provenance{Source: "nodeshare", Method: "lifecycle/" + rules.RulesVersion}

// outputRecord is the record of one derived event and its content hash.
func outputRecord(topic, typ, key string, payload any, headers []schemas.Header) (schemas.Record, string, error) {
	f, err := schemas.NewFact(topic, typ, key, provenance, payload)
	if err != nil {
		return schemas.Record{}, "", err
	}
	b, err := f.Envelope.Marshal()
	if err != nil {
		return schemas.Record{}, "", err
	}
	return schemas.Record{Topic: topic, Key: []byte(key), Value: b, Headers: headers}, f.Envelope.Provenance.ContentSHA256, nil
}

// publish makes the batch's outputs durable, in this order: the dead
// letters; the states of the pools whose state changed (with the input
// positions they reflect, HeaderHandled); the new transfers (with the
// states in one write when they fit one produce request). The order is
// what a restart relies on: a state is on the topic no later than any
// transfer it accounts for, and a refusal before the state that left its
// fact out, so the latest state of a pool says which facts were applied
// (rebuild.go). Nothing is published if a transfer would differ from the
// one already under its key: that is an error, and the batch is not
// committed.
func (p *processor) publish(ctx context.Context, w *work) error {
	runs := sortedRuns(w.touched)
	// Transfers first computed, and checked against the topic, so that a
	// conflict publishes nothing at all.
	type newTransfer struct {
		r   *run
		t   schemas.PoolTransfer
		rec schemas.Record
	}
	var transfers []newTransfer
	for _, r := range runs {
		for seq := r.settled; seq < len(r.rows); seq++ {
			t := r.transfer(r.rows[seq])
			if pub, ok := r.published[seq]; ok {
				if !sameTransfer(pub, t) {
					return fmt.Errorf("pool %s: transfer %d would differ from the one published (a transfer never changes: investigate): published %s, now %s", r.key, seq, describe(pub), describe(t))
				}
				continue
			}
			rec, _, err := outputRecord(p.cfg.lifecycle(), schemas.TypePoolTransfer, schemas.PoolTransferKey(r.dao, r.id, seq), t, nil)
			if err != nil {
				return err
			}
			transfers = append(transfers, newTransfer{r, t, rec})
		}
	}
	// Refused facts applied in an earlier batch: their records are read
	// back for the dead letter (rare: new terms refusing a fact).
	if err := p.refetch(ctx, w); err != nil {
		return err
	}
	if len(w.dead) > 1 {
		p.out.Warn("records dead-lettered in this batch", "count", len(w.dead))
	}
	if err := p.log.Publish(ctx, w.dead...); err != nil {
		return fmt.Errorf("lifecycle: publish %d dead letters: %w", len(w.dead), err)
	}
	w.deadCounts.Report(p.cfg.Observer)

	var states []schemas.Record
	var hashes []string
	var changed []*run
	var positions []map[tp]int64
	for _, r := range runs {
		st := r.state()
		pos := p.positions(r)
		header := []schemas.Header{{Key: HeaderHandled, Value: encodeHandled(pos)}}
		rec, sha, err := outputRecord(p.cfg.lifecycle(), schemas.TypePoolState, schemas.PoolStateKey(r.dao, r.id), st, header)
		if err != nil {
			return err
		}
		if sha == r.stateSHA {
			continue // the latest state on the topic says the same
		}
		states, hashes, changed, positions = append(states, rec), append(hashes, sha), append(changed, r), append(positions, pos)
		p.out.Info("pool state", "pool", r.key, "state", st.State, "facts", st.Facts, "as_of", st.AsOf, "terms_version", st.TermsVersion)
	}
	recs := make([]schemas.Record, len(transfers))
	for i, t := range transfers {
		recs[i] = t.rec
	}
	// States before transfers: in one write when they fit one produce
	// request (appended whole or not at all, and one round trip instead of
	// two), else the states first.
	var head, tail []schemas.Record
	size := 0
	for _, r := range append(states[:len(states):len(states)], recs...) {
		size += len(r.Key) + len(r.Value) + 100
	}
	if len(states)+len(recs) <= OneWrite && size <= OneWriteBytes {
		head, tail = append(states, recs...), nil
	} else {
		if err := p.log.Publish(ctx, states...); err != nil {
			return fmt.Errorf("lifecycle: publish %d pool states: %w", len(states), err)
		}
		head, tail = nil, recs
	}
	if p.cfg.Crash != nil && len(recs) > 1 {
		// Armed (kill tests only): the states and half of the batch's
		// transfers are durable when the crash point fires.
		all := append(head, tail...)
		cut := len(all) - len(recs) + len(recs)/2
		head, tail = all[:cut], all[cut:]
		if err := p.log.Publish(ctx, head...); err != nil {
			return fmt.Errorf("lifecycle: publish %d pool states and transfers: %w", len(head), err)
		}
		p.cfg.Crash.At(CrashMidPublish)
		head = nil
	}
	if err := p.log.Publish(ctx, append(head, tail...)...); err != nil {
		return fmt.Errorf("lifecycle: publish %d pool states and transfers: %w", len(head)+len(tail), err)
	}
	for i, r := range changed {
		r.stateSHA, r.pos = hashes[i], positions[i]
	}
	for _, t := range transfers {
		t.r.published[t.t.Seq] = t.t
	}
	for _, r := range runs {
		r.settled = len(r.rows)
	}
	return nil
}

// positions are the input positions r's state reflects when published
// now: where r's previous state was, or where the stage is on the topics
// whose position it knows, whichever is further (a batch delivered again
// after a crash may stop short of what the previous state reflected).
func (p *processor) positions(r *run) map[tp]int64 {
	out := make(map[tp]int64, len(p.handled)+len(r.pos))
	for k, v := range r.pos {
		out[k] = v
	}
	for k, v := range p.handled {
		if p.resolved[k.topic] {
			out[k] = max(out[k], v)
		}
	}
	return out
}

// describe writes a transfer for an error message.
func describe(t schemas.PoolTransfer) string {
	reason := "null"
	if t.Reason != nil {
		reason = *t.Reason
	}
	return fmt.Sprintf("{%s to %s: gross %d, sent %d, fee %d, reason %s, cause %q, at %q, terms version %d}",
		t.Kind, t.To, t.GrossE8s, t.TransferE8s, t.FeeE8s, reason, t.Cause, t.At, t.TermsVersion)
}

// refetch builds the dead letters of refused facts whose records were read
// in an earlier batch.
func (p *processor) refetch(ctx context.Context, w *work) error {
	if len(w.refetch) == 0 {
		return nil
	}
	byTopic := map[string][]refusal{}
	for _, x := range w.refetch {
		byTopic[x.f.src.topic] = append(byTopic[x.f.src.topic], x)
	}
	topics := make([]string, 0, len(byTopic))
	for t := range byTopic {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	for _, topic := range topics {
		msgs, err := p.log.ReadAll(ctx, topic)
		if err != nil {
			return fmt.Errorf("lifecycle: read %s for dead letters: %w", topic, err)
		}
		for _, x := range byTopic[topic] {
			i, found := slices.BinarySearchFunc(msgs, x.f.src, func(m schemas.Message, c coord) int { return compareCoords(coordOf(&m), c) })
			if !found {
				return fmt.Errorf("lifecycle: %s: the record %s to dead-letter is not on its topic any more", x.err, x.f.src)
			}
			w.reject(p, &msgs[i], stage.ReasonRefused, x.err)
		}
	}
	w.refetch = nil
	return nil
}

// encodeHandled writes the input positions as HeaderHandled says, sorted.
func encodeHandled(h map[tp]int64) []byte {
	keys := make([]tp, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b tp) int {
		return compareCoords(coord{a.topic, a.partition, 0}, coord{b.topic, b.partition, 0})
	})
	var b []byte
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, schemas.DeadLetterKey(k.topic, k.partition, h[k])...)
	}
	return b
}

// decodeHandled reads HeaderHandled; ok is false when the value is not one.
func decodeHandled(v []byte) (map[tp]int64, bool) {
	out := map[tp]int64{}
	if len(v) == 0 {
		return out, true
	}
	for _, part := range strings.Split(string(v), ",") {
		f := strings.Split(part, "/")
		if len(f) != 3 {
			return nil, false
		}
		pn, err1 := strconv.Atoi(f[1])
		off, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || pn < 0 || off < 0 {
			return nil, false
		}
		out[tp{f[0], pn}] = off
	}
	return out, true
}
