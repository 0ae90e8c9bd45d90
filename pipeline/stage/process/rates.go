package process

import (
	"context"
	"fmt"
	"sort"

	"github.com/nodeshare/nodeshare/pipeline/rates"
	"github.com/nodeshare/nodeshare/schemas"
)

// derivedSource is the provenance source (and key source) of the rates the
// processor derives; observations from it are never averaged again.
const derivedSource = "nodeshare"

// spot is one spot rate observation of the batch, as read from the rates
// topic.
type spot struct {
	partition int
	offset    int64
	timestamp uint64
}

// spotOf returns the observation a valid rates record carries, if it is an
// observed spot rate (not one the processor derived).
func spotOf(m schemas.Message, env schemas.Envelope) (spot, bool) {
	if env.Provenance.Source == derivedSource {
		return spot{}, false
	}
	var r schemas.Rate
	if env.DecodePayload(schemas.TypeRate, &r) != nil || r.Kind != "spot" || r.XDRPermyriadPerICP <= 0 {
		return spot{}, false
	}
	return spot{partition: m.Partition, offset: m.Offset, timestamp: r.TimestampSeconds}, true
}

// publishDerivedRates publishes, for every spot observation of the batch,
// the 30-day average (avg30) and the NNS rate (nns, minimum floor applied)
// as of its timestamp T, under schemas.RateKey("nodeshare", kind, T).
//
// One key per (kind, T) must hold one value, whatever observed it and
// however often it is replayed, so the derived rates of T are those as of
// the first spot observation with timestamp T on the rates topic (lowest
// offset of its partition; the topic has one partition, schemas/topics.go),
// computed from the observations at or before it. A later observation with
// the same timestamp (another source, a re-fetch) derives the very same
// facts, which PublishOnce finds already published; a replay reads the
// same topic prefix and computes the same numbers whatever came later
// (docs/pipeline.md, "Derived rates").
func (p *processor) publishDerivedRates(ctx context.Context, batch []spot) error {
	if len(batch) == 0 {
		return nil
	}
	all, err := p.log.ReadAll(ctx, schemas.TopicRates)
	if err != nil {
		return fmt.Errorf("derived rates: %w", err)
	}
	// The observations of each partition in offset order, and the first
	// observation of each timestamp.
	type first struct {
		partition int
		timestamp uint64
	}
	known := map[int][]rates.Observation{}
	offsets := map[int][]int64{}
	firstAt := map[first]int64{}
	for _, m := range all {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil {
			continue
		}
		s, ok := spotOf(m, env)
		if !ok {
			continue
		}
		var r schemas.Rate
		_ = env.DecodePayload(schemas.TypeRate, &r) // spotOf decoded it
		known[m.Partition] = append(known[m.Partition], rates.Observation{TimestampSeconds: r.TimestampSeconds, XDRPermyriadPerICP: r.XDRPermyriadPerICP})
		offsets[m.Partition] = append(offsets[m.Partition], m.Offset)
		if _, ok := firstAt[first{s.partition, s.timestamp}]; !ok {
			firstAt[first{s.partition, s.timestamp}] = m.Offset
		}
	}
	minRate := p.cfg.Params.MinimumICPXDRRate
	if minRate == 0 {
		minRate = 100
	}
	var facts []schemas.Fact
	done := map[first]bool{}
	for _, s := range batch {
		f := first{s.partition, s.timestamp}
		if done[f] {
			continue
		}
		done[f] = true
		at, ok := firstAt[f]
		if !ok {
			continue // not on the topic read: cannot happen (the topic is read past the batch)
		}
		// The observations at or before the first one of timestamp T.
		n := sort.Search(len(offsets[s.partition]), func(i int) bool { return offsets[s.partition][i] > at })
		avg, _, err := rates.Average30(known[s.partition][:n], s.timestamp)
		if err != nil {
			continue // nothing to average yet
		}
		for _, d := range []struct {
			kind  string
			value int64
		}{{"avg30", avg}, {"nns", rates.NNSRate(avg, minRate)}} {
			key := schemas.RateKey(derivedSource, d.kind, s.timestamp)
			fact, err := schemas.NewFact(schemas.TopicRates, schemas.TypeRate, key, schemas.Provenance{Source: derivedSource, Method: "rates/" + d.kind},
				schemas.Rate{Kind: d.kind, TimestampSeconds: s.timestamp, XDRPermyriadPerICP: d.value})
			if err != nil {
				return err
			}
			facts = append(facts, fact)
		}
	}
	sort.Slice(facts, func(i, j int) bool { return facts[i].Key < facts[j].Key })
	if _, err := p.log.PublishOnce(ctx, facts); err != nil {
		return fmt.Errorf("derived rates: publish: %w", err)
	}
	return nil
}
