package clickhouse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
)

// Config says where the audit trail lives and how to log in.
type Config struct {
	Addr     string // host:port of the native protocol, e.g. 127.0.0.1:19000
	Database string // created when missing
	Username string // default "default"
	Password string // never logged (String leaves it out)
	// TLS, when set, connects to the secure native port (tcp_port_secure)
	// and checks the server's certificate with it.
	TLS *tls.Config
}

// String names the server, database, user and TLS, never the password.
func (c Config) String() string {
	s := fmt.Sprintf("%s/%s user %s", c.Addr, c.Database, c.user())
	if c.TLS != nil {
		s += " tls"
	}
	if c.Password != "" {
		s += " password set"
	}
	return s
}

// GoString keeps %#v from printing the password.
func (c Config) GoString() string { return "clickhouse.Config(" + c.String() + ")" }

func (c Config) user() string {
	if c.Username == "" {
		return "default"
	}
	return c.Username
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
	s, err := dial(ctx, cfg, open)
	return s, markOutage(ctx, err)
}

// dial opens a store with open, waiting for a server that is starting.
func dial(ctx context.Context, cfg Config, open func(context.Context, Config) (*Store, error)) (*Store, error) {
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

// retryingConn rides out a server restart under every query and
// statement: a connection error, or a server that says it is shutting
// down, is tried again (readPolicy); the reads are idempotent, and so is
// every statement the store runs (tokened inserts, IF NOT EXISTS DDL).
// Rows already being read are not retried: their error is the caller's.
type retryingConn struct{ driver.Conn }

// readPolicy: waits from 0.25 s to 4 s, 9 tries (about 20 s in all), only
// while the server is unreachable or restarting.
var readPolicy = retry.Policy{Tries: 9, Initial: 250 * time.Millisecond, Max: 4 * time.Second,
	Classify: func(err error) retry.Class {
		if isConnError(err) || isShuttingDown(err) {
			return retry.Transient
		}
		return retry.Fatal
	}}

func (c retryingConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	var rows driver.Rows
	err := retry.Do(ctx, readPolicy, func(ctx context.Context) error {
		var err error
		rows, err = c.Conn.Query(ctx, query, args...)
		return err
	})
	return rows, markOutage(ctx, err)
}

func (c retryingConn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	var row driver.Row
	_ = retry.Do(ctx, readPolicy, func(ctx context.Context) error {
		row = c.Conn.QueryRow(ctx, query, args...)
		return row.Err()
	})
	return row
}

func (c retryingConn) Select(ctx context.Context, dest any, query string, args ...any) error {
	return markOutage(ctx, retry.Do(ctx, readPolicy, func(ctx context.Context) error { return c.Conn.Select(ctx, dest, query, args...) }))
}

func (c retryingConn) Exec(ctx context.Context, query string, args ...any) error {
	return markOutage(ctx, retry.Do(ctx, readPolicy, func(ctx context.Context) error { return c.Conn.Exec(ctx, query, args...) }))
}

// isShuttingDown reports the server's answer while it stops (exception
// 236, ABORTED: "The server is shutting down"): it is about to come back.
func isShuttingDown(err error) bool {
	var ex *ch.Exception
	if errors.As(err, &ex) && ex.Code == 236 {
		return true
	}
	return strings.Contains(err.Error(), "server is shutting down")
}

// markOutage marks err transient when the server is away rather than the
// request wrong: a connection error, the server shutting down, or this
// package's own timeout expiring while the caller's ctx lives. A daemon
// (the sink) then waits for the server and carries on
// (retry.Supervise); a refused query keeps its class and stops it.
func markOutage(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	if retry.IsTLSFailure(err) { // a setting to fix, though it travels as a connection error
		return retry.MarkFatal(err)
	}
	if isConnError(err) || isShuttingDown(err) || errors.Is(err, context.DeadlineExceeded) {
		return retry.MarkTransient(err)
	}
	return err
}

// isConnError reports a failure to reach the server (refused, reset,
// closed), as opposed to a query or configuration error.
func isConnError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || retry.IsConnectionError(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe")
}

func open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := options(cfg, "default")
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
	return &Store{conn: retryingConn{conn}, db: cfg.Database}, nil
}

// options are the pool's options for cfg, connected to database.
func options(cfg Config, database string) *ch.Options {
	return &ch.Options{
		Addr:         []string{cfg.Addr},
		Auth:         ch.Auth{Database: database, Username: cfg.user(), Password: cfg.Password},
		TLS:          cfg.TLS,
		DialTimeout:  10 * time.Second,
		ReadTimeout:  5 * time.Minute,
		MaxOpenConns: 10,
		MaxIdleConns: 5,
	}
}

// Conn exposes the driver for read-only audit queries and tests.
func (s *Store) Conn() driver.Conn { return s.conn }

// Database is the database name.
func (s *Store) Database() string { return s.db }

// Close closes the pool.
func (s *Store) Close() error { return s.conn.Close() }
