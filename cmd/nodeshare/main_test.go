package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/aviate-labs/agent-go/identity"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout/payouttest"
)

// TestMain lets tests run the real CLI in a subprocess (the test binary
// itself, re-executed with NODESHARE_TEST_EXEC_MAIN=1), so that crash tests
// can kill -9 a processor, a sink or a payout run and start it again.
//
// The daemons the tests start serve their metrics on a free loopback port
// (NODESHARE_METRICS_ADDR=127.0.0.1:0), never on a command's fixed default:
// other test runs on the machine may hold those.
func TestMain(m *testing.M) {
	if os.Getenv("NODESHARE_METRICS_ADDR") == "" {
		_ = os.Setenv("NODESHARE_METRICS_ADDR", "127.0.0.1:0")
	}
	if os.Getenv("NODESHARE_TEST_EXEC_MAIN") == "1" {
		// As main: SIGTERM stops a daemon the way systemd stops it.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := dispatch(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// runCLI runs `nodeshare args...` in a subprocess with extra environment
// and returns its exit code (-1 when killed by a signal) and output.
func runCLI(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "NODESHARE_TEST_EXEC_MAIN=1"), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String()
}

// writeTestIdentity writes a new dfx-style identity file for name into dir
// (secp256k1 when secp, else Ed25519) and returns its path.
func writeTestIdentity(t testing.TB, dir, name string, secp bool) string {
	t.Helper()
	var pem []byte
	var err error
	if secp {
		var id *identity.Secp256k1Identity
		if id, err = identity.NewRandomSecp256k1Identity(); err == nil {
			pem, err = id.ToPEM()
		}
	} else {
		var id *identity.Ed25519Identity
		if id, err = identity.NewRandomEd25519Identity(); err == nil {
			pem, err = id.ToPEM()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testDemoApprover is the demo approver's key in tests that plan and run a
// period in memory (threshold 1).
var testDemoApprover = payouttest.NewApprover("demo")
