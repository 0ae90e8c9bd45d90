package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/connectors/vault"
	"github.com/nodeshare/nodeshare/ops/icsim"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/schemas"
)

// binResult is one run of the built binary.
type binResult struct {
	stdout, stderr string
	killed         bool
	code           int
}

// TestPayoutKillNineAndResume drives the real binary (Kafka, ClickHouse,
// Vault transit of the stack; the ledger of an in-process simulator this
// test owns, so it may move its clock) and kills it with SIGKILL at each
// step: after the plan is written, after a transfer is signed (before it is
// sent), after the ledger answered (before the result is recorded), mid-batch
// after results, under lost replies, async polling and throttling; then,
// with the ledger 25 h later, in-process after a new attempt is durable
// (before it is signed). Every resume continues; at the end every intent is
// paid exactly once and the ledger moved exactly the manifest's totals.
func TestPayoutKillNineAndResume(t *testing.T) {
	cfg := requireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	sim, err := icsim.New(icsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim.Handler())
	defer hs.Close()
	cfg.ICURL = hs.URL

	bin := filepath.Join(t.TempDir(), "nodeshare")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	// The period: the demo's facts for a fresh DAO, allocated into ClickHouse.
	store, err := clickhouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := kafka.EnsureTopics(ctx, cfg.brokers(), schemas.Topics(), 1); err != nil {
		t.Fatal(err)
	}
	producer := kafka.NewProducer(cfg.brokers())
	defer producer.Close()
	vc, err := vault.New(cfg.Vault)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := vault.NewTransitIdentity(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	treasury := ic.Account{Owner: signer.Sender()}
	dao := fmt.Sprintf("it-kill-%d", time.Now().UnixNano())
	period, minted, err := allocateLegacyPeriod(ctx, cfg, store, producer, dao, time.Date(2026, 9, 2, 6, 0, 0, 0, time.UTC), ic.AccountText(treasury), icsim.LedgerFeeE8s, log)
	if err != nil || !minted {
		t.Fatalf("allocate: %v (minted %v)", err, minted)
	}

	// The approvers' own dfx identities (bob's a secp256k1 key, the others
	// Ed25519); the set is written from what `payout approver-key` prints.
	keys := t.TempDir()
	pems := map[string]string{}
	for _, a := range []string{"alice", "bob", "carol", "mallory"} {
		pems[a] = writeTestIdentity(t, keys, a, a == "bob")
	}
	var set []string
	for _, a := range []string{"alice", "bob", "carol"} {
		out, err := exec.CommandContext(ctx, bin, "payout", "approver-key", "--name", a, "--identity-pem", pems[a]).CombinedOutput()
		if err != nil {
			t.Fatalf("approver-key %s: %v\n%s", a, err, out)
		}
		set = append(set, strings.TrimSpace(string(out)))
	}
	env := append(os.Environ(), "NODESHARE_IC_URL="+hs.URL, "NODESHARE_IC_FETCH_ROOT_KEY=true", "NODESHARE_LOCAL_DIR="+t.TempDir(),
		"NODESHARE_DAO="+dao, "NODESHARE_PERIOD="+period, "NODESHARE_PAYOUT_APPROVERS="+strings.Join(set, ","), "NODESHARE_PAYOUT_THRESHOLD=2")
	run := func(crashAt string, args ...string) binResult {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(append([]string{}, env...), "NODESHARE_CRASH_AT="+crashAt)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		r := binResult{stdout: out.String(), stderr: errb.String()}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				r.killed = true
			}
		} else if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return r
	}
	memoCount := func() map[string]int {
		n := map[string]int{}
		from := ic.LegacyAccountID(treasury).String()
		for _, b := range sim.Ledger().Blocks {
			if b.Op == icsim.OpTransfer && b.From == from && b.MemoHex != nil {
				n[*b.MemoHex]++
			}
		}
		return n
	}
	noDouble := func(step string) int {
		t.Helper()
		total := 0
		for memo, n := range memoCount() {
			if n > 1 {
				t.Fatalf("%s: memo %s paid %d times", step, memo, n)
			}
			total += n
		}
		return total
	}

	// Plan, killed right after the intents and header are durable; planning
	// again returns the stored manifest.
	if r := run("after-plan", "payout", "plan"); !r.killed {
		t.Fatalf("plan was not killed: %d\n%s", r.code, r.stderr)
	}
	r := run("", "payout", "plan")
	var planned payout.ManifestJSON
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &planned) != nil || planned.Written || planned.ManifestSHA256 == "" {
		t.Fatalf("re-plan: code %d written %v\n%s\n%s", r.code, planned.Written, r.stdout, r.stderr)
	}
	// Not approved: refused, nothing signed.
	// Refused before the first signature: its own exit code, and the
	// summary says every intent is unpaid (not "0 pending").
	if r := run("", "payout", "run"); r.code != exitRefused || !strings.Contains(r.stderr, "is not approved") ||
		!strings.Contains(r.stdout, "refused, nothing signed") || noDouble("unapproved") != 0 {
		t.Fatalf("unapproved run: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// The same as JSON: the outcome, every intent pending, the same exit.
	if r := run("", "payout", "run", "--json"); r.code != exitRefused {
		t.Fatalf("unapproved run --json: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	} else {
		var out struct {
			Outcome string `json:"outcome"`
			Pending int    `json:"pending"`
			Intents int    `json:"intents"`
			Error   string `json:"error"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Outcome != "refused" || out.Pending != out.Intents || out.Intents == 0 ||
			!strings.Contains(out.Error, "is not approved") {
			t.Fatalf("unapproved run --json: %v %+v\n%s", err, out, r.stdout)
		}
	}
	// A name alone approves nothing; a key that is not the approver's
	// configured one signs nothing; an outsider is refused.
	if r := run("", "payout", "approve", "--manifest", planned.ManifestSHA256, "--approver", "alice"); r.code == 0 || !strings.Contains(r.stderr, "a name alone approves nothing") {
		t.Fatalf("approve without a key: code %d\n%s", r.code, r.stderr)
	}
	if r := run("", "payout", "approve", "--manifest", planned.ManifestSHA256, "--approver", "alice", "--identity-pem", pems["mallory"]); r.code == 0 ||
		!strings.Contains(r.stderr, `is not approver "alice"'s configured key`) {
		t.Fatalf("alice approving with mallory's key: code %d\n%s", r.code, r.stderr)
	}
	if r := run("", "payout", "approve", "--manifest", planned.ManifestSHA256, "--approver", "mallory", "--identity-pem", pems["mallory"]); r.code == 0 {
		t.Fatal("an approver outside the set was accepted")
	}
	if r := run("", "payout", "approve", "--manifest", planned.ManifestSHA256, "--approver", "alice", "--identity-pem", pems["alice"]); r.code != 0 {
		t.Fatalf("approve alice: %s", r.stderr)
	}
	// One signed approval of two: still refused, nothing signed.
	if r := run("", "payout", "run"); r.code != exitRefused || !strings.Contains(r.stderr, "is not approved") || noDouble("one approval") != 0 {
		t.Fatalf("run with one approval: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := run("", "payout", "approve", "--manifest", planned.ManifestSHA256, "--approver", "bob", "--identity-pem", pems["bob"]); r.code != 0 {
		t.Fatalf("approve bob: %s", r.stderr)
	}

	steps := []struct {
		name   string
		crash  string
		setup  func()
		signer bool // the signer daemon's pass instead of payout resume
	}{
		{"killed after signing, before sending", "after-sign:3", nil, false},
		{"signer killed after the ledger answered, before the result was recorded", "after-send:5", nil, true},
		{"killed after the ledger answered, before the result was recorded", "after-send:3", nil, false},
		{"killed mid-batch with lost replies", "after-result:10", func() { sim.SetFaults(icsim.Faults{FailAfterExecuteNext: 3}) }, false},
		{"killed while polling (async replies)", "after-send:4", func() { _ = sim.SetCallMode(icsim.CallModeAsync) }, false},
		{"signer killed mid-batch", "after-result:6", nil, true},
		{"killed under throttling", "after-sign:4", func() { sim.SetFaults(icsim.Faults{TemporarilyUnavailableNext: 2}) }, false},
		// Last before the window closes: a transfer on the ledger whose
		// result is not recorded, for the blocks-first path below.
		{"killed after the ledger answered, before the window closes", "after-send:2", func() {
			sim.SetFaults(icsim.Faults{})
			_ = sim.SetCallMode(icsim.CallModeSync)
		}, false},
	}
	for _, s := range steps {
		if s.setup != nil {
			s.setup()
		}
		args := []string{"payout", "resume", "--manifest", planned.ManifestSHA256, "--concurrency", "2"}
		if s.signer {
			args = []string{"signer", "--once", "--concurrency", "2"}
		}
		r := run(s.crash, args...)
		if !r.killed {
			t.Fatalf("%s: not killed (code %d)\n%s", s.name, r.code, r.stderr)
		}
		for _, line := range strings.Split(r.stderr, "\n") {
			if strings.Count(line, `"dao":`) > 1 {
				t.Fatalf("%s: a log line names the DAO twice: %s", s.name, line)
			}
		}
		t.Logf("%s: %d intents on the ledger", s.name, noDouble(s.name))
	}
	sim.SetFaults(icsim.Faults{})
	_ = sim.SetCallMode(icsim.CallModeSync)

	// 25 h later (the ledger's clock): every attempt so far is outside the
	// window. In-process engine on the real store with the ledger's clock,
	// killed right after its first new attempt is durable.
	sim.AdvanceClock(25 * time.Hour)
	skew := 25 * time.Hour
	chs := payout.NewDurableStore(&kafka.Log{Brokers: cfg.brokers(), Producer: producer}, store, nil)
	client, err := ic.New(ic.Config{URL: hs.URL, Identity: signer, FetchRootKey: true})
	if err != nil {
		t.Fatal(err)
	}
	approvers, err := rules.ParseApprovers(set)
	if err != nil {
		t.Fatal(err)
	}
	approval := rules.Approval{Approvers: approvers, Threshold: 2}
	var dead atomic.Bool
	rctx, rcancel := context.WithCancel(ctx)
	eng := &payout.Engine{Store: chs, Ledger: deadAfter{Ledger: ic.PayoutLedger{Client: client, Treasury: treasury}, dead: &dead}, Approval: approval, Verifier: ic.Verifier{},
		Concurrency: 1, Log: log, Clock: stage.ClockFunc(func() time.Time { return time.Now().Add(skew) }),
		Crash: func(p string) {
			if p == payout.CrashAfterAttempt {
				dead.Store(true)
				rcancel()
			}
		}}
	killed, err := eng.Run(rctx, dao, period, payout.RunOptions{})
	if err == nil || !dead.Load() {
		t.Fatalf("the in-process run was not killed after an attempt: %v", err)
	}
	rcancel()
	noDouble("killed after a new attempt")
	eng = &payout.Engine{Store: chs, Ledger: ic.PayoutLedger{Client: client, Treasury: treasury}, Approval: approval, Verifier: ic.Verifier{}, Concurrency: 4, Log: log,
		Clock: stage.ClockFunc(func() time.Time { return time.Now().Add(skew) })}
	sum, err := eng.Run(ctx, dao, period, payout.RunOptions{ExpectSHA256: planned.ManifestSHA256})
	if err != nil {
		t.Fatalf("final resume: %v", err)
	}
	if sum.Paid != planned.Transfers || sum.NewAttempts == 0 || killed.Reconciled+sum.Reconciled == 0 {
		t.Fatalf("final resume: %d paid of %d, %d new attempts (want > 0), %d settled from blocks (want > 0)", sum.Paid, planned.Transfers, sum.NewAttempts, sum.Reconciled)
	}
	t.Logf("after the window: killed run settled %d from blocks; final resume: %d sent, %d settled from blocks, %d new attempts, %d already paid",
		killed.Reconciled, sum.Sent, sum.Reconciled, sum.NewAttempts, sum.Skipped)

	// Everything paid once, the ledger moved exactly the manifest.
	if n := noDouble("final"); n != planned.Transfers {
		t.Fatalf("%d intents on the ledger, %d planned", n, planned.Transfers)
	}
	var amount, fee int64
	from := ic.LegacyAccountID(treasury).String()
	memos := map[string]bool{}
	for _, in := range planned.Intents {
		memos[in.MemoHex] = true
	}
	for _, b := range sim.Ledger().Blocks {
		if b.Op == icsim.OpTransfer && b.From == from && b.MemoHex != nil && memos[*b.MemoHex] {
			amount += int64(b.AmountE8s)
			fee += int64(b.FeeE8s)
		}
	}
	if amount != planned.TotalAmountE8s || fee != planned.TotalFeeE8s {
		t.Fatalf("ledger moved %d + %d fees, the manifest %d + %d", amount, fee, planned.TotalAmountE8s, planned.TotalFeeE8s)
	}
	results, err := store.Results(ctx, dao, period)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range planned.Intents {
		if results[in.IntentID].Status != schemas.PayoutPaid {
			t.Fatalf("intent %s: %+v", in.IntentID, results[in.IntentID])
		}
	}
	// The operator's view, and a resume that has nothing left to do.
	if r := run("", "payout", "status"); r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("paid  %5d", planned.Transfers)) && !strings.Contains(r.stdout, "paid") {
		t.Fatalf("status: %d\n%s", r.code, r.stdout)
	}
	if r := run("", "payout", "resume"); r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("%d paid (%d before this run)", planned.Transfers, planned.Transfers)) {
		t.Fatalf("resume after completion: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	noDouble("after a resume of a paid period")
	// The signer daemon's pass over the DAO: the period is paid, nothing sent.
	before := len(sim.Ledger().Blocks)
	if r := run("", "signer", "--once"); r.code != 0 || len(sim.Ledger().Blocks) != before {
		t.Fatalf("signer --once: %d, %d new blocks\n%s", r.code, len(sim.Ledger().Blocks)-before, r.stderr)
	}
}

// deadAfter refuses every transfer once dead is set: the in-process
// "killed" engine sends nothing more.
type deadAfter struct {
	payout.Ledger
	dead *atomic.Bool
}

func (d deadAfter) Transfer(ctx context.Context, r rules.TransferRequest) (uint64, error) {
	if d.dead.Load() {
		return 0, &rules.CallError{Err: errors.New("process killed (simulated)")}
	}
	return d.Ledger.Transfer(ctx, r)
}
