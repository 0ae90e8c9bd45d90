// Command icsim runs the local IC replica simulator (package
// ops/icsim): the ICP ledger and its archives, NNS Governance, the CMC and
// the Node Rewards Canister behind the IC HTTP interface, plus a JSON admin
// API under /admin/. It is the only way to run the simulator; ops/stack
// builds and starts it.
//
//	icsim [--listen 127.0.0.1:18080] [--state FILE] [--call-mode sync|async] [--scenario FILE]
//	      [--round-interval 5ms] [--log-level info]
//	      [--archive-trigger-threshold N --archive-num-blocks N [--archive-node-max-blocks N]]
//
// Every flag falls back to a NODESHARE_ICSIM_* environment variable (named
// in --help); a value that does not parse is an error, from either source.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nodeshare/nodeshare/ops/icsim"
)

// config is the command's configuration.
type config struct {
	Listen   string
	State    string
	CallMode string
	Scenario string
	LogLevel string
	// RoundInterval paces certification rounds (icsim.Options).
	RoundInterval time.Duration
	// Archive configures the ledger's archiving (icsim.ArchiveOptions).
	Archive icsim.ArchiveOptions
}

// Validate checks the configuration before anything starts.
func (c config) Validate() error {
	if c.Listen == "" {
		return errors.New("--listen must not be empty")
	}
	if c.CallMode != string(icsim.CallModeSync) && c.CallMode != string(icsim.CallModeAsync) {
		return fmt.Errorf("--call-mode must be sync or async, got %q", c.CallMode)
	}
	if c.RoundInterval < 0 || c.RoundInterval > 10*time.Second {
		return fmt.Errorf("--round-interval must be between 0 and 10s, got %s", c.RoundInterval)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level must be debug, info, warn or error: %v", err)
	}
	if err := c.Archive.Validate(); err != nil {
		return fmt.Errorf("--archive-*: %w", err)
	}
	return nil
}

// envFlag names the environment variable a flag falls back to. A value
// from the environment goes through the flag's own parser, so it is as
// strict as the command line; a flag on the command line wins.
type envFlag struct {
	name, env string
}

func parseConfig(args []string, getenv func(string) (string, bool), stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("icsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:18080", "address to listen on (env NODESHARE_ICSIM_LISTEN)")
	fs.StringVar(&cfg.State, "state", "", "state file: loaded at start, rewritten after every change; empty = in-memory (env NODESHARE_ICSIM_STATE)")
	fs.StringVar(&cfg.CallMode, "call-mode", "sync", "update call answers: sync (200 + certificate) or async (202, the agent polls) (env NODESHARE_ICSIM_CALL_MODE)")
	fs.StringVar(&cfg.Scenario, "scenario", "", "JSON scenario to load at start (balances, rewards, rates, node days) (env NODESHARE_ICSIM_SCENARIO)")
	fs.DurationVar(&cfg.RoundInterval, "round-interval", 0, "shortest time between two certification rounds, like the IC's block rate; calls within it share one BLS-signed certificate (0 = sign whenever the last round is done) (env NODESHARE_ICSIM_ROUND_INTERVAL)")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error (env NODESHARE_ICSIM_LOG_LEVEL)")
	fs.Uint64Var(&cfg.Archive.TriggerThreshold, "archive-trigger-threshold", 0, "archive once the ledger holds this many blocks, like the ICP ledger's archive_options; 0 = never (env NODESHARE_ICSIM_ARCHIVE_TRIGGER_THRESHOLD)")
	fs.Uint64Var(&cfg.Archive.NumBlocksToArchive, "archive-num-blocks", 0, "oldest blocks moved to archive canisters at each trigger (env NODESHARE_ICSIM_ARCHIVE_NUM_BLOCKS)")
	fs.Uint64Var(&cfg.Archive.NodeMaxBlocks, "archive-node-max-blocks", 0, "blocks one archive canister holds before the next is created; 0 = unlimited (env NODESHARE_ICSIM_ARCHIVE_NODE_MAX_BLOCKS)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: icsim [--listen 127.0.0.1:18080] [--state FILE] [--call-mode sync|async] [--scenario FILE] [--round-interval D] [--log-level L] [--archive-*]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Runs a local IC replica simulator (ICP ledger and archives, Governance, CMC, Node Rewards Canister)")
		fmt.Fprintln(stderr, "that agent-go talks to with FetchRootKey. Admin JSON API under /admin/ (see ops/icsim/README.md).")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	for _, e := range []envFlag{
		{"listen", "NODESHARE_ICSIM_LISTEN"},
		{"state", "NODESHARE_ICSIM_STATE"},
		{"call-mode", "NODESHARE_ICSIM_CALL_MODE"},
		{"scenario", "NODESHARE_ICSIM_SCENARIO"},
		{"round-interval", "NODESHARE_ICSIM_ROUND_INTERVAL"},
		{"log-level", "NODESHARE_ICSIM_LOG_LEVEL"},
		{"archive-trigger-threshold", "NODESHARE_ICSIM_ARCHIVE_TRIGGER_THRESHOLD"},
		{"archive-num-blocks", "NODESHARE_ICSIM_ARCHIVE_NUM_BLOCKS"},
		{"archive-node-max-blocks", "NODESHARE_ICSIM_ARCHIVE_NODE_MAX_BLOCKS"},
	} {
		if v, ok := getenv(e.env); ok {
			if err := fs.Set(e.name, v); err != nil {
				return cfg, fmt.Errorf("%s=%q: %w", e.env, v, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return cfg, cfg.Validate()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses the configuration and serves until ctx is cancelled; it
// returns the exit code (2 for a bad configuration).
func run(ctx context.Context, args []string, getenv func(string) (string, bool), stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "icsim: %v\n", err)
		return 2
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // checked by Validate
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})).With("component", "icsim")
	sim, err := icsim.New(icsim.Options{StatePath: cfg.State, CallMode: icsim.CallMode(cfg.CallMode), Logger: log,
		RoundInterval: cfg.RoundInterval, Archive: cfg.Archive})
	if err != nil {
		log.Error("start failed", "error", err.Error())
		return 1
	}
	if cfg.Scenario != "" {
		if err := sim.LoadScenarioFile(cfg.Scenario); err != nil {
			log.Error("load scenario failed", "scenario", cfg.Scenario, "error", err.Error())
			return 1
		}
	}
	log.Info("icsim listening", "listen", cfg.Listen, "state", cfg.State, "call_mode", cfg.CallMode,
		"round_interval", cfg.RoundInterval.String(), "archive_trigger_threshold", cfg.Archive.TriggerThreshold,
		"ledger", icsim.LedgerID().String(), "governance", icsim.GovernanceID().String(), "cmc", icsim.CMCID().String(), "nrc", icsim.NRCID().String())
	if err := sim.ListenAndServe(ctx, cfg.Listen); err != nil {
		log.Error("serve failed", "error", err.Error())
		return 1
	}
	log.Info("icsim stopped")
	return 0
}
