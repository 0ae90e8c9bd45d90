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

	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
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
// that is (re)starting is waited for: connection errors are retried
// (retry.Do, about 30 seconds in all); any other error returns at once.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	var s *Store
	err := retry.Do(ctx, openPolicy, func(ctx context.Context) error {
		var err error
		s, err = open(ctx, cfg)
		return err
	})
	return s, err
}

// openPolicy waits for a server that is starting: waits from 0.5 s to 4 s,
// 11 tries (about 30 s), only on connection errors.
var openPolicy = retry.Policy{Tries: 11, Initial: 500 * time.Millisecond, Max: 4 * time.Second,
	Classify: func(err error) retry.Class {
		if isConnError(err) {
			return retry.Transient
		}
		return retry.Fatal
	}}

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
