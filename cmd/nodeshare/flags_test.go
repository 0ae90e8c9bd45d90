package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// A value that does not parse is an error naming the variable it came
// from, never a silent default ("1e12" used to become 0: no cap).
func TestEnvironmentValuesAreStrict(t *testing.T) {
	for _, c := range []struct {
		env, value string
		args       []string
		want       string
	}{
		{"NODESHARE_PAYOUT_MAX_RUN_E8S", "1e12", []string{"payout", "run", "--dao", "d", "--period", "2026-11-01"}, "NODESHARE_PAYOUT_MAX_RUN_E8S"},
		{"NODESHARE_PAYOUT_CONCURRENCY", "four", []string{"signer", "--dao", "d", "--once"}, "NODESHARE_PAYOUT_CONCURRENCY"},
		{"NODESHARE_CONNECT_INTERVAL", "10", []string{"connect", "--once"}, "NODESHARE_CONNECT_INTERVAL"},
		{"NODESHARE_IC_FETCH_ROOT_KEY", "yes please", []string{"connect", "--once"}, "NODESHARE_IC_FETCH_ROOT_KEY"},
		{"NODESHARE_PRICE_DAYS", "thirty", []string{"connect", "--once"}, "NODESHARE_PRICE_DAYS"},
		{"NODESHARE_PRICE_CURRENCY", "US$", []string{"connect", "--once"}, "NODESHARE_PRICE_CURRENCY"},
		{"NODESHARE_PERIOD", "2026-11-01T06:00:00Z", []string{"payout", "status", "--dao", "d"}, "NODESHARE_PERIOD"},
		{"NODESHARE_PAYOUT_THRESHOLD", "2", []string{"payout", "status", "--dao", "d", "--period", "2026-11-01", "--approvers", "alice=302a300506032b6570032100" + strings.Repeat("ab", 32)}, "threshold must be in [1, 1]"},
		{"NODESHARE_PAYOUT_APPROVERS", "alice", []string{"payout", "status", "--dao", "d", "--period", "2026-11-01", "--threshold", "1"}, `approver "alice" has no public key`},
	} {
		t.Run(c.env, func(t *testing.T) {
			t.Setenv(c.env, c.value)
			code, out, stderr := runMain(t, c.args...)
			if code != 2 || out != "" || !strings.Contains(stderr, c.want) {
				t.Fatalf("%s=%q: exit %d, stdout %q, stderr %q (want exit 2 naming %s)", c.env, c.value, code, out, stderr, c.want)
			}
		})
	}
}

func TestVersionAndUsage(t *testing.T) {
	code, out, _ := runMain(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "nodeshare ") {
		t.Fatalf("--version: exit %d, %q", code, out)
	}
	code, out, _ = runMain(t)
	if code != 2 || !strings.Contains(out, "payout run") || !strings.Contains(out, "pools replay") {
		t.Fatalf("no command: exit %d\n%s", code, out)
	}
	code, _, stderr := runMain(t, "bogus")
	if code != 2 || !strings.Contains(stderr, "bogus") {
		t.Fatalf("unknown command: exit %d, %q", code, stderr)
	}
	code, out, _ = runMain(t, "payout", "plan", "--help")
	if code != 0 || !strings.Contains(out, "--period=YYYY-MM-DD") || !strings.Contains(out, "UTC day of the NNS reward") {
		t.Fatalf("payout plan --help: exit %d\n%s", code, out)
	}
}
