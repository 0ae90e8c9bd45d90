package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
	"github.com/nodeshare/nodeshare/schemas"
)

// processor is the stage's state: none between batches (every decision is
// rebuilt from the log), so a restarted processor behaves as a running one.
type processor struct {
	cfg Config
	log Log
	out *slog.Logger
}

// New returns the processor's batch handler over log, for the consume loop
// (cmd/nodeshare runs it as kafka.Stage(h) under cfg.Group on Inputs()).
func New(cfg Config, log Log) (stage.BatchHandler, error) {
	if err := cfg.Validate(); err != nil {
		return stage.BatchHandler{}, err
	}
	if log == nil {
		return stage.BatchHandler{}, fmt.Errorf("process: no event log")
	}
	p := &processor{cfg: cfg, log: log, out: cfg.logger()}
	return stage.BatchHandler{Prepare: p.prepare, Handle: p.handle}, nil
}

// checkedRecord is one input record decoded and validated.
type checkedRecord struct {
	env    schemas.Envelope
	err    error          // why the record is rejected, if it is
	reason string         // err's class (stage.Reason*)
	dead   schemas.Record // its dead letter when rejected
}

// prepare decodes and validates every record of the batch. It is pure and
// independent per record: done on every core, for the next batch while the
// current one is handled.
func (p *processor) prepare(batch []schemas.Message) any {
	return stage.Parallel(batch, func(m schemas.Message) checkedRecord {
		env, err := schemas.DecodeEnvelope(m.Value)
		reason := stage.ReasonUndecodable
		if err == nil {
			reason = stage.ReasonInvalid
			if typ, ok := p.cfg.InputTypes[m.Topic]; ok {
				err = entitle.ValidateType(typ, m.Topic, env)
			} else {
				err = entitle.Validate(m.Topic, env)
			}
		}
		c := checkedRecord{env: env, err: err, reason: reason}
		if err != nil {
			c.dead = deadLetter(p.cfg.dlqTopic(), m, err)
		}
		return c
	})
}

// handle handles the batch in order: rewards are decided and published,
// then the derived rates, then the dead letters; it returns nil only once
// all of them are acknowledged.
func (p *processor) handle(ctx context.Context, batch []schemas.Message, prepared any) error {
	checks, ok := prepared.([]checkedRecord)
	if !ok || len(checks) != len(batch) {
		checks = p.prepare(batch).([]checkedRecord) // a loop that did not prepare: do it here
	}
	// Dead letters of the batch are published together, before the batch's
	// offsets are committed.
	var dead []schemas.Record
	counts := stage.DeadLetterCounts{}
	var spots []spot
	// reject dead-letters a record (rec, when already built) for reason,
	// of class (stage.Reason*).
	reject := func(m schemas.Message, reason error, class string, rec *schemas.Record) {
		counts.Add(m.Topic, class)
		if len(dead) == 0 { // one line per batch, not per record: a flood stays readable
			p.out.Warn("record dead-lettered", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", reason.Error())
		}
		if rec == nil {
			r := deadLetter(p.cfg.dlqTopic(), m, reason)
			rec = &r
		}
		dead = append(dead, *rec)
	}
	for i, m := range batch {
		env, err := checks[i].env, checks[i].err
		if err != nil {
			reject(m, err, checks[i].reason, &checks[i].dead)
			continue
		}
		switch m.Topic {
		case schemas.TopicRates:
			if s, ok := spotOf(m, env); ok {
				spots = append(spots, s)
			}
		case schemas.TopicNodeRewards:
			reason, err := p.reward(ctx, env)
			if err != nil {
				return err
			}
			if reason != nil {
				reject(m, reason, stage.ReasonRefused, nil)
			}
		}
	}
	if err := p.publishDerivedRates(ctx, spots); err != nil {
		return err
	}
	if len(dead) > 1 {
		p.out.Warn("records dead-lettered in this batch", "count", len(dead))
	}
	if err := p.log.Publish(ctx, dead...); err != nil {
		return fmt.Errorf("publish %d dead letters: %w", len(dead), err)
	}
	counts.Report(p.cfg.Observer)
	stage.RecordsIn(p.cfg.Observer, batch)
	return nil
}

// reward decides one NNS reward and publishes its pool periods and
// entitlements. A reason is returned when the rules refuse the reward
// (dead-letter it); an error when the log failed (stop, redeliver).
func (p *processor) reward(ctx context.Context, env schemas.Envelope) (reason, err error) {
	var r schemas.NodeReward
	if err := env.DecodePayload(schemas.TypeNodeReward, &r); err != nil {
		return nil, fmt.Errorf("reward %s: %w", env.EventID, err) // Validate decoded it already: cannot happen
	}
	// A reward whose pool has a vote closed before it but not yet decided
	// waits (entitle.PendingError): the state is rebuilt until the
	// lifecycle processor has closed the vote. Past the tries the stage
	// stops without a commit, and the reward is delivered again: a
	// pending reward is never dead-lettered.
	var facts []entitle.Event
	var refused error
	allocated := false
	err = retry.Do(ctx, p.cfg.pendingPolicy(p.out, env.EventID), func(ctx context.Context) error {
		st, err := p.rebuildState(ctx)
		if err != nil {
			return err
		}
		// A reward is allocated once: on redelivery (a crash before the
		// commit) its decisions stand, even if a fact arrived since. A
		// partly published reward (a crash mid-publish) is recomputed and
		// completed; PublishOnce refuses any record that differs.
		if allocated = st.Allocated(r); allocated {
			return nil
		}
		facts, err = st.Reward(r, p.cfg.Params)
		var pending *entitle.PendingError
		if errors.As(err, &pending) {
			return err
		}
		refused = err
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reward %s: %w", env.EventID, err)
	}
	if allocated {
		p.out.Info("reward already allocated", "reward", env.EventID)
		return nil, nil
	}
	if refused != nil {
		return refused, nil
	}
	for i := range facts {
		facts[i].Topic = p.cfg.EntitlementsTopic
	}
	if p.cfg.Crash != nil {
		// Armed (kill tests only): half of the reward's facts are durable
		// when the crash point fires.
		if _, err := p.log.PublishOnce(ctx, facts[:len(facts)/2]); err != nil {
			return nil, fmt.Errorf("reward %s: publish: %w", env.EventID, err)
		}
		p.cfg.Crash.At(CrashMidPublish)
	}
	stats, err := p.log.PublishOnce(ctx, facts)
	if err != nil {
		return nil, fmt.Errorf("reward %s: publish: %w", env.EventID, err)
	}
	p.out.Info("reward allocated", "reward", env.EventID, "period", entitle.PeriodOf(r.TimestampSeconds),
		"events", len(facts), "published", stats.Published, "present", stats.Present)
	return nil, nil
}

// stateTopics are the topics a reward's state is rebuilt from, the
// entitlements topic last (carries and decided periods). The pool
// lifecycle topic is read, not consumed: its states (which crowdfunded
// pool is active when, and its stakes) are the lifecycle processor's
// output, and its transfers are ignored here.
var stateTopics = []string{schemas.TopicPools, schemas.TopicContributions, schemas.TopicNodePeriodWeights, schemas.TopicPoolLifecycle}

// rebuildState reads the pool, contribution, NRC weight, pool lifecycle and
// entitlement topics to their ends and folds them into a fresh state.
// Invalid records were dead-lettered when first consumed and are left out.
// A lifecycle state the rules refuse is left out too (the pool keeps its
// previous state), with a warning: no stage dead-letters it, and it
// decides whether a crowdfunded pool earns.
func (p *processor) rebuildState(ctx context.Context) (*entitle.State, error) {
	st := entitle.NewState()
	for _, topic := range append(stateTopics[:len(stateTopics):len(stateTopics)], p.cfg.EntitlementsTopic) {
		msgs, err := p.log.ReadAll(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("rebuild state: %w", err)
		}
		for _, m := range msgs {
			env, err := schemas.DecodeEnvelope(m.Value)
			if err == nil {
				err = st.Apply(env)
			}
			switch {
			case err != nil && m.Topic == schemas.TopicPoolLifecycle:
				p.out.Warn("pool lifecycle state skipped", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", err.Error())
			case err != nil:
				p.out.Debug("state record skipped", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", err.Error())
			}
		}
	}
	return st, nil
}

// deadLetter builds the dead-letter record of a record that cannot be
// processed (DLQ v1, schemas.DeadLetterRecord): its value unchanged, the
// reason and coordinates in headers. The stream goes on.
func deadLetter(dlqTopic string, m schemas.Message, reason error) schemas.Record {
	k, v, h := schemas.DeadLetterRecord(m.Topic, m.Partition, m.Offset, m.Key, m.Value, reason.Error())
	return schemas.Record{Topic: dlqTopic, Key: k, Value: v, Headers: h}
}

// pendingPolicy is how long a reward waits for an undecided vote: the
// rebuilds back off from 500 ms to 10 s, PendingTries times (default 60,
// some eight minutes), each wait logged. A rebuild that fails otherwise is
// not retried here (the loop stops and redelivers).
func (c Config) pendingPolicy(out *slog.Logger, reward string) retry.Policy {
	tries := c.PendingTries
	if tries <= 0 {
		tries = 60
	}
	return retry.Policy{Tries: tries, Initial: 500 * time.Millisecond, Max: 10 * time.Second,
		Classify: func(err error) retry.Class {
			var pending *entitle.PendingError
			if errors.As(err, &pending) {
				return retry.Transient
			}
			return retry.Fatal
		},
		OnRetry: func(err error, try int, wait time.Duration) {
			out.Warn("reward waits for a vote's close", "reward", reward, "try", try, "wait", wait.String(), "reason", err.Error())
		}}
}
