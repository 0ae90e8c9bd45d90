package clickhouse

import (
	"context"
	"fmt"

	"github.com/nodeshare/nodeshare/pipeline/audit"
	"github.com/nodeshare/nodeshare/schemas"
)

// RawRows returns every raw row, sorted by (topic, partition, offset).
func (s *Store) RawRows(ctx context.Context) ([]audit.Row, error) {
	rows, err := s.conn.Query(ctx, `SELECT topic, toInt64(partition), toInt64(offset), key, event_id, event_type,
		toInt64(schema_version), provenance, payload, prev_hash, row_hash, kafka_time
		FROM events_raw FINAL ORDER BY topic, partition, offset`)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read events_raw: %w", err)
	}
	defer rows.Close()
	var out []audit.Row
	for rows.Next() {
		var r audit.Row
		var part, off, ver int64
		if err := rows.Scan(&r.Topic, &part, &off, &r.Key, &r.EventID, &r.EventType, &ver, &r.Provenance, &r.Payload,
			&r.PrevHash, &r.RowHash, &r.KafkaTime); err != nil {
			return nil, fmt.Errorf("clickhouse: scan events_raw: %w", err)
		}
		r.Partition, r.Offset, r.SchemaVersion = int(part), off, int(ver)
		out = append(out, r)
	}
	return out, rows.Err()
}

// CheckDecisionTable compares every row of the entitlements table with the
// raw record it was derived from (same Kafka coordinates).
func (s *Store) CheckDecisionTable(ctx context.Context) (int, []audit.Finding, error) {
	rows, err := s.conn.Query(ctx, `SELECT e.dao, e.period, e.pool_id, e.recipient, e.role, e.rules_version, e.stake_e8s,
		e.share_e8s, e.carry_in_e8s, e.owed_e8s, e.transfer_e8s, e.fee_e8s, e.carry_out_e8s, e.manifest_sha256, e.explanation,
		toInt64(e.kafka_partition), toInt64(e.kafka_offset), r.payload, r.topic
		FROM (SELECT * FROM entitlements FINAL) AS e
		LEFT JOIN (SELECT topic, partition, offset, event_id, payload FROM events_raw FINAL WHERE event_type = 'entitlement') AS r
		  ON r.event_id = e.event_id AND r.partition = e.kafka_partition AND r.offset = e.kafka_offset`)
	if err != nil {
		return 0, nil, fmt.Errorf("clickhouse: read entitlements for audit: %w", err)
	}
	defer rows.Close()
	n := 0
	var findings []audit.Finding
	for rows.Next() {
		var e schemas.Entitlement
		var part, off int64
		var payload, topic string
		if err := rows.Scan(&e.DAO, &e.Period, &e.PoolID, &e.Recipient, &e.Role, &e.RulesVersion, &e.StakeE8s, &e.ShareE8s,
			&e.CarryInE8s, &e.OwedE8s, &e.TransferE8s, &e.FeeE8s, &e.CarryOutE8s, &e.ManifestSHA256, &e.Explanation,
			&part, &off, &payload, &topic); err != nil {
			return n, findings, fmt.Errorf("clickhouse: scan entitlement: %w", err)
		}
		n++
		where := fmt.Sprintf("entitlements %s %s %s %s %s", e.DAO, e.Period, e.PoolID, e.Role, e.Recipient)
		if payload == "" {
			findings = append(findings, audit.Finding{Check: "decision-table", Where: where, Detail: fmt.Sprintf("no raw record at partition %d offset %d", part, off)})
			continue
		}
		env := schemas.Envelope{Type: schemas.TypeEntitlement, EventID: where, Payload: []byte(payload)}
		var raw schemas.Entitlement
		if err := env.DecodePayload(schemas.TypeEntitlement, &raw); err != nil || raw != e {
			findings = append(findings, audit.Finding{Check: "decision-table", Where: where,
				Detail: "row differs from its raw record", Expected: fmt.Sprintf("%+v", raw), Found: fmt.Sprintf("%+v", e)})
		}
	}
	return n, findings, rows.Err()
}

// CheckTotals recomputes the conservation of every pool period and the
// payout totals independently, in ClickHouse SQL.
func (s *Store) CheckTotals(ctx context.Context) ([]audit.Finding, error) {
	var findings []audit.Finding
	rows, err := s.conn.Query(ctx, `SELECT p.dao, p.period, p.pool_id, p.gross_e8s, p.hoster_fee_e8s, p.dao_fee_e8s,
		s.shares, s.hoster, toInt64(s.bad)
		FROM (SELECT * FROM pool_periods FINAL) AS p
		LEFT JOIN (SELECT dao, period, pool_id, sumIf(share_e8s, role = 'sponsor') AS shares,
		                  sumIf(share_e8s, role = 'hoster' OR startsWith(role, 'hoster#')) AS hoster,
		                  countIf(owed_e8s != transfer_e8s + fee_e8s + carry_out_e8s OR owed_e8s != share_e8s + carry_in_e8s) AS bad
		           FROM entitlements FINAL GROUP BY dao, period, pool_id) AS s
		  ON s.dao = p.dao AND s.period = p.period AND s.pool_id = p.pool_id
		WHERE p.gross_e8s != p.hoster_fee_e8s + p.dao_fee_e8s + s.shares OR s.hoster != p.hoster_fee_e8s OR s.bad > 0`)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: conservation query: %w", err)
	}
	for rows.Next() {
		var dao, period, pool string
		var g, h, d, shares, hoster, bad int64
		if err := rows.Scan(&dao, &period, &pool, &g, &h, &d, &shares, &hoster, &bad); err != nil {
			rows.Close()
			return nil, err
		}
		findings = append(findings, audit.Finding{Check: "totals", Where: fmt.Sprintf("pool_periods %s %s %s", dao, period, pool),
			Detail: fmt.Sprintf("gross %d vs hoster %d + dao %d + shares %d; hoster entitlement %d; %d recipients whose owed does not add up", g, h, d, shares, hoster, bad)})
	}
	rows.Close()
	rows, err = s.conn.Query(ctx, `SELECT i.dao, i.period, i.intents, e.transfers, toInt64(r.mismatched)
		FROM (SELECT dao, period, sum(amount_e8s) AS intents FROM payout_intents FINAL
		      WHERE NOT startsWith(period, 'lifecycle:') GROUP BY dao, period) AS i
		LEFT JOIN (SELECT dao, period, sum(transfer_e8s) AS transfers FROM entitlements FINAL GROUP BY dao, period) AS e
		  ON e.dao = i.dao AND e.period = i.period
		LEFT JOIN (SELECT pi.dao AS dao, pi.period AS period, countIf(pr.amount_e8s != pi.amount_e8s) AS mismatched
		           FROM (SELECT * FROM payout_intents FINAL) AS pi
		           JOIN (SELECT * FROM payout_results FINAL) AS pr ON pr.intent_id = pi.intent_id
		           GROUP BY pi.dao, pi.period) AS r ON r.dao = i.dao AND r.period = i.period
		WHERE i.intents != e.transfers OR r.mismatched > 0`)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: payout totals query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var dao, period string
		var intents, transfers, mismatched int64
		if err := rows.Scan(&dao, &period, &intents, &transfers, &mismatched); err != nil {
			return nil, err
		}
		findings = append(findings, audit.Finding{Check: "totals", Where: fmt.Sprintf("payout_intents %s %s", dao, period),
			Detail: fmt.Sprintf("intents total %d e8s, entitled transfers %d e8s, %d results whose amount differs from the intent", intents, transfers, mismatched)})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return s.lifecycleIntentFindings(ctx, findings)
}

// lifecycleIntentFindings checks every intent of a lifecycle manifest
// against the pool transfer it pays (pipeline/payout/lifecycle.go: the
// intent id is SHA-256 of "nodeshare/lifecycle-intent/v1", dao, pool and
// seq, zero-separated): the transfer must be on dao.pool-lifecycle.v1 with
// the same recipient and amount.
func (s *Store) lifecycleIntentFindings(ctx context.Context, findings []audit.Finding) ([]audit.Finding, error) {
	rows, err := s.conn.Query(ctx, `SELECT i.dao, i.period, i.intent_id, i.recipient, i.amount_e8s, t.intent_id, t.to_account, t.transfer_e8s
		FROM (SELECT * FROM payout_intents FINAL WHERE startsWith(period, 'lifecycle:')) AS i
		LEFT JOIN (SELECT lower(hex(SHA256(concat('nodeshare/lifecycle-intent/v1', char(0), dao, char(0), pool_id, char(0), toString(seq))))) AS intent_id,
		                  any(to_account) AS to_account, any(transfer_e8s) AS transfer_e8s
		           FROM raw_pool_transfers_v1 GROUP BY dao, pool_id, seq) AS t ON t.intent_id = i.intent_id
		WHERE t.intent_id = '' OR t.to_account != i.recipient OR t.transfer_e8s != i.amount_e8s`)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: lifecycle intents query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var dao, period, id, recipient, tid, to string
		var amount, transfer int64
		if err := rows.Scan(&dao, &period, &id, &recipient, &amount, &tid, &to, &transfer); err != nil {
			return nil, err
		}
		detail := fmt.Sprintf("intent %s pays %d e8s to %s, the lifecycle transfer says %d e8s to %s", id, amount, recipient, transfer, to)
		if tid == "" {
			detail = fmt.Sprintf("intent %s pays %d e8s to %s, and no lifecycle transfer has its id", id, amount, recipient)
		}
		findings = append(findings, audit.Finding{Check: "totals", Where: fmt.Sprintf("payout_intents %s %s", dao, period), Detail: detail})
	}
	return findings, rows.Err()
}

// compareWithRaw adds a payout-table finding when row has no raw record
// under key (missing) or differs from it (differs).
func compareWithRaw[T comparable](findings []audit.Finding, where string, row T, raw map[string]T, key, missing, differs string) []audit.Finding {
	r, ok := raw[key]
	switch {
	case !ok:
		return append(findings, audit.Finding{Check: "payout-table", Where: where, Detail: missing})
	case r != row:
		return append(findings, audit.Finding{Check: "payout-table", Where: where, Detail: differs,
			Expected: fmt.Sprintf("%+v", r), Found: fmt.Sprintf("%+v", row)})
	}
	return findings
}

// CheckPayoutTables compares the payout tables with their raw records (an
// edited table row is otherwise invisible: the raw rows still chain): each
// intent row with its intent record on dao.payout-intents.v1, each result
// row with the latest result record of its intent on
// dao.payout-results.v1. It returns how many rows it checked.
func (s *Store) CheckPayoutTables(ctx context.Context) (int, []audit.Finding, error) {
	var findings []audit.Finding
	n := 0
	intents, err := s.queryIntents(ctx, "")
	if err != nil {
		return 0, nil, fmt.Errorf("clickhouse: read intents for audit: %w", err)
	}
	raw, err := latestPayloads[schemas.PayoutIntent](ctx, s, schemas.TypePayoutIntent)
	if err != nil {
		return 0, nil, err
	}
	for _, in := range intents {
		n++
		findings = compareWithRaw(findings, fmt.Sprintf("payout_intents %s %s %s", in.DAO, in.Period, in.IntentID), in, raw, in.IntentID,
			"no raw intent record with this id", "row differs from its raw record")
	}
	results, err := s.conn.Query(ctx, `SELECT intent_id, status, block_index, duplicate, verified_by, error, amount_e8s, recipient FROM payout_results FINAL`)
	if err != nil {
		return n, nil, fmt.Errorf("clickhouse: read results for audit: %w", err)
	}
	defer results.Close()
	rawResults, err := latestPayloads[schemas.PayoutResult](ctx, s, schemas.TypePayoutResult)
	if err != nil {
		return n, nil, err
	}
	for results.Next() {
		var r schemas.PayoutResult
		if err := results.Scan(&r.IntentID, &r.Status, &r.BlockIndex, &r.Duplicate, &r.VerifiedBy, &r.Error, &r.AmountE8s, &r.Recipient); err != nil {
			return n, nil, err
		}
		n++
		findings = compareWithRaw(findings, "payout_results "+r.IntentID, r, rawResults, r.IntentID,
			"no raw result record for this intent", "row differs from its latest raw record")
	}
	return n, findings, results.Err()
}

// latestPayloads decodes the latest raw record (by offset) of each key of
// event type typ.
func latestPayloads[T any](ctx context.Context, s *Store, typ string) (map[string]T, error) {
	rows, err := s.conn.Query(ctx, `SELECT key, argMax(payload, offset) FROM events_raw FINAL WHERE event_type = ? GROUP BY key`, typ)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read raw %s records: %w", typ, err)
	}
	defer rows.Close()
	out := map[string]T{}
	for rows.Next() {
		var key, payload string
		if err := rows.Scan(&key, &payload); err != nil {
			return nil, err
		}
		env := schemas.Envelope{SchemaVersion: schemas.SchemaVersion, Type: typ, Payload: []byte(payload)}
		var v T
		if err := env.DecodePayload(typ, &v); err != nil {
			return nil, fmt.Errorf("clickhouse: raw %s %s: %w", typ, key, err)
		}
		out[key] = v
	}
	return out, rows.Err()
}
