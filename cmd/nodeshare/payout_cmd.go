package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/pipeline/money"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/schemas"
)

const payoutUsage = `usage: nodeshare payout <plan|approve|run|status|resume> [flags]

  plan     build the period's manifest from its entitlements and store it once (--dry-run: print only)
  approve  record one approver's approval of a manifest hash (m-of-n approver set)
  run      check everything, then sign and send every unpaid transfer of an approved manifest
  status   paid / pending / failed counts and amounts of a period
  resume   continue an interrupted run; past the ledger's 24 h window it reads the blocks first

Each takes --help. The operator's runbook is docs/payouts.md.
`

func runPayout(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, payoutUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub := args[0]
	switch sub {
	case "plan", "approve", "run", "status", "resume":
	default:
		fmt.Fprintf(stderr, "payout: unknown subcommand %q\n\n%s", sub, payoutUsage)
		return 2
	}
	return payoutSub(ctx, sub, args[1:], stdout, stderr)
}

// payoutFlags is everything the payout subcommands read.
type payoutFlags struct {
	cfg         config
	signer      signerConfig
	dao         string
	period      string
	approvers   string
	threshold   int
	manifest    string
	approver    string
	dryRun      bool
	maxRun      int64
	maxRecip    int64
	concurrency int
	timeout     time.Duration
	jsonOut     bool
}

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

func (f *payoutFlags) approval() rules.Approval {
	var names []string
	for _, n := range strings.Split(f.approvers, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return rules.Approval{Approvers: names, Threshold: f.threshold}
}

func (f *payoutFlags) caps() rules.Caps {
	return rules.Caps{MaxRunE8s: f.maxRun, MaxRecipientE8s: f.maxRecip}
}

var payoutHelp = map[string]string{
	"plan": `Builds the manifest of one DAO period from its entitlements in ClickHouse: every transfer
(recipient, amount, fee, memo = intent id, created_at_time = plan time), totals, rules version,
input hashes (the pool periods' manifest hashes) and the manifest hash. The first plan is written
(intents to dao.payout-intents.v1 and ClickHouse); planning again prints the stored manifest.
--dry-run prints without writing.`,
	"approve": `Records that --approver approves --manifest (the hash printed by plan) for the period. The
approver must be in --approvers; run needs --threshold distinct approvals of exactly that hash.`,
	"run": `Pays an approved manifest. Before the first signature: the manifest still equals the one the
entitlements plan to, it is approved, conservation holds, every recipient is a sponsor or the
hoster of its pool, the caps hold, the ledger fee is the planned fee and the treasury covers
every pending amount plus fees. Any failure stops with the reason and nothing signed.
Exit 0 when every intent is paid; 1 otherwise (see status, then resume).`,
	"status": `Prints the period's manifest hash, approvals and paid / pending / failed counts and amounts.`,
	"resume": `Continues a run (same checks, same safety): intents inside the ledger's 24 h window are resent
with their memo and created_at_time (the ledger de-duplicates); past the window the ledger blocks
are read first, a matching transfer is recorded as paid with its block, and only an intent the
ledger proves absent (certified TooOld, no matching block) gets a new created_at_time, recorded
as a new attempt before it is signed.`,
}

func payoutSub(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) int {
	var f payoutFlags
	fs := flag.NewFlagSet("payout "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	groups := []string{"kafka", "clickhouse", "local"}
	needsLedger := sub == "run" || sub == "resume"
	if needsLedger {
		groups = append(groups, "vault", "ic")
	}
	f.cfg.register(fs, groups...)
	if needsLedger {
		f.signer.register(fs, &f.cfg)
	}
	fs.StringVar(&f.dao, "dao", envOr("NODESHARE_DAO", ""), "DAO name (NODESHARE_DAO)")
	fs.StringVar(&f.period, "period", envOr("NODESHARE_PERIOD", ""), "period, as in the entitlements, e.g. 2026-11-01T06:00:00Z (NODESHARE_PERIOD)")
	fs.StringVar(&f.approvers, "approvers", envOr("NODESHARE_PAYOUT_APPROVERS", ""), "approver set, comma separated (NODESHARE_PAYOUT_APPROVERS)")
	fs.IntVar(&f.threshold, "threshold", int(envInt("NODESHARE_PAYOUT_THRESHOLD", 0)), "approvals needed out of the set (NODESHARE_PAYOUT_THRESHOLD)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this long (a stopped run is resumed safely)")
	switch sub {
	case "plan":
		fs.BoolVar(&f.dryRun, "dry-run", false, "print the manifest without writing anything")
	case "approve":
		fs.StringVar(&f.manifest, "manifest", "", "manifest hash being approved (from nodeshare payout plan)")
		fs.StringVar(&f.approver, "approver", envOr("NODESHARE_PAYOUT_APPROVER", ""), "who approves (NODESHARE_PAYOUT_APPROVER)")
	case "run", "resume":
		fs.StringVar(&f.manifest, "manifest", "", "refuse unless the stored manifest has this hash")
		fs.Int64Var(&f.maxRun, "max-run-e8s", envInt("NODESHARE_PAYOUT_MAX_RUN_E8S", 0), "refuse a run moving more than this (amounts + fees); 0 = no cap (NODESHARE_PAYOUT_MAX_RUN_E8S)")
		fs.Int64Var(&f.maxRecip, "max-recipient-e8s", envInt("NODESHARE_PAYOUT_MAX_RECIPIENT_E8S", 0), "refuse a manifest paying one recipient more than this; 0 = no cap (NODESHARE_PAYOUT_MAX_RECIPIENT_E8S)")
		fs.IntVar(&f.concurrency, "concurrency", int(envInt("NODESHARE_PAYOUT_CONCURRENCY", 4)), "transfers in flight (NODESHARE_PAYOUT_CONCURRENCY)")
	case "status":
		fs.BoolVar(&f.jsonOut, "json", false, "print JSON")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: nodeshare payout %s [flags]\n\n%s\n\nflags:\n", sub, payoutHelp[sub])
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var errs []error
	if err := f.cfg.validate(groups...); err != nil {
		errs = append(errs, err)
	}
	if f.dao == "" || f.period == "" {
		errs = append(errs, errors.New("--dao and --period are required (NODESHARE_DAO, NODESHARE_PERIOD)"))
	}
	if sub != "plan" {
		if err := f.approval().Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if sub == "approve" && (f.manifest == "" || f.approver == "") {
		errs = append(errs, errors.New("approve needs --manifest and --approver"))
	}
	if needsLedger {
		if err := f.signer.validate(); err != nil {
			errs = append(errs, err)
		}
		if f.concurrency < 1 || f.concurrency > 64 {
			errs = append(errs, fmt.Errorf("concurrency must be in [1, 64], got %d", f.concurrency))
		}
		if f.maxRun < 0 || f.maxRecip < 0 {
			errs = append(errs, errors.New("caps must be >= 0"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "payout %s: %v\n", sub, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	code, err := payoutExec(ctx, sub, f, stdout, stderr, log)
	if err != nil {
		fmt.Fprintf(stderr, "payout %s: %v\n", sub, err)
	}
	return code
}

// openPayoutStore connects the payout stage's store: the event log
// (Kafka, topics created when missing) and the tables (ClickHouse, migrated).
func openPayoutStore(ctx context.Context, cfg config) (*payout.DurableStore, func(), error) {
	brokers := cfg.brokers()
	if err := kafka.EnsureTopics(ctx, brokers, schemas.Topics(), 1); err != nil {
		return nil, nil, err
	}
	store, err := clickhouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return nil, nil, err
	}
	if _, err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, nil, err
	}
	producer := kafka.NewProducer(brokers)
	closeAll := func() { producer.Close(); store.Close() }
	return payout.NewDurableStore(&kafka.Log{Brokers: brokers, Producer: producer}, store, stage.SystemClock{}), closeAll, nil
}

func payoutExec(ctx context.Context, sub string, f payoutFlags, stdout, stderr io.Writer, log *slog.Logger) (int, error) {
	store, closeStore, err := openPayoutStore(ctx, f.cfg)
	if err != nil {
		return 1, err
	}
	defer closeStore()
	crash, armed := armedCrash(crashFromEnv())
	eng := &payout.Engine{Store: store, Approval: f.approval(), Caps: f.caps(), Concurrency: f.concurrency, Log: log, Crash: crash}
	switch sub {
	case "plan":
		m, created, err := eng.Plan(ctx, f.dao, f.period, !f.dryRun)
		if err != nil {
			return 1, err
		}
		if err := printManifest(stdout, m, created && !f.dryRun, f.dryRun); err != nil {
			return 1, err
		}
		return 0, nil
	case "approve":
		ok, who, err := eng.Approve(ctx, f.dao, f.period, f.manifest, f.approver)
		if err != nil {
			return 1, err
		}
		fmt.Fprintf(stdout, "manifest %s approved by %s; approvals %v: %d of %d needed, approved=%v\n", f.manifest, f.approver, who, f.threshold, len(eng.Approval.Approvers), ok)
		return 0, nil
	case "status":
		st, err := eng.Status(ctx, f.dao, f.period)
		if err != nil {
			return 1, err
		}
		printStatus(stdout, f.dao, f.period, st, f.jsonOut)
		return 0, nil
	}
	// run, resume: one process per DAO at a time.
	unlock, err := lockPayout(f.cfg.LocalDir, f.dao)
	if err != nil {
		return 1, err
	}
	defer unlock()
	if sub == "resume" {
		st, err := eng.Status(ctx, f.dao, f.period)
		if err != nil {
			return 1, err
		}
		if !st.Planned {
			return 1, fmt.Errorf("%s %s: nothing to resume: no manifest planned", f.dao, f.period)
		}
	}
	if eng.Ledger, err = payoutLedger(ctx, f.cfg, f.signer, crash, armed, log); err != nil {
		return 1, err
	}
	if isTerminal(stderr) {
		eng.Progress = progressBar(stderr)
	}
	sum, runErr := eng.Run(ctx, f.dao, f.period, payout.RunOptions{ExpectSHA256: f.manifest})
	fmt.Fprintf(stdout, "%s %s manifest %s: %d paid (%d before this run), %d pending, %d failed; %d sent, %d settled from blocks, %d new attempts\n",
		f.dao, f.period, sum.Manifest.SHA256, sum.Paid, sum.Skipped, sum.Pending, sum.Failed, sum.Sent, sum.Reconciled, sum.NewAttempts)
	if runErr != nil {
		return 1, runErr
	}
	return 0, nil
}

// manifestJSON is how plan prints a manifest.
type manifestJSON struct {
	DAO            string            `json:"dao"`
	Period         string            `json:"period"`
	ManifestSHA256 string            `json:"manifest_sha256"`
	RulesVersion   string            `json:"rules_version"`
	InputHashes    map[string]string `json:"input_hashes"`
	Transfers      int               `json:"transfers"`
	TotalAmountE8s int64             `json:"total_amount_e8s"`
	TotalFeeE8s    int64             `json:"total_fee_e8s"`
	TotalDebitE8s  int64             `json:"total_debit_e8s"`
	CarriedE8s     int64             `json:"carried_e8s"`
	TotalICP       string            `json:"total_icp"`
	Written        bool              `json:"written"`
	DryRun         bool              `json:"dry_run"`
	Intents        []intentJSON      `json:"intents"`
}

type intentJSON struct {
	IntentID       string `json:"intent_id"`
	PoolID         string `json:"pool_id"`
	Role           string `json:"role"`
	Recipient      string `json:"recipient"`
	AmountE8s      int64  `json:"amount_e8s"`
	FeeE8s         int64  `json:"fee_e8s"`
	MemoHex        string `json:"memo_hex"`
	CreatedAtNanos uint64 `json:"created_at_nanos"`
}

func printManifest(w io.Writer, m rules.Manifest, written, dry bool) error {
	out := manifestJSON{DAO: m.DAO, Period: m.Period, ManifestSHA256: m.SHA256, RulesVersion: m.RulesVersion, InputHashes: m.InputHashes,
		Transfers: len(m.Intents), TotalAmountE8s: m.TotalAmountE8s, TotalFeeE8s: m.TotalFeeE8s, TotalDebitE8s: m.TotalAmountE8s + m.TotalFeeE8s,
		CarriedE8s: m.CarriedE8s, TotalICP: money.FormatICP(money.E8s(m.TotalAmountE8s)), Written: written, DryRun: dry}
	for _, in := range m.Intents {
		out.Intents = append(out.Intents, intentJSON{IntentID: in.IntentID, PoolID: in.PoolID, Role: in.Role, Recipient: in.Recipient,
			AmountE8s: in.AmountE8s, FeeE8s: in.FeeE8s, MemoHex: in.MemoHex, CreatedAtNanos: in.CreatedAtNanos})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func printStatus(w io.Writer, dao, period string, st payout.Status, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"dao": dao, "period": period, "planned": st.Planned, "manifest_sha256": st.Manifest.SHA256,
			"approved": st.Approved, "approvers": st.Approvers, "paid": st.Paid, "pending": st.Pending, "failed": st.Failed,
			"paid_e8s": st.PaidE8s, "pending_e8s": st.PendingE8s, "failed_e8s": st.FailedE8s, "new_attempts": st.Attempts,
			"all_paid": st.AllPaid, "reasons": st.FailedReasons})
		return
	}
	if !st.Planned {
		fmt.Fprintf(w, "%s %s: not planned (nodeshare payout plan)\n", dao, period)
		return
	}
	fmt.Fprintf(w, "%s %s manifest %s\napproved: %v by %v\n", dao, period, st.Manifest.SHA256, st.Approved, st.Approvers)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "STATUS\tCOUNT\tAMOUNT ICP\t")
	fmt.Fprintf(tw, "paid\t%d\t%s\t\n", st.Paid, money.FormatICP(money.E8s(st.PaidE8s)))
	fmt.Fprintf(tw, "pending\t%d\t%s\t\n", st.Pending, money.FormatICP(money.E8s(st.PendingE8s)))
	fmt.Fprintf(tw, "failed\t%d\t%s\t\n", st.Failed, money.FormatICP(money.E8s(st.FailedE8s)))
	fmt.Fprintf(tw, "total\t%d\t%s\t\n", len(st.Manifest.Intents), money.FormatICP(money.E8s(st.Manifest.TotalAmountE8s)))
	tw.Flush()
	if st.Attempts > 0 {
		fmt.Fprintf(w, "new attempts after the 24 h window: %d\n", st.Attempts)
	}
	for _, id := range slices.Sorted(maps.Keys(st.FailedReasons)) {
		fmt.Fprintf(w, "  %s: %s\n", id, st.FailedReasons[id])
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressBar draws "[#####     ] done/total" on w, at most every 100 ms.
func progressBar(w io.Writer) func(done, total int) {
	var last time.Time
	return func(done, total int) {
		if done != total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		const width = 40
		n := width * done / max(total, 1)
		fmt.Fprintf(w, "\r[%s%s] %d/%d", strings.Repeat("#", n), strings.Repeat(" ", width-n), done, total)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}

// lockPayout takes an exclusive lock for the DAO's payouts on this host
// (flock: released by the kernel when the process dies, even by kill -9).
// Two runners on one DAO could each prove an intent absent and re-attempt
// it with different created_at_times; the lock forbids that.
func lockPayout(dir, dao string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "payout-"+strings.NewReplacer("/", "_", "\x00", "_").Replace(dao)+".lock")
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fh.Close()
		return nil, fmt.Errorf("another payout run or signer holds %s (%v): one runner per DAO", path, err)
	}
	return func() { _ = syscall.Flock(int(fh.Fd()), syscall.LOCK_UN); fh.Close() }, nil
}
