package main

import (
	"fmt"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
)

// migrateCmd applies the embedded ClickHouse migrations that are not yet
// applied.
type migrateCmd struct {
	clickhouseFlags
}

func (c *migrateCmd) Validate() error { return c.clickhouseFlags.Validate() }

func (c *migrateCmd) Run(e env) error {
	store, err := clickhouse.Open(e.ctx, c.clickhouseFlags.config())
	if err != nil {
		return err
	}
	defer store.Close()
	done, err := store.Migrate(e.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "migrate: database %s up to date (%d applied now: %v)\n", store.Database(), len(done), done)
	return nil
}
