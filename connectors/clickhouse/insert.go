package clickhouse

import (
	"context"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// insertTimeout bounds one INSERT batch, from prepare to the server's
// acknowledgement: the sink's largest insert (12,500 raw rows of up to a
// few MB each) fits well inside it. It is the one insert timeout of the
// package: every Insert* method and InsertRow go through send.
const insertTimeout = 2 * time.Minute

// InsertRow appends one row to table (columns in the table's order, as
// clickhouse-go appends them) with a de-duplication token: sending the same
// row again with the same token is a no-op. It is the insert for tables
// that have no Insert* method of their own (the payout run's manifests,
// attempts and approvals). It does not retry: the caller's stage does
// (retry.Do with retry.Always: every failure of a tokened insert is safe
// to repeat).
func (s *Store) InsertRow(ctx context.Context, table, token string, row []any) error {
	return s.insert(ctx, table, token, [][]any{row})
}

// insertColumns is insert with whole columns (each a slice of the column's
// Go type, all of one length).
func (s *Store) insertColumns(ctx context.Context, table, token string, cols []any) error {
	return s.send(ctx, table, token, func(batch driver.Batch) error {
		for i, c := range cols {
			if err := batch.Column(i).Append(c); err != nil {
				return fmt.Errorf("column %d: %w", i, err)
			}
		}
		return nil
	})
}

// insert appends rows to table in one batch.
func (s *Store) insert(ctx context.Context, table, token string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	return s.send(ctx, table, token, func(batch driver.Batch) error {
		for i, r := range rows {
			if err := batch.Append(r...); err != nil {
				return fmt.Errorf("row %d: %w", i, err)
			}
		}
		return nil
	})
}

// send runs one INSERT batch with a de-duplication token, so that resending
// the same batch (same token) is a no-op (docs/pitfalls.md C5). fill appends the
// data; the batch is always closed (C1) and Send is called once (C3). This
// is the package's one insert path.
func (s *Store) send(ctx context.Context, table, token string, fill func(driver.Batch) error) error {
	settings := ch.Settings{"insert_deduplicate": 1}
	if token != "" {
		settings["insert_deduplication_token"] = token
	}
	bctx, cancel := context.WithTimeout(ctx, insertTimeout)
	defer cancel()
	bctx = ch.Context(bctx, ch.WithSettings(settings))
	batch, err := s.conn.PrepareBatch(bctx, "INSERT INTO "+table)
	if err != nil {
		return markOutage(ctx, fmt.Errorf("clickhouse: prepare insert into %s: %w", table, err))
	}
	defer batch.Close()
	if err := fill(batch); err != nil {
		return fmt.Errorf("clickhouse: insert into %s: %w", table, err)
	}
	if err := batch.Send(); err != nil {
		return markOutage(ctx, fmt.Errorf("clickhouse: insert into %s (outcome unknown, safe to retry with the same token): %w", table, err))
	}
	return nil
}
