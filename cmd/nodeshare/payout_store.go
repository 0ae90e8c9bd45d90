package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/schemas"
)

// payoutStore is where the payout workflow keeps its durable state. Every
// Save returns only once the record is durable; a Save error means outcome
// unknown and every Save is idempotent (same record, same effect), so the
// caller may retry it. The production store writes Kafka then ClickHouse;
// tests use an in-memory store behind the same interface, so the run logic
// under test is the same code.
type payoutStore interface {
	Entitlements(ctx context.Context, dao, period string) ([]schemas.Entitlement, error)
	PoolPeriods(ctx context.Context, dao, period string) ([]schemas.PoolPeriod, error)
	// Periods lists the periods of dao that have pool periods (allocated).
	Periods(ctx context.Context, dao string) ([]string, error)
	// Manifest returns the stored manifest header, nil if none.
	Manifest(ctx context.Context, dao, period string) (*schemas.PayoutManifest, error)
	Intents(ctx context.Context, dao, period string) ([]schemas.PayoutIntent, error)
	Attempts(ctx context.Context, dao, period string) (map[string][]schemas.PayoutAttempt, error)
	Results(ctx context.Context, dao, period string) (map[string]schemas.PayoutResult, error)
	Approvals(ctx context.Context, manifestSHA256 string) ([]schemas.PayoutApproval, error)
	SavePlan(ctx context.Context, h schemas.PayoutManifest, intents []schemas.PayoutIntent) error
	SaveAttempt(ctx context.Context, dao, period string, a schemas.PayoutAttempt) error
	SaveResult(ctx context.Context, r schemas.PayoutResult) error
	SaveApproval(ctx context.Context, a schemas.PayoutApproval) error
}

// chPayoutStore is the production store: Kafka (the event log) first, then
// ClickHouse (what runs read back), each write with a deterministic key or
// de-duplication token.
type chPayoutStore struct {
	brokers  []string
	store    *clickhouse.Store
	producer *kafka.Producer
	now      func() time.Time
}

var _ payoutStore = (*chPayoutStore)(nil)

func (s *chPayoutStore) Entitlements(ctx context.Context, dao, period string) ([]schemas.Entitlement, error) {
	return s.store.Entitlements(ctx, dao, period)
}

func (s *chPayoutStore) PoolPeriods(ctx context.Context, dao, period string) ([]schemas.PoolPeriod, error) {
	return s.store.PoolPeriods(ctx, dao, period)
}

func (s *chPayoutStore) Intents(ctx context.Context, dao, period string) ([]schemas.PayoutIntent, error) {
	return s.store.Intents(ctx, dao, period)
}

func (s *chPayoutStore) Results(ctx context.Context, dao, period string) (map[string]schemas.PayoutResult, error) {
	return s.store.Results(ctx, dao, period)
}

func (s *chPayoutStore) Periods(ctx context.Context, dao string) ([]string, error) {
	rows, err := s.store.Conn().Query(ctx, `SELECT DISTINCT period FROM pool_periods FINAL WHERE dao = ? ORDER BY period`, dao)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read periods of %s: %w", dao, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("clickhouse: scan period: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *chPayoutStore) Manifest(ctx context.Context, dao, period string) (*schemas.PayoutManifest, error) {
	rows, err := s.store.Conn().Query(ctx, `SELECT manifest_sha256, rules_version, input_hashes, toInt64(intents), total_amount_e8s,
		total_fee_e8s, carried_e8s, created_at_nanos FROM payout_manifests FINAL WHERE dao = ? AND period = ?`, dao, period)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read payout manifest %s %s: %w", dao, period, err)
	}
	defer rows.Close()
	var out *schemas.PayoutManifest
	for rows.Next() {
		h := schemas.PayoutManifest{DAO: dao, Period: period}
		var inputs string
		var n int64
		if err := rows.Scan(&h.SHA256, &h.RulesVersion, &inputs, &n, &h.TotalAmountE8s, &h.TotalFeeE8s, &h.CarriedE8s, &h.CreatedAtNanos); err != nil {
			return nil, fmt.Errorf("clickhouse: scan payout manifest: %w", err)
		}
		h.Intents = int(n)
		if err := json.Unmarshal([]byte(inputs), &h.InputHashes); err != nil {
			return nil, fmt.Errorf("clickhouse: payout manifest %s %s: input_hashes: %w", dao, period, err)
		}
		if out != nil {
			return nil, fmt.Errorf("clickhouse: payout manifest %s %s: two rows (%s, %s): stop and investigate", dao, period, out.SHA256, h.SHA256)
		}
		out = &h
	}
	return out, rows.Err()
}

func (s *chPayoutStore) Attempts(ctx context.Context, dao, period string) (map[string][]schemas.PayoutAttempt, error) {
	rows, err := s.store.Conn().Query(ctx, `SELECT intent_id, toInt64(attempt), created_at_nanos, reason FROM payout_attempts FINAL
		WHERE intent_id IN (SELECT intent_id FROM payout_intents FINAL WHERE dao = ? AND period = ?) ORDER BY intent_id, attempt`, dao, period)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read payout attempts %s %s: %w", dao, period, err)
	}
	defer rows.Close()
	out := map[string][]schemas.PayoutAttempt{}
	for rows.Next() {
		var a schemas.PayoutAttempt
		var n int64
		if err := rows.Scan(&a.IntentID, &n, &a.CreatedAtNanos, &a.Reason); err != nil {
			return nil, fmt.Errorf("clickhouse: scan payout attempt: %w", err)
		}
		a.Attempt = int(n)
		out[a.IntentID] = append(out[a.IntentID], a)
	}
	return out, rows.Err()
}

func (s *chPayoutStore) Approvals(ctx context.Context, sha string) ([]schemas.PayoutApproval, error) {
	rows, err := s.store.Conn().Query(ctx, `SELECT manifest_sha256, approver, dao, period, approved_at FROM payout_approvals FINAL
		WHERE manifest_sha256 = ? ORDER BY approver`, sha)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read approvals of %s: %w", sha, err)
	}
	defer rows.Close()
	var out []schemas.PayoutApproval
	for rows.Next() {
		var a schemas.PayoutApproval
		var at time.Time
		if err := rows.Scan(&a.ManifestSHA256, &a.Approver, &a.DAO, &a.Period, &at); err != nil {
			return nil, fmt.Errorf("clickhouse: scan approval: %w", err)
		}
		a.ApprovedAt = at.UTC().Format(time.RFC3339)
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *chPayoutStore) SavePlan(ctx context.Context, h schemas.PayoutManifest, intents []schemas.PayoutIntent) error {
	evs := make([]entitle.Event, 0, len(intents))
	for _, in := range intents {
		env, err := schemas.NewEnvelope(schemas.TypePayoutIntent, in.IntentID, schemas.Provenance{Source: "nodeshare", Method: "payout/plan"}, in)
		if err != nil {
			return err
		}
		evs = append(evs, entitle.Event{Topic: schemas.TopicPayoutIntents, Key: in.IntentID, Envelope: env})
	}
	if _, err := publishNew(ctx, s.brokers, s.producer, evs); err != nil {
		return err
	}
	// Intents first, the header last: a header means the plan is complete.
	// The run reads intents only through a header (or a legacy v1 plan).
	if err := retry(ctx, 5, func() error { return s.store.InsertIntents(ctx, "intents-"+h.SHA256, intents) }); err != nil {
		return err
	}
	inputs, err := json.Marshal(h.InputHashes)
	if err != nil {
		return err
	}
	row := []any{h.DAO, h.Period, h.SHA256, h.RulesVersion, string(inputs), uint32(h.Intents), h.TotalAmountE8s,
		h.TotalFeeE8s, h.CarriedE8s, h.CreatedAtNanos, s.now().UTC()}
	return retry(ctx, 5, func() error { return s.insert(ctx, "payout_manifests", "manifest-"+h.SHA256, row) })
}

func (s *chPayoutStore) SaveAttempt(ctx context.Context, dao, period string, a schemas.PayoutAttempt) error {
	key := fmt.Sprintf("%s/attempt/%d", a.IntentID, a.Attempt)
	if err := s.publish(ctx, schemas.TopicPayoutIntents, schemas.TypePayoutAttempt, a.IntentID, key, a); err != nil {
		return err
	}
	row := []any{a.IntentID, uint32(a.Attempt), a.CreatedAtNanos, a.Reason, s.now().UTC()}
	return retry(ctx, 5, func() error { return s.insert(ctx, "payout_attempts", "attempt-"+key, row) })
}

func (s *chPayoutStore) SaveResult(ctx context.Context, res schemas.PayoutResult) error {
	at := s.now().UTC()
	id := fmt.Sprintf("%s/%s/%d", res.IntentID, res.Status, at.UnixNano())
	if err := s.publish(ctx, schemas.TopicPayoutResults, schemas.TypePayoutResult, res.IntentID, id, res); err != nil {
		return err
	}
	return retry(ctx, 5, func() error {
		return s.store.InsertResults(ctx, "result-"+id, []clickhouse.ResultRow{{PayoutResult: res, RecordedAt: at}})
	})
}

func (s *chPayoutStore) SaveApproval(ctx context.Context, a schemas.PayoutApproval) error {
	key := a.ManifestSHA256 + "/" + a.Approver
	if err := s.publish(ctx, schemas.TopicPayoutApproval, schemas.TypePayoutApproval, key, key, a); err != nil {
		return err
	}
	at, err := time.Parse(time.RFC3339, a.ApprovedAt)
	if err != nil {
		return fmt.Errorf("approval %s: approved_at: %w", key, err)
	}
	row := []any{a.ManifestSHA256, a.Approver, a.DAO, a.Period, at.UTC()}
	return retry(ctx, 5, func() error { return s.insert(ctx, "payout_approvals", "approval-"+key, row) })
}

func (s *chPayoutStore) publish(ctx context.Context, topic, typ, key, eventID string, v any) error {
	env, err := schemas.NewEnvelope(typ, eventID, schemas.Provenance{Source: "nodeshare", Method: "payout"}, v)
	if err != nil {
		return err
	}
	b, err := env.Marshal()
	if err != nil {
		return err
	}
	return s.producer.Publish(ctx, kafka.Record{Topic: topic, Key: []byte(key), Value: b})
}

// insert writes one row with a de-duplication token (PITFALLS C1, C3, C5):
// the batch is always closed and sent once.
func (s *chPayoutStore) insert(ctx context.Context, table, token string, row []any) error {
	bctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	bctx = ch.Context(bctx, ch.WithSettings(ch.Settings{"insert_deduplicate": 1, "insert_deduplication_token": token}))
	batch, err := s.store.Conn().PrepareBatch(bctx, "INSERT INTO "+table)
	if err != nil {
		return fmt.Errorf("clickhouse: prepare insert into %s: %w", table, err)
	}
	defer batch.Close()
	if err := batch.Append(row...); err != nil {
		return fmt.Errorf("clickhouse: insert into %s: %w", table, err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhouse: insert into %s (outcome unknown, safe to retry with the same token): %w", table, err)
	}
	return nil
}
