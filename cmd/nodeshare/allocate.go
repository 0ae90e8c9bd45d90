package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/nodeshare/nodeshare/pipeline/allocation"
)

// allocateCmd is `nodeshare allocate`. --rules picks the rules version and
// with it the input document's shape (v1's "hoster", v2's "hosters"); it is
// checked against the registry before anything is read. The whole output
// is built in memory and written only after everything succeeded, so a
// failure never leaves a partial document on stdout. Invalid input exits 1
// with the reason on stderr and nothing on stdout; bad flags exit 2.
type allocateCmd struct {
	In      string `name:"in" required:"" placeholder:"FILE|-" help:"The input document (docs/allocation-rules.md, \"The nodeshare allocate contract\"); - reads standard input."`
	Rules   string `name:"rules" default:"v1" help:"The allocation rules version: v1 (one hoster) or v2 (hoster engagements within the period: \"hosters\", \"period_start\" and \"period_end\" instead of \"hoster\")."`
	Explain bool   `name:"explain" help:"Print a plain-words statement per recipient instead of JSON."`
}

// allocateConfig is what allocate reads.
type allocateConfig struct {
	In      string
	Rules   string
	Explain bool
}

func (c *allocateCmd) Validate() error {
	if _, err := allocation.Lookup(c.Rules); err != nil {
		return fmt.Errorf("--rules: %w", err)
	}
	return nil
}

func (c *allocateCmd) Run(e env) error {
	out, err := allocate(e.ctx, allocateConfig{In: c.In, Rules: c.Rules, Explain: c.Explain}, e.stdin)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(out)
	return err
}

func allocate(ctx context.Context, cfg allocateConfig, stdin io.Reader) ([]byte, error) {
	r, closeIn, err := openInput(cfg.In, stdin)
	if err != nil {
		return nil, err
	}
	defer closeIn()
	return allocation.RunContract(r, cfg.Rules, cfg.Explain)
}

// openInput opens --in: a file, or standard input for "-".
func openInput(path string, stdin io.Reader) (io.Reader, func(), error) {
	if path == "-" {
		return stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--in: %w", err)
	}
	return f, func() { f.Close() }, nil
}
