package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/nodeshare/nodeshare/pipeline/allocation"
)

// allocateCmd is `nodeshare allocate`. The whole output is built in memory
// and written only after everything succeeded, so a failure never leaves a
// partial document on stdout. Invalid input exits 1 with the reason on
// stderr and nothing on stdout; bad flags exit 2.
type allocateCmd struct {
	In      string `name:"in" required:"" placeholder:"FILE|-" help:"The input document (docs/allocation-rules.md, \"The nodeshare allocate contract\"); - reads standard input."`
	Rules   string `name:"rules" default:"v1" help:"The allocation rules version."`
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
	var r io.Reader = stdin
	if cfg.In != "-" {
		f, err := os.Open(cfg.In)
		if err != nil {
			return nil, fmt.Errorf("--in: %w", err)
		}
		defer f.Close()
		r = f
	}
	in, err := allocation.DecodePoolPeriodJSON(r)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res, err := allocation.Allocate(cfg.Rules, in)
	if err != nil {
		return nil, fmt.Errorf("pool %s period %s: %w", in.PoolID, in.Period, err)
	}
	var buf bytes.Buffer
	if cfg.Explain {
		err = allocation.Explain(&buf, res)
	} else {
		err = allocation.EncodeResultJSON(&buf, res)
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
