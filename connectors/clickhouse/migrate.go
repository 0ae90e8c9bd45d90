package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// Migrate applies every embedded migration that is not yet recorded, in
// order, and returns the versions it applied. An applied migration whose
// file changed since is an error: migrations are append-only.
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	if err := s.conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version UInt32, name String, sha256 String, applied_at DateTime64(3, 'UTC')
	) ENGINE = ReplacingMergeTree ORDER BY version`); err != nil {
		return nil, fmt.Errorf("clickhouse: create schema_migrations: %w", err)
	}
	migs, err := schemas.Migrations()
	if err != nil {
		return nil, err
	}
	applied := map[int]string{}
	rows, err := s.conn.Query(ctx, "SELECT toInt64(version), sha256 FROM schema_migrations FINAL")
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int64
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			rows.Close()
			return nil, fmt.Errorf("clickhouse: scan schema_migrations: %w", err)
		}
		applied[int(v)] = sum
	}
	rows.Close()
	var done []int
	for _, m := range migs {
		if sum, ok := applied[m.Version]; ok {
			if sum != m.SHA256 {
				return nil, fmt.Errorf("clickhouse: migration %s was applied with sha256 %s but the file now hashes to %s: add a new migration instead of editing it", m.Name, sum, m.SHA256)
			}
			continue
		}
		for i, stmt := range m.Statements {
			if err := s.conn.Exec(ctx, stmt); err != nil {
				return done, fmt.Errorf("clickhouse: migration %s statement %d: %w", m.Name, i+1, err)
			}
		}
		if err := s.conn.Exec(ctx, "INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
			uint32(m.Version), m.Name, m.SHA256, time.Now().UTC()); err != nil {
			return done, fmt.Errorf("clickhouse: record migration %s: %w", m.Name, err)
		}
		done = append(done, m.Version)
	}
	return done, nil
}
