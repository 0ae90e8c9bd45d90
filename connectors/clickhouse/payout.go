package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// The payout tables as the payout stage reads and writes them
// (pipeline/stage/payout.Tables): every write goes through the one
// de-duplicating insert (send), keyed by a token the stage derives from the
// record, so a retried write changes nothing.

func (s *Store) Periods(ctx context.Context, dao string) ([]string, error) {
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT period FROM pool_periods FINAL WHERE dao = ? ORDER BY period`, dao)
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

func (s *Store) Manifest(ctx context.Context, dao, period string) (*schemas.PayoutManifest, error) {
	rows, err := s.conn.Query(ctx, `SELECT manifest_sha256, rules_version, input_hashes, toInt64(intents), total_amount_e8s,
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

func (s *Store) Attempts(ctx context.Context, dao, period string) (map[string][]schemas.PayoutAttempt, error) {
	rows, err := s.conn.Query(ctx, `SELECT intent_id, toInt64(attempt), created_at_nanos, reason FROM payout_attempts FINAL
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

func (s *Store) Approvals(ctx context.Context, sha string) ([]schemas.PayoutApproval, error) {
	rows, err := s.conn.Query(ctx, `SELECT manifest_sha256, approver, dao, period, approved_at, public_key_der, signature FROM payout_approvals FINAL
		WHERE manifest_sha256 = ? ORDER BY approver`, sha)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read approvals of %s: %w", sha, err)
	}
	defer rows.Close()
	var out []schemas.PayoutApproval
	for rows.Next() {
		var a schemas.PayoutApproval
		var at time.Time
		if err := rows.Scan(&a.ManifestSHA256, &a.Approver, &a.DAO, &a.Period, &at, &a.PublicKeyDER, &a.Signature); err != nil {
			return nil, fmt.Errorf("clickhouse: scan approval: %w", err)
		}
		a.ApprovedAt = at.UTC().Format(time.RFC3339)
		out = append(out, a)
	}
	return out, rows.Err()
}

// InsertManifest stores a plan's header (written last: a header means the
// plan is complete).
func (s *Store) InsertManifest(ctx context.Context, token string, h schemas.PayoutManifest, recordedAt time.Time) error {
	inputs, err := json.Marshal(h.InputHashes)
	if err != nil {
		return fmt.Errorf("clickhouse: payout manifest %s: input_hashes: %w", h.SHA256, err)
	}
	return s.insert(ctx, "payout_manifests", token, [][]any{{h.DAO, h.Period, h.SHA256, h.RulesVersion, string(inputs), uint32(h.Intents),
		h.TotalAmountE8s, h.TotalFeeE8s, h.CarriedE8s, h.CreatedAtNanos, recordedAt.UTC()}})
}

// InsertAttempt stores a new attempt (a new created_at_time) of an intent.
func (s *Store) InsertAttempt(ctx context.Context, token string, a schemas.PayoutAttempt, recordedAt time.Time) error {
	return s.insert(ctx, "payout_attempts", token, [][]any{{a.IntentID, uint32(a.Attempt), a.CreatedAtNanos, a.Reason, recordedAt.UTC()}})
}

// InsertResult stores one payout result.
func (s *Store) InsertResult(ctx context.Context, token string, r schemas.PayoutResult, recordedAt time.Time) error {
	return s.InsertResults(ctx, token, []ResultRow{{PayoutResult: r, RecordedAt: recordedAt}})
}

// InsertApproval stores one approval of a manifest hash.
func (s *Store) InsertApproval(ctx context.Context, token string, a schemas.PayoutApproval) error {
	at, err := time.Parse(time.RFC3339, a.ApprovedAt)
	if err != nil {
		return fmt.Errorf("clickhouse: approval %s/%s: approved_at %q: %w", a.ManifestSHA256, a.Approver, a.ApprovedAt, err)
	}
	return s.insert(ctx, "payout_approvals", token, [][]any{{a.ManifestSHA256, a.Approver, a.DAO, a.Period, at.UTC(), a.PublicKeyDER, a.Signature}})
}

// PoolVotes returns the votes of the pool's latest lifecycle state (the
// pool_state records on dao.pool-lifecycle.v1, schemas.PoolState.Votes),
// nil when the pool has no state: what the payout stage reads to decide
// whether the sponsors' approve_manifest votes approve a manifest.
func (s *Store) PoolVotes(ctx context.Context, dao, pool string) ([]schemas.PoolVote, error) {
	states, err := queryPayloads[schemas.PoolState](ctx, s, schemas.TypePoolState, `SELECT payload FROM events_raw FINAL
		WHERE event_type = 'pool_state' AND JSONExtractString(payload, 'dao') = ? AND JSONExtractString(payload, 'pool_id') = ?
		ORDER BY kafka_time DESC, offset DESC LIMIT 1`, dao, pool)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: votes of pool %s/%s: %w", dao, pool, err)
	}
	if len(states) == 0 {
		return nil, nil
	}
	return states[0].Votes, nil
}
