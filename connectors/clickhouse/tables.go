package clickhouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// The row types live in package schemas (schemas/audit_rows.go) so that the
// sink stage names them without importing this package; these aliases keep
// the connector's callers compiling.
type (
	// Coord is a record's position in Kafka (schemas.Coord).
	Coord = schemas.Coord
	// RawEvent is one Kafka record as stored in events_raw (schemas.RawEvent).
	RawEvent = schemas.RawEvent
	// EntitlementRow is an entitlement with its coordinates (schemas.EntitlementRow).
	EntitlementRow = schemas.EntitlementRow
	// PoolPeriodRow is a pool period with its coordinates (schemas.PoolPeriodRow).
	PoolPeriodRow = schemas.PoolPeriodRow
	// ResultRow is a payout result and when it was recorded (schemas.ResultRow).
	ResultRow = schemas.ResultRow
)

// InsertRaw stores raw records. It appends column by column (one call per
// column, no per-row reflection): the sink's hottest insert.
func (s *Store) InsertRaw(ctx context.Context, token string, evs []RawEvent) error {
	if len(evs) == 0 {
		return nil
	}
	now := time.Now().UTC()
	n := len(evs)
	var (
		topic, key, id, typ, prov, payload, prev, row = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		part                                          = make([]uint32, n)
		off                                           = make([]uint64, n)
		ver                                           = make([]uint16, n)
		kt, it                                        = make([]time.Time, n), make([]time.Time, n)
	)
	for i, e := range evs {
		topic[i], part[i], off[i], key[i], id[i], typ[i] = e.Topic, uint32(e.Partition), uint64(e.Offset), e.Key, e.EventID, e.EventType
		ver[i], prov[i], payload[i], kt[i], it[i], prev[i], row[i] = uint16(e.SchemaVersion), e.Provenance, e.Payload, e.Time.UTC(), now, e.PrevHash, e.RowHash
	}
	cols := []any{topic, part, off, key, id, typ, ver, prov, payload, kt, it, prev, row}
	return s.insertColumns(ctx, "events_raw (topic, partition, offset, key, event_id, event_type, schema_version, provenance, payload, kafka_time, ingested_at, prev_hash, row_hash)", token, cols)
}

// ChainTip returns the row hash of the last row of (topic, partition) below
// offset, or schemas.ChainGenesis when there is none.
func (s *Store) ChainTip(ctx context.Context, topic string, partition int, below int64) (string, error) {
	var h string
	// No FINAL: copies of a row (a redelivered batch) carry the same hash,
	// so any copy answers, and the primary key order makes this a seek.
	err := s.conn.QueryRow(ctx, `SELECT row_hash FROM events_raw WHERE topic = ? AND partition = ? AND offset < ?
		ORDER BY offset DESC LIMIT 1`, topic, uint32(partition), uint64(below)).Scan(&h)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return schemas.ChainGenesis, nil
		}
		return "", fmt.Errorf("clickhouse: chain tip of %s/%d below %d: %w", topic, partition, below, err)
	}
	return h, nil
}

// InsertEntitlements stores entitlement decisions.
func (s *Store) InsertEntitlements(ctx context.Context, token string, es []EntitlementRow) error {
	rows := make([][]any, len(es))
	for i, e := range es {
		rows[i] = []any{e.DAO, e.Period, e.PoolID, e.Recipient, e.Role, e.RulesVersion, e.StakeE8s, e.ShareE8s,
			e.CarryInE8s, e.OwedE8s, e.TransferE8s, e.FeeE8s, e.CarryOutE8s, e.ManifestSHA256, e.Explanation,
			e.EventID, uint32(e.Partition), uint64(e.Offset)}
	}
	return s.insert(ctx, "entitlements", token, rows)
}

// InsertPoolPeriods stores pool-level results.
func (s *Store) InsertPoolPeriods(ctx context.Context, token string, ps []PoolPeriodRow) error {
	rows := make([][]any, len(ps))
	for i, p := range ps {
		rows[i] = []any{p.DAO, p.Period, p.PoolID, p.RulesVersion, p.RewardEventID, p.GrossE8s, p.HosterFeeE8s,
			p.DAOFeeE8s, p.DistributableE8s, p.Whale, uint32(p.Recipients), p.InputsSHA256, p.ManifestSHA256,
			p.InputJSON, p.AllocationJSON, p.EventID, uint32(p.Partition), uint64(p.Offset)}
	}
	return s.insert(ctx, "pool_periods", token, rows)
}

// InsertIntents stores payout intents.
func (s *Store) InsertIntents(ctx context.Context, token string, in []schemas.PayoutIntent) error {
	rows := make([][]any, len(in))
	for i, p := range in {
		rows[i] = []any{p.IntentID, p.DAO, p.Period, p.PoolID, p.Recipient, p.Role, p.AmountE8s, p.FeeE8s,
			p.MemoHex, p.CreatedAtNanos, p.ManifestSHA256}
	}
	return s.insert(ctx, "payout_intents", token, rows)
}

// InsertResults stores payout results.
func (s *Store) InsertResults(ctx context.Context, token string, rs []ResultRow) error {
	rows := make([][]any, len(rs))
	for i, r := range rs {
		rows[i] = []any{r.IntentID, r.Status, r.BlockIndex, r.Duplicate, r.VerifiedBy, r.Error, r.AmountE8s,
			r.Recipient, r.RecordedAt.UTC()}
	}
	return s.insert(ctx, "payout_results", token, rows)
}

// InsertDeadLetters stores rejected records.
func (s *Store) InsertDeadLetters(ctx context.Context, token string, ds []schemas.DeadLetter) error {
	now := time.Now().UTC()
	rows := make([][]any, len(ds))
	for i, d := range ds {
		rows[i] = []any{d.SourceTopic, uint32(d.Partition), uint64(d.Offset), d.Key, d.Reason, d.RawBase64, now}
	}
	return s.insert(ctx, "dead_letters", token, rows)
}

// Entitlements returns the entitlements of one DAO period, sorted by pool
// and recipient.
func (s *Store) Entitlements(ctx context.Context, dao, period string) ([]schemas.Entitlement, error) {
	rows, err := s.conn.Query(ctx, `SELECT dao, period, pool_id, recipient, role, rules_version, stake_e8s, share_e8s,
		carry_in_e8s, owed_e8s, transfer_e8s, fee_e8s, carry_out_e8s, manifest_sha256, explanation
		FROM entitlements FINAL WHERE dao = ? AND period = ? ORDER BY pool_id, role, recipient`, dao, period)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read entitlements %s %s: %w", dao, period, err)
	}
	defer rows.Close()
	var out []schemas.Entitlement
	for rows.Next() {
		var e schemas.Entitlement
		if err := rows.Scan(&e.DAO, &e.Period, &e.PoolID, &e.Recipient, &e.Role, &e.RulesVersion, &e.StakeE8s,
			&e.ShareE8s, &e.CarryInE8s, &e.OwedE8s, &e.TransferE8s, &e.FeeE8s, &e.CarryOutE8s,
			&e.ManifestSHA256, &e.Explanation); err != nil {
			return nil, fmt.Errorf("clickhouse: scan entitlement: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// PoolPeriods returns the pool results of one DAO period, sorted by pool.
func (s *Store) PoolPeriods(ctx context.Context, dao, period string) ([]schemas.PoolPeriod, error) {
	rows, err := s.conn.Query(ctx, `SELECT dao, period, pool_id, rules_version, reward_event_id, gross_e8s,
		hoster_fee_e8s, dao_fee_e8s, distributable_e8s, whale, toInt64(recipients), inputs_sha256, manifest_sha256,
		input_json, allocation_json FROM pool_periods FINAL WHERE dao = ? AND period = ? ORDER BY pool_id`, dao, period)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read pool periods %s %s: %w", dao, period, err)
	}
	defer rows.Close()
	var out []schemas.PoolPeriod
	for rows.Next() {
		var p schemas.PoolPeriod
		var n int64
		if err := rows.Scan(&p.DAO, &p.Period, &p.PoolID, &p.RulesVersion, &p.RewardEventID, &p.GrossE8s,
			&p.HosterFeeE8s, &p.DAOFeeE8s, &p.DistributableE8s, &p.Whale, &n, &p.InputsSHA256, &p.ManifestSHA256,
			&p.InputJSON, &p.AllocationJSON); err != nil {
			return nil, fmt.Errorf("clickhouse: scan pool period: %w", err)
		}
		p.Recipients = int(n)
		out = append(out, p)
	}
	return out, rows.Err()
}

// Intents returns the payout intents of one DAO period, sorted by id.
func (s *Store) Intents(ctx context.Context, dao, period string) ([]schemas.PayoutIntent, error) {
	return s.intents(ctx, "period", dao, period)
}

// PoolIntents returns every payout intent of one pool, whatever its
// period, sorted by id.
func (s *Store) PoolIntents(ctx context.Context, dao, pool string) ([]schemas.PayoutIntent, error) {
	return s.intents(ctx, "pool_id", dao, pool)
}

// intents reads the intents of dao whose column (period or pool_id) is v.
func (s *Store) intents(ctx context.Context, column, dao, v string) ([]schemas.PayoutIntent, error) {
	out, err := s.queryIntents(ctx, `WHERE dao = ? AND `+column+` = ?`, dao, v)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read intents %s %s: %w", dao, v, err)
	}
	return out, nil
}

// queryIntents reads the intents payout_intents holds where (a WHERE
// clause with its args), by id.
func (s *Store) queryIntents(ctx context.Context, where string, args ...any) ([]schemas.PayoutIntent, error) {
	rows, err := s.conn.Query(ctx, `SELECT intent_id, dao, period, pool_id, recipient, role, amount_e8s, fee_e8s,
		memo_hex, created_at_nanos, manifest_sha256 FROM payout_intents FINAL `+where+` ORDER BY intent_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []schemas.PayoutIntent
	for rows.Next() {
		var p schemas.PayoutIntent
		if err := rows.Scan(&p.IntentID, &p.DAO, &p.Period, &p.PoolID, &p.Recipient, &p.Role, &p.AmountE8s,
			&p.FeeE8s, &p.MemoHex, &p.CreatedAtNanos, &p.ManifestSHA256); err != nil {
			return nil, fmt.Errorf("scan intent: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PoolTransfers returns the lifecycle transfers of one pool as the sink
// stored them (raw_pool_transfers_v1, schemas/clickhouse/0006), each
// decoded strictly; a record delivered twice is returned twice.
func (s *Store) PoolTransfers(ctx context.Context, dao, pool string) ([]schemas.PoolTransfer, error) {
	out, err := queryPayloads[schemas.PoolTransfer](ctx, s, schemas.TypePoolTransfer,
		`SELECT payload FROM raw_pool_transfers_v1 WHERE dao = ? AND pool_id = ? ORDER BY seq, topic, partition, offset`, dao, pool)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: lifecycle transfers of %s %s: %w", dao, pool, err)
	}
	return out, nil
}

// Results returns the latest recorded result of each intent of one DAO
// period, by intent id.
func (s *Store) Results(ctx context.Context, dao, period string) (map[string]schemas.PayoutResult, error) {
	rows, err := s.conn.Query(ctx, `SELECT r.intent_id, r.status, r.block_index, r.duplicate, r.verified_by, r.error,
		r.amount_e8s, r.recipient FROM payout_results AS r FINAL
		WHERE r.intent_id IN (SELECT intent_id FROM payout_intents FINAL WHERE dao = ? AND period = ?)`, dao, period)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read results %s %s: %w", dao, period, err)
	}
	defer rows.Close()
	out := map[string]schemas.PayoutResult{}
	for rows.Next() {
		var r schemas.PayoutResult
		if err := rows.Scan(&r.IntentID, &r.Status, &r.BlockIndex, &r.Duplicate, &r.VerifiedBy, &r.Error,
			&r.AmountE8s, &r.Recipient); err != nil {
			return nil, fmt.Errorf("clickhouse: scan result: %w", err)
		}
		out[r.IntentID] = r
	}
	return out, rows.Err()
}
