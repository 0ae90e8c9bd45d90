package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Config says where the audit trail lives.
type Config struct {
	Addr     string // host:port of the native protocol, e.g. 127.0.0.1:19000
	Database string // created when missing
	Username string
	Password string
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the config before anything connects.
func (c Config) Validate() error {
	if c.Addr == "" {
		return errors.New("clickhouse: addr is empty (set NODESHARE_CLICKHOUSE_ADDR)")
	}
	if !identRe.MatchString(c.Database) {
		return fmt.Errorf("clickhouse: database must be an identifier, got %q (NODESHARE_CLICKHOUSE_DATABASE)", c.Database)
	}
	return nil
}

// Store is a connection pool to one database.
type Store struct {
	conn driver.Conn
	db   string
}

// Open connects, creates the database if missing and pings it. A server
// that is (re)starting is waited for: connection errors are retried for up
// to 30 seconds.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := open(ctx, cfg)
		if err == nil || !isConnError(err) || time.Now().After(deadline) {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// isConnError reports a failure to reach the server (refused, reset,
// closed), as opposed to a query or configuration error.
func isConnError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe")
}

func open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	user := cfg.Username
	if user == "" {
		user = "default"
	}
	opts := &ch.Options{
		Addr:         []string{cfg.Addr},
		Auth:         ch.Auth{Database: "default", Username: user, Password: cfg.Password},
		DialTimeout:  10 * time.Second,
		ReadTimeout:  5 * time.Minute,
		MaxOpenConns: 10,
		MaxIdleConns: 5,
	}
	boot, err := ch.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: open: %w", cfg.Addr, err)
	}
	if err := boot.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+cfg.Database); err != nil {
		boot.Close()
		return nil, fmt.Errorf("clickhouse %s: create database %s: %w", cfg.Addr, cfg.Database, err)
	}
	boot.Close()
	opts.Auth.Database = cfg.Database
	conn, err := ch.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: open %s: %w", cfg.Addr, cfg.Database, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse %s: ping: %w", cfg.Addr, err)
	}
	return &Store{conn: conn, db: cfg.Database}, nil
}

// Conn exposes the driver for read-only audit queries and tests.
func (s *Store) Conn() driver.Conn { return s.conn }

// Database is the database name.
func (s *Store) Database() string { return s.db }

// Close closes the pool.
func (s *Store) Close() error { return s.conn.Close() }

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
// the same batch (same token) is a no-op (PITFALLS C5). fill appends the
// data; the batch is always closed (C1) and Send is called once (C3).
func (s *Store) send(ctx context.Context, table, token string, fill func(driver.Batch) error) error {
	settings := ch.Settings{"insert_deduplicate": 1}
	if token != "" {
		settings["insert_deduplication_token"] = token
	}
	bctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	bctx = ch.Context(bctx, ch.WithSettings(settings))
	batch, err := s.conn.PrepareBatch(bctx, "INSERT INTO "+table)
	if err != nil {
		return fmt.Errorf("clickhouse: prepare insert into %s: %w", table, err)
	}
	defer batch.Close()
	if err := fill(batch); err != nil {
		return fmt.Errorf("clickhouse: insert into %s: %w", table, err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhouse: insert into %s (outcome unknown, safe to retry with the same token): %w", table, err)
	}
	return nil
}
