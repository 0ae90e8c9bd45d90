// Command icsim runs the local IC replica simulator on its own (the same
// server as "nodeshare icsim"): icsim --listen 127.0.0.1:18080 [--state FILE]
// [--call-mode sync|async] [--scenario FILE].
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/nodeshare/nodeshare/ops/icsim"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18080", "address to listen on")
	state := flag.String("state", "", "state file (empty: in-memory)")
	mode := flag.String("call-mode", "sync", "sync or async")
	scenario := flag.String("scenario", "", "JSON scenario to load at start")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("component", "icsim")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, *listen, *state, *mode, *scenario); err != nil {
		log.Error("icsim failed", "error", err.Error())
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, listen, state, mode, scenario string) error {
	if mode != string(icsim.CallModeSync) && mode != string(icsim.CallModeAsync) {
		return errors.New("--call-mode must be sync or async")
	}
	sim, err := icsim.New(icsim.Options{StatePath: state, CallMode: icsim.CallMode(mode), Logger: log})
	if err != nil {
		return err
	}
	if scenario != "" {
		if err := sim.LoadScenarioFile(scenario); err != nil {
			return fmt.Errorf("scenario: %w", err)
		}
	}
	log.Info("icsim listening", "listen", listen, "state", state, "call_mode", mode)
	return sim.ListenAndServe(ctx, listen)
}
