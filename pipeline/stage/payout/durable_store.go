package payout

import (
	"context"
	"errors"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
	"github.com/nodeshare/nodeshare/schemas"
)

// EventLog is the port to the event log (Kafka) the payout records go to
// first: it is the evidence, ClickHouse the index runs read back.
type EventLog interface {
	stage.Publisher
	Publish(ctx context.Context, recs ...schemas.Record) error
}

// Tables is the port to the payout tables (ClickHouse): the reads of Store
// and one idempotent insert per record kind, each de-duplicated by token.
type Tables interface {
	Entitlements(ctx context.Context, dao, period string) ([]schemas.Entitlement, error)
	PoolPeriods(ctx context.Context, dao, period string) ([]schemas.PoolPeriod, error)
	Periods(ctx context.Context, dao string) ([]string, error)
	PoolTransfers(ctx context.Context, dao, pool string) ([]schemas.PoolTransfer, error)
	PoolIntents(ctx context.Context, dao, pool string) ([]schemas.PayoutIntent, error)
	Manifest(ctx context.Context, dao, period string) (*schemas.PayoutManifest, error)
	Intents(ctx context.Context, dao, period string) ([]schemas.PayoutIntent, error)
	Attempts(ctx context.Context, dao, period string) (map[string][]schemas.PayoutAttempt, error)
	Results(ctx context.Context, dao, period string) (map[string]schemas.PayoutResult, error)
	Approvals(ctx context.Context, manifestSHA256 string) ([]schemas.PayoutApproval, error)
	PoolVotes(ctx context.Context, dao, pool string) ([]schemas.PoolVote, error)

	InsertIntents(ctx context.Context, token string, intents []schemas.PayoutIntent) error
	InsertManifest(ctx context.Context, token string, h schemas.PayoutManifest, recordedAt time.Time) error
	InsertAttempt(ctx context.Context, token string, a schemas.PayoutAttempt, recordedAt time.Time) error
	InsertResult(ctx context.Context, token string, r schemas.PayoutResult, recordedAt time.Time) error
	InsertApproval(ctx context.Context, token string, a schemas.PayoutApproval) error
}

// DurableStore is the production Store: each record goes to the event log
// first (under its topic's key, schemas/keys.go), then into the tables
// with a de-duplication token derived from the record, each write retried
// by the one retry policy (every write is idempotent, so any failure may be
// retried). A Save returns only when both hold the record.
type DurableStore struct {
	Tables
	Log   EventLog
	Clock stage.Clock
}

// NewDurableStore joins the event log and the tables.
func NewDurableStore(log EventLog, tables Tables, clock stage.Clock) *DurableStore {
	if clock == nil {
		clock = stage.SystemClock{}
	}
	return &DurableStore{Tables: tables, Log: log, Clock: clock}
}

var insertPolicy = retry.Policy{Tries: 5, Classify: retry.Always}

func (s *DurableStore) insert(ctx context.Context, f func(context.Context) error) error {
	return retry.Do(ctx, insertPolicy, f)
}

var payoutProvenance = schemas.Provenance{Source: "nodeshare", Method: "payout"}

// publish writes one record of v to topic under key, with event id id.
func (s *DurableStore) publish(ctx context.Context, topic, typ, key, id string, v any) error {
	env, err := schemas.NewEnvelope(typ, id, payoutProvenance, v)
	if err != nil {
		return err
	}
	b, err := env.Marshal()
	if err != nil {
		return err
	}
	return s.Log.Publish(ctx, schemas.Record{Topic: topic, Key: []byte(key), Value: b})
}

// SavePlan stores the intents, then the header: a header means the plan is
// complete (a run reads intents only through one).
func (s *DurableStore) SavePlan(ctx context.Context, h schemas.PayoutManifest, intents []schemas.PayoutIntent) error {
	facts := make([]schemas.Fact, 0, len(intents))
	for _, in := range intents {
		f, err := schemas.NewFact(schemas.TopicPayoutIntents, schemas.TypePayoutIntent, schemas.PayoutIntentKey(in.IntentID),
			schemas.Provenance{Source: "nodeshare", Method: "payout/plan"}, in)
		if err != nil {
			return err
		}
		facts = append(facts, f)
	}
	if _, err := s.Log.PublishOnce(ctx, facts); err != nil {
		return err
	}
	if err := s.insert(ctx, func(ctx context.Context) error { return s.InsertIntents(ctx, "intents-"+h.SHA256, intents) }); err != nil {
		return err
	}
	at := s.Clock.Now()
	return s.insert(ctx, func(ctx context.Context) error { return s.InsertManifest(ctx, "manifest-"+h.SHA256, h, at) })
}

// SaveAttempt stores a new attempt before anything is signed for it.
func (s *DurableStore) SaveAttempt(ctx context.Context, dao, period string, a schemas.PayoutAttempt) error {
	id := schemas.PayoutAttemptKey(a.IntentID, a.Attempt)
	if err := s.publish(ctx, schemas.TopicPayoutIntents, schemas.TypePayoutAttempt, schemas.PayoutIntentKey(a.IntentID), id, a); err != nil {
		return err
	}
	at := s.Clock.Now()
	return s.insert(ctx, func(ctx context.Context) error { return s.InsertAttempt(ctx, "attempt-"+id, a, at) })
}

// SaveResult stores one result (each recorded result is its own event).
func (s *DurableStore) SaveResult(ctx context.Context, r schemas.PayoutResult) error {
	at := s.Clock.Now().UTC()
	id := schemas.PayoutResultID(r.IntentID, r.Status, at.UnixNano())
	if err := s.publish(ctx, schemas.TopicPayoutResults, schemas.TypePayoutResult, schemas.PayoutResultKey(r.IntentID), id, r); err != nil {
		return err
	}
	return s.insert(ctx, func(ctx context.Context) error { return s.InsertResult(ctx, "result-"+id, r, at) })
}

// SaveApproval stores one approval of a manifest hash.
func (s *DurableStore) SaveApproval(ctx context.Context, a schemas.PayoutApproval) error {
	key := schemas.PayoutApprovalKey(a.ManifestSHA256, a.Approver)
	if err := s.publish(ctx, schemas.TopicPayoutApproval, schemas.TypePayoutApproval, key, key, a); err != nil {
		return err
	}
	return s.insert(ctx, func(ctx context.Context) error { return s.InsertApproval(ctx, "approval-"+key, a) })
}

// SaveRelease stores a release of a held period (docs/payouts.md "Sanity
// holds"): the event log, then the table.
func (s *DurableStore) SaveRelease(ctx context.Context, r schemas.PayoutRelease) error {
	key := schemas.PayoutReleaseKey(r.DAO, r.Period, r.HoldsSHA256)
	if err := s.publish(ctx, schemas.TopicPayoutReleases, schemas.TypePayoutRelease, key, key, r); err != nil {
		return err
	}
	at := s.Clock.Now()
	releases, ok := s.Tables.(interface {
		InsertRelease(ctx context.Context, token string, r schemas.PayoutRelease, recordedAt time.Time) error
	})
	if !ok {
		return errors.New("payout: the tables cannot store releases")
	}
	return s.insert(ctx, func(ctx context.Context) error { return releases.InsertRelease(ctx, "release-"+key, r, at) })
}

var _ Store = (*DurableStore)(nil)
