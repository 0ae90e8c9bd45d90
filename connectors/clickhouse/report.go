package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/reconcile"
	"github.com/nodeshare/nodeshare/schemas"
)

// What the report stage (pipeline/stage/report.Store) reads and writes:
// the manifests of a DAO, the ledger blocks of an account, the CMC rates
// and the fiat prices, all as the sink stored them; and the
// reconciliations.

// Manifests returns every stored manifest header of dao, by period.
func (s *Store) Manifests(ctx context.Context, dao string) ([]schemas.PayoutManifest, error) {
	rows, err := s.conn.Query(ctx, `SELECT period FROM payout_manifests FINAL WHERE dao = ? ORDER BY period`, dao)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read manifests of %s: %w", dao, err)
	}
	var periods []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, err
		}
		periods = append(periods, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]schemas.PayoutManifest, 0, len(periods))
	for _, p := range periods {
		h, err := s.Manifest(ctx, dao, p)
		if err != nil {
			return nil, err
		}
		if h != nil {
			out = append(out, *h)
		}
	}
	return out, nil
}

// AccountBlocks returns the ledger blocks from or to an account (64 hex)
// that the connector published (raw_ledger_blocks_v1), once each, in
// index order.
func (s *Store) AccountBlocks(ctx context.Context, accountID string) ([]schemas.LedgerBlock, error) {
	out, err := queryPayloads[schemas.LedgerBlock](ctx, s, schemas.TypeLedgerBlock, `SELECT any(payload) FROM events_raw FINAL
		WHERE event_type = 'ledger_block' AND (JSONExtractString(payload, 'from') = ? OR JSONExtractString(payload, 'to') = ?)
		GROUP BY JSONExtractString(payload, 'ledger'), JSONExtractUInt(payload, 'index')`, accountID, accountID)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: the blocks of %s: %w", accountID, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}

// LedgerCursor is the highest next index the connector has scanned the
// ledger to (0 when it has not run).
func (s *Store) LedgerCursor(ctx context.Context) (uint64, error) {
	var next uint64
	err := s.conn.QueryRow(ctx, `SELECT max(JSONExtractUInt(payload, 'next_index')) FROM events_raw FINAL WHERE event_type = 'ledger_cursor'`).Scan(&next)
	if err != nil {
		return 0, fmt.Errorf("clickhouse: read the ledger cursor: %w", err)
	}
	return next, nil
}

// SpotRates returns the CMC's ICP/XDR rates (spot), by time.
func (s *Store) SpotRates(ctx context.Context) ([]schemas.Rate, error) {
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT timestamp_seconds, xdr_permyriad_per_icp FROM raw_icp_xdr_rates_v1
		WHERE kind = 'spot' ORDER BY timestamp_seconds`)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read ICP/XDR rates: %w", err)
	}
	defer rows.Close()
	var out []schemas.Rate
	for rows.Next() {
		r := schemas.Rate{Kind: "spot"}
		var ts uint64
		if err := rows.Scan(&ts, &r.XDRPermyriadPerICP); err != nil {
			return nil, err
		}
		r.TimestampSeconds = ts
		out = append(out, r)
	}
	return out, rows.Err()
}

// FiatPrices returns ICP's prices in currency (lower-case ISO 4217), by
// time (raw_icp_fiat_prices_v1).
func (s *Store) FiatPrices(ctx context.Context, currency string) ([]schemas.FiatPrice, error) {
	out, err := queryPayloads[schemas.FiatPrice](ctx, s, schemas.TypeFiatPrice, `SELECT any(payload) FROM events_raw FINAL
		WHERE event_type = ? AND JSONExtractString(payload, 'currency') = ?
		GROUP BY JSONExtractString(payload, 'source'), JSONExtractUInt(payload, 'timestamp_seconds')`, schemas.TypeFiatPrice, currency)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %s prices: %w", currency, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TimestampSeconds < out[j].TimestampSeconds })
	return out, nil
}

// SaveReconciliation stores one manifest's reconciliation and its
// differences, de-duplicated by dao, period and check time.
func (s *Store) SaveReconciliation(ctx context.Context, r reconcile.Result, manifestSHA256 string, checkedAt time.Time) error {
	token := fmt.Sprintf("reconciliation/%s/%s/%d", r.DAO, r.Period, checkedAt.UnixNano())
	if err := s.insert(ctx, "reconciliations", token, [][]any{{r.DAO, r.Period, manifestSHA256, string(r.State), uint32(r.Intents),
		uint32(r.Matched), uint32(r.Pending), uint32(len(r.Differences)), checkedAt}}); err != nil {
		return fmt.Errorf("clickhouse: store the reconciliation of %s %s: %w", r.DAO, r.Period, err)
	}
	rows := make([][]any, len(r.Differences))
	for i, d := range r.Differences {
		rows[i] = []any{r.DAO, r.Period, checkedAt, uint32(i), string(d.Kind), d.IntentID, d.BlockIndex, d.Expected, d.Actual, d.Detail}
	}
	if err := s.insert(ctx, "reconciliation_differences", token, rows); err != nil {
		return fmt.Errorf("clickhouse: store the differences of %s %s: %w", r.DAO, r.Period, err)
	}
	return nil
}

// queryPayloads runs query, whose one column is a payload the sink stored
// as event type typ, and decodes each strictly as a T.
func queryPayloads[T any](ctx context.Context, s *Store, typ, query string, args ...any) ([]T, error) {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var payload string
		if err := rows.Scan(&payload); err != nil {
			return nil, err
		}
		env := schemas.Envelope{SchemaVersion: schemas.SchemaVersion, Type: typ, Payload: json.RawMessage(payload)}
		var v T
		if err := env.DecodePayload(typ, &v); err != nil {
			return nil, fmt.Errorf("a stored %s: %w", typ, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// EntitlementsOf returns the entitlements of the recipients (the forms an
// account is known by: ICRC-1 text, account identifier) in dao, periods
// within [from, to] ("" is open), without their explanation and manifest
// hash: the statement's read. It goes through entitlements_by_recipient's
// sort key and reads its packed line (schemas/clickhouse/0009); the DAO
// and periods are filtered here, and a key repeated by rows not merged yet
// is kept once (an entitlement never changes).
func (s *Store) EntitlementsOf(ctx context.Context, dao string, recipients []string, from, to string) ([]schemas.Entitlement, error) {
	rows, err := s.conn.Query(ctx, `SELECT line FROM entitlements_by_recipient WHERE recipient IN ?`, recipients)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read the entitlements of %v: %w", recipients, err)
	}
	defer rows.Close()
	var out []schemas.Entitlement
	seen := map[[5]string]bool{}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, fmt.Errorf("clickhouse: scan entitlement: %w", err)
		}
		e, err := unpackEntitlement(line)
		if err != nil {
			return nil, err
		}
		if e.DAO != dao || (from != "" && e.Period < from) || (to != "" && e.Period > to) {
			continue
		}
		k := [5]string{e.DAO, e.Period, e.PoolID, e.Role, e.Recipient}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Period != b.Period {
			return a.Period < b.Period
		}
		if a.PoolID != b.PoolID {
			return a.PoolID < b.PoolID
		}
		if a.Role != b.Role {
			return a.Role < b.Role
		}
		return a.Recipient < b.Recipient
	})
	return out, nil
}

// unpackEntitlement reads a packed line of entitlements_by_recipient.
func unpackEntitlement(line string) (schemas.Entitlement, error) {
	f := strings.Split(line, "\x1f")
	if len(f) != 13 {
		return schemas.Entitlement{}, fmt.Errorf("clickhouse: entitlements_by_recipient line has %d fields, want 13: %q", len(f), line)
	}
	e := schemas.Entitlement{DAO: f[0], Period: f[1], PoolID: f[2], Recipient: f[3], Role: f[4], RulesVersion: f[5]}
	for i, p := range []*int64{&e.StakeE8s, &e.ShareE8s, &e.CarryInE8s, &e.OwedE8s, &e.TransferE8s, &e.FeeE8s, &e.CarryOutE8s} {
		v, err := strconv.ParseInt(f[6+i], 10, 64)
		if err != nil {
			return schemas.Entitlement{}, fmt.Errorf("clickhouse: entitlements_by_recipient line field %d: %w", 6+i, err)
		}
		*p = v
	}
	return e, nil
}

// IntentsByID returns the intents with these ids (payout_intents' sort
// key).
func (s *Store) IntentsByID(ctx context.Context, ids []string) ([]schemas.PayoutIntent, error) {
	out, err := s.queryIntents(ctx, `WHERE intent_id IN ?`, ids)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read intents by id: %w", err)
	}
	return out, nil
}

// ResultsByID returns the latest result of each of these intents.
func (s *Store) ResultsByID(ctx context.Context, ids []string) (map[string]schemas.PayoutResult, error) {
	rows, err := s.conn.Query(ctx, `SELECT intent_id, status, block_index, duplicate, verified_by, error, amount_e8s, recipient
		FROM payout_results FINAL WHERE intent_id IN ?`, ids)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read results by id: %w", err)
	}
	defer rows.Close()
	out := map[string]schemas.PayoutResult{}
	for rows.Next() {
		var r schemas.PayoutResult
		if err := rows.Scan(&r.IntentID, &r.Status, &r.BlockIndex, &r.Duplicate, &r.VerifiedBy, &r.Error, &r.AmountE8s, &r.Recipient); err != nil {
			return nil, fmt.Errorf("clickhouse: scan result: %w", err)
		}
		out[r.IntentID] = r
	}
	return out, rows.Err()
}

// BlocksAt returns the stored ledger blocks with these indexes.
func (s *Store) BlocksAt(ctx context.Context, indexes []uint64) ([]schemas.LedgerBlock, error) {
	out, err := queryPayloads[schemas.LedgerBlock](ctx, s, schemas.TypeLedgerBlock, `SELECT any(payload) FROM events_raw FINAL
		WHERE event_type = 'ledger_block' AND JSONExtractUInt(payload, 'index') IN ?
		GROUP BY JSONExtractString(payload, 'ledger'), JSONExtractUInt(payload, 'index')`, indexes)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read blocks: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}
