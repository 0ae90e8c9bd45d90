// Command nodeshare runs the money side of crowdfunded Internet Computer nodes.
//
// The package only wires: flags and environment are parsed by
// github.com/alecthomas/kong into one struct per command (groups shared in
// config.go, strict: a value that does not parse is an error naming the
// flag or the NODESHARE_* variable, never a silent default), each group
// validates itself, and the command builds the connectors and runs a stage
// of pipeline/stage. Business logic and SQL live elsewhere.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/nodeshare/nodeshare/pipeline/rates"
	"github.com/nodeshare/nodeshare/pipeline/stage/process"
	"github.com/nodeshare/nodeshare/pipeline/stage/signer"
	"github.com/nodeshare/nodeshare/pipeline/stage/sink"
	"github.com/nodeshare/nodeshare/schemas"
)

// version is set at build time (-ldflags "-X main.version=..."); the build
// information fills it otherwise.
var version = ""

func versionString() string {
	v := version
	if v == "" {
		v = "dev"
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					v = s.Value
				}
			}
		}
	}
	return "nodeshare " + v
}

// cli is every command. Each command's struct holds its flags (with their
// NODESHARE_* variables) and a Run method.
type cli struct {
	Version kong.VersionFlag `help:"Print the version and exit."`

	Allocate  allocateCmd  `cmd:"" help:"Compute one pool's period from a JSON input (docs/allocation-rules.md)."`
	Pools     poolsCmd     `cmd:"" help:"Pool lifecycle: replay facts against a pool's terms (docs/pool-rules.md)."`
	Members   membersCmd   `cmd:"" help:"Attested members: the association's attester signs which accounts are one member (one cap, one vote) (docs/governance.md)."`
	Vote      voteCmd      `cmd:"" help:"Pool votes: open one, cast a signed ballot with your dfx identity, list votes and tallies (docs/governance.md)."`
	Connect   connectCmd   `cmd:"" help:"Poll IC rewards, rates and node rewards (and the dashboard) into Kafka, once per fact."`
	Process   processCmd   `cmd:"" help:"Run the entitlement processor and the pool lifecycle processor (Kafka consumer groups)."`
	Sink      sinkCmd      `cmd:"" help:"Store every topic in the ClickHouse audit trail."`
	Payout    payoutCmd    `cmd:"" help:"Plan, approve, run, status and resume a period's payout (docs/payouts.md)."`
	Signer    signerCmd    `cmd:"" help:"Daemon: on a cron schedule, pay every minted, allocated, approved, unpaid period."`
	Audit     auditCmd     `cmd:"" help:"Audit: check the hash chains and recompute every decision from raw rows."`
	Report    reportCmd    `cmd:"" help:"Finance's report of a DAO's payouts: every transfer with its block, XDR and fiat value; pools; treasury walk (json, csv, html)."`
	Statement statementCmd `cmd:"" help:"A sponsor's statement (signed by the statement key in Vault), and its check."`
	Reconcile reconcileCmd `cmd:"" help:"Four-way reconciliation of a DAO's payouts (owed, intents, results, ledger blocks, balance); exit 1 on a difference."`
	Serve     serveCmd     `cmd:"" help:"Read-only web pages for sponsors, finance and auditors: periods, reconciliation, charts, a sponsor's stakes and payouts (docs/serve.md)."`
	Migrate   migrateCmd   `cmd:"" help:"Apply the ClickHouse audit-trail migrations."`
	Demo      demoCmd      `cmd:"" help:"Run the end-to-end demo on the local stack."`
}

// env is what every Run receives: the process's context and streams.
type env struct {
	ctx            context.Context
	stdin          io.Reader
	stdout, stderr io.Writer
}

// exitCode ends a command with a code other than 1 (2: bad usage).
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit %d", int(c)) }

// usageError is bad usage found after parsing (exit 2).
func usageError(format string, a ...any) error {
	return &codedError{code: 2, err: fmt.Errorf(format, a...)}
}

type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// kongExit carries kong's exit (after --help or --version) out of Parse.
type kongExit int

// defaultGCPercent is the garbage collector's target when GOGC is not set.
// nodeshare's heaps are small next to any machine's memory, and its hot
// paths (the payout run, the processors, the sink) allocate per record:
// collecting at 200% instead of Go's 100% halves the collector's work for
// a little more heap. Measured on 2 cores: the 10k payout benchmark went
// from 77% to 86% of the raw signing rate (docs/payouts.md). GOGC in the
// environment wins. It is set in init, so the test binary (and its
// benchmarks) runs the same way as the command.
const defaultGCPercent = 200

func init() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// dispatch parses args, runs the selected command and returns the exit
// code: 0 done, 1 failed, 2 bad usage (the message names the flag or the
// variable).
func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	var c cli
	defer func() {
		if r := recover(); r != nil {
			k, ok := r.(kongExit)
			if !ok {
				panic(r)
			}
			code = int(k)
		}
	}()
	parser, err := kong.New(&c, kong.Name("nodeshare"),
		kong.Description("nodeshare runs the money side of crowdfunded Internet Computer nodes. Every flag has a NODESHARE_* environment variable (shown in brackets); secrets come from the environment only."),
		kong.Writers(stdout, stderr), kong.Exit(func(code int) { panic(kongExit(code)) }),
		kong.Vars{"version": versionString(), "default_schedule": signer.DefaultSchedule,
			"rate_tolerance_bps": strconv.FormatInt(rates.DefaultTolerance.MaxDiffBps, 10), "rate_max_skew": rates.DefaultTolerance.MaxSkew.String(),
			"process_group": process.DefaultGroup, "sink_group": sink.DefaultGroup, "entitlements_topic": schemas.TopicEntitlements}, kong.UsageOnError(), kong.ConfigureHelp(kong.HelpOptions{Compact: true}))
	if err != nil {
		fmt.Fprintf(stderr, "nodeshare: %v\n", err)
		return 1
	}
	if len(args) == 0 {
		// The usage, then exit 2: a command is required.
		func() {
			defer func() { _ = recover() }()
			_, _ = parser.Parse([]string{"--help"})
		}()
		return 2
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "nodeshare: %v\n", err)
		return 2
	}
	err = kctx.Run(env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr})
	var ec exitCode
	var ce *codedError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ec):
		return int(ec)
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "nodeshare %s: %v\n", kctx.Command(), ce.err)
		return ce.code
	}
	fmt.Fprintf(stderr, "nodeshare %s: %v\n", kctx.Command(), err)
	return 1
}
