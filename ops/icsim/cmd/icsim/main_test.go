package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/ops/icsim"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigFlagsAndEnvironment(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := parseConfig(nil, env(nil), &stderr)
	if err != nil || cfg.Listen != "127.0.0.1:18080" || cfg.CallMode != "sync" || cfg.LogLevel != "info" || cfg.RoundInterval != 0 || cfg.Archive != (icsim.ArchiveOptions{}) {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	e := env(map[string]string{
		"NODESHARE_ICSIM_LISTEN": "127.0.0.1:1", "NODESHARE_ICSIM_STATE": "/tmp/s.json", "NODESHARE_ICSIM_CALL_MODE": "async",
		"NODESHARE_ICSIM_SCENARIO": "sc.json", "NODESHARE_ICSIM_ROUND_INTERVAL": "5ms", "NODESHARE_ICSIM_LOG_LEVEL": "debug",
		"NODESHARE_ICSIM_ARCHIVE_TRIGGER_THRESHOLD": "2000", "NODESHARE_ICSIM_ARCHIVE_NUM_BLOCKS": "1000", "NODESHARE_ICSIM_ARCHIVE_NODE_MAX_BLOCKS": "5000",
	})
	cfg, err = parseConfig(nil, e, &stderr)
	want := config{Listen: "127.0.0.1:1", State: "/tmp/s.json", CallMode: "async", Scenario: "sc.json", LogLevel: "debug", RoundInterval: 5 * time.Millisecond,
		Archive: icsim.ArchiveOptions{TriggerThreshold: 2000, NumBlocksToArchive: 1000, NodeMaxBlocks: 5000}}
	if err != nil || cfg != want {
		t.Fatalf("environment: %+v %v", cfg, err)
	}
	// Flags win over the environment.
	cfg, err = parseConfig([]string{"--listen", "127.0.0.1:2", "--call-mode", "sync", "--round-interval", "1s"}, e, &stderr)
	if err != nil || cfg.Listen != "127.0.0.1:2" || cfg.CallMode != "sync" || cfg.RoundInterval != time.Second || cfg.State != "/tmp/s.json" {
		t.Fatalf("flags over environment: %+v %v", cfg, err)
	}
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"bad env duration":     {nil, map[string]string{"NODESHARE_ICSIM_ROUND_INTERVAL": "fast"}, "NODESHARE_ICSIM_ROUND_INTERVAL"},
		"bad env number":       {nil, map[string]string{"NODESHARE_ICSIM_ARCHIVE_NUM_BLOCKS": "-1"}, "NODESHARE_ICSIM_ARCHIVE_NUM_BLOCKS"},
		"bad call mode":        {[]string{"--call-mode", "fast"}, nil, "--call-mode"},
		"bad log level":        {nil, map[string]string{"NODESHARE_ICSIM_LOG_LEVEL": "loud"}, "--log-level"},
		"round interval":       {[]string{"--round-interval", "11s"}, nil, "--round-interval"},
		"threshold alone":      {[]string{"--archive-trigger-threshold", "10"}, nil, "num_blocks_to_archive"},
		"empty listen":         {[]string{"--listen", ""}, nil, "--listen"},
		"positional arguments": {[]string{"extra"}, nil, "unexpected arguments"},
	} {
		if _, err := parseConfig(tc.args, env(tc.env), &stderr); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %s", name, err, tc.want)
		}
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"--call-mode", "fast"}, env(nil), &stderr); code != 2 {
		t.Fatalf("bad config: exit %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	stderr.Reset()
	if code := run(ctx, []string{"--listen", "127.0.0.1:0", "--archive-trigger-threshold", "4", "--archive-num-blocks", "2"}, env(nil), &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "icsim listening") || !strings.Contains(stderr.String(), "icsim stopped") {
		t.Fatalf("log: %s", stderr.String())
	}
}
