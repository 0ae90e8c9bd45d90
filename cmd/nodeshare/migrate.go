package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
)

func runMigrate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	cfg.register(fs, "clickhouse")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nodeshare migrate [flags]\n\nApplies the embedded ClickHouse migrations that are not yet applied.\n\nflags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if err := cfg.validate("clickhouse"); err != nil {
		fmt.Fprintf(stderr, "migrate: %v\n", err)
		return 2
	}
	store, err := clickhouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		fmt.Fprintf(stderr, "migrate: %v\n", err)
		return 1
	}
	defer store.Close()
	done, err := store.Migrate(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "migrate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "migrate: database %s up to date (%d applied now: %v)\n", store.Database(), len(done), done)
	return 0
}
