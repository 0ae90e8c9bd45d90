package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nodeshare/nodeshare/pipeline/allocation"
)

const allocateUsage = `usage: nodeshare allocate --in FILE|- [--rules v1] [--explain]

Computes one pool's period from a JSON input (docs/ALLOCATION_RULES.md, "The
nodeshare allocate contract") and prints one JSON object with the payouts and
their manifest_sha256. Nothing is paid.

Flags:
  --in FILE|-   the input document; "-" reads standard input (required)
  --rules NAME  the allocation rules version (default v1, the version this
                contract describes; known: %s)
  --explain     print a plain-words statement per recipient instead of JSON

Invalid input exits 1 with the reason on stderr and nothing on stdout; bad
flags exit 2. See docs/allocation.md for the documented choices.
`

// allocateConfig is the parsed command line of `nodeshare allocate`.
type allocateConfig struct {
	In      string
	Rules   string
	Explain bool
}

func (c allocateConfig) Validate() error {
	if c.In == "" {
		return errors.New("--in is required (a file name, or - for standard input)")
	}
	if c.Rules == "" {
		return errors.New("--rules must name a rules version")
	}
	return nil
}

// runAllocate is `nodeshare allocate`. The whole output is built in memory
// and written only after everything succeeded, so a failure never leaves a
// partial document on stdout.
func runAllocate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var cfg allocateConfig
	fs := flag.NewFlagSet("allocate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.In, "in", "", "input file or -")
	fs.StringVar(&cfg.Rules, "rules", "v1", "rules version")
	fs.BoolVar(&cfg.Explain, "explain", false, "explain instead of JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, allocateUsage, strings.Join(allocation.Versions(), ", "))
			return 0
		}
		fmt.Fprintf(stderr, "nodeshare allocate: %v (run nodeshare allocate --help)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nodeshare allocate: unexpected argument %q (run nodeshare allocate --help)\n", fs.Arg(0))
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "nodeshare allocate: %v (run nodeshare allocate --help)\n", err)
		return 2
	}
	if _, err := allocation.Lookup(cfg.Rules); err != nil {
		fmt.Fprintf(stderr, "nodeshare allocate: --rules: %v\n", err)
		return 2
	}

	out, err := allocate(ctx, cfg, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "nodeshare allocate: %v\n", err)
		return 1
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "nodeshare allocate: writing output: %v\n", err)
		return 1
	}
	return 0
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
