package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nodeshare/nodeshare/ops/icsim"
)

// icsimConfig is the icsim subcommand's configuration.
type icsimConfig struct {
	Listen   string
	State    string
	CallMode string
	Scenario string
	LogLevel string
	// RoundInterval paces certification rounds (icsim.Options).
	RoundInterval time.Duration
}

func (c icsimConfig) Validate() error {
	if c.Listen == "" {
		return errors.New("--listen must not be empty")
	}
	if c.CallMode != string(icsim.CallModeSync) && c.CallMode != string(icsim.CallModeAsync) {
		return fmt.Errorf("--call-mode must be sync or async, got %q", c.CallMode)
	}
	if c.RoundInterval < 0 || c.RoundInterval > 10*time.Second {
		return fmt.Errorf("--round-interval must be between 0 and 10s, got %s", c.RoundInterval)
	}
	return nil
}

func icsimEnv(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// runICSim runs the local IC replica simulator until ctx is cancelled.
func runICSim(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("icsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg icsimConfig
	fs.StringVar(&cfg.Listen, "listen", icsimEnv("NODESHARE_ICSIM_LISTEN", "127.0.0.1:18080"), "address to listen on (env NODESHARE_ICSIM_LISTEN)")
	fs.StringVar(&cfg.State, "state", icsimEnv("NODESHARE_ICSIM_STATE", ""), "state file: loaded at start, rewritten after every change; empty = in-memory (env NODESHARE_ICSIM_STATE)")
	fs.StringVar(&cfg.CallMode, "call-mode", icsimEnv("NODESHARE_ICSIM_CALL_MODE", "sync"), "update call answers: sync (200 + certificate) or async (202, the agent polls) (env NODESHARE_ICSIM_CALL_MODE)")
	fs.StringVar(&cfg.Scenario, "scenario", icsimEnv("NODESHARE_ICSIM_SCENARIO", ""), "JSON scenario to load at start (balances, rewards, rates) (env NODESHARE_ICSIM_SCENARIO)")
	fs.DurationVar(&cfg.RoundInterval, "round-interval", 0, "shortest time between two certification rounds, like the IC's block rate; calls within it share one BLS-signed certificate (0 = sign whenever the last round is done)")
	fs.StringVar(&cfg.LogLevel, "log-level", icsimEnv("NODESHARE_ICSIM_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nodeshare icsim [--listen 127.0.0.1:18080] [--state FILE] [--call-mode sync|async] [--scenario FILE]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Runs a local IC replica simulator (ICP ledger, Governance, CMC) that agent-go talks to")
		fmt.Fprintln(stderr, "with FetchRootKey. Admin JSON API under /admin/ (mint, clock, mode, faults, ledger).")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "icsim: %v\n", err)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		fmt.Fprintf(stderr, "icsim: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})).With("component", "icsim")
	sim, err := icsim.New(icsim.Options{StatePath: cfg.State, CallMode: icsim.CallMode(cfg.CallMode), Logger: log, RoundInterval: cfg.RoundInterval})
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
		"ledger", icsim.LedgerID().String(), "governance", icsim.GovernanceID().String(), "cmc", icsim.CMCID().String())
	if err := sim.ListenAndServe(ctx, cfg.Listen); err != nil {
		log.Error("serve failed", "error", err.Error())
		return 1
	}
	log.Info("icsim stopped")
	return 0
}
