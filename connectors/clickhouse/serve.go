package clickhouse

import (
	"context"
	"errors"
	"fmt"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// OpenReadOnly connects to an existing database for reading only (the
// store of `nodeshare serve`, docs/serve.md): it creates nothing, and
// every query of the pool runs with ClickHouse's readonly setting. A
// user whose profile is already read-only keeps its setting; any other
// user's sessions are made readonly = 2 (reads only; settings such as
// the max_execution_time clickhouse-go derives from a context deadline
// may still be set, readonly itself may not). Give serve a read-only
// user all the same: this guards against a mistake, not an attacker
// holding the password. Like Open, it waits for a server that is
// starting.
func OpenReadOnly(ctx context.Context, cfg Config) (*Store, error) {
	return dial(ctx, cfg, openReadOnly)
}

func openReadOnly(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := options(cfg, cfg.Database)
	conn, readonly, err := openSession(ctx, opts)
	if err == nil && readonly == 0 {
		conn.Close()
		opts.Settings = ch.Settings{"readonly": 2}
		if conn, readonly, err = openSession(ctx, opts); err == nil && readonly == 0 {
			conn.Close()
			err = errors.New("the session is still writable with readonly = 2")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: database %s as %s, read-only: %w", cfg.Addr, cfg.Database, opts.Auth.Username, err)
	}
	return &Store{conn: retryingConn{conn}, db: cfg.Database}, nil
}

// openSession opens a pool with opts and reads its sessions' readonly
// setting (0: the session may write).
func openSession(ctx context.Context, opts *ch.Options) (driver.Conn, uint8, error) {
	conn, err := ch.Open(opts)
	if err != nil {
		return nil, 0, err
	}
	var readonly uint8
	if err := conn.QueryRow(ctx, `SELECT toUInt8(getSetting('readonly'))`).Scan(&readonly); err != nil {
		conn.Close()
		return nil, 0, err
	}
	return conn, readonly, nil
}
