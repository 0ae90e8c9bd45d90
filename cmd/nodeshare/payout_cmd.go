package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/schemas"
)

// payoutCmd is `nodeshare payout`: the operator's runbook is
// docs/payouts.md.
type payoutCmd struct {
	Plan        payoutPlanCmd        `cmd:"" help:"Build the period's manifest from its entitlements and store it once (--dry-run: print only)."`
	Release     payoutReleaseCmd     `cmd:"" help:"Release a period the sanity checks hold (a reward or rate out of bounds, a foreign account or node provider), with a reason; recorded and audited."`
	PlanPool    payoutPlanPoolCmd    `cmd:"" name:"plan-pool" help:"Plan a pool's lifecycle transfers (refunds, settlement, bond) not planned yet: one manifest per pool account."`
	Approve     payoutApproveCmd     `cmd:"" help:"Sign and record one approver's approval of a manifest hash (m-of-n approver set)."`
	ApproverKey payoutApproverKeyCmd `cmd:"" name:"approver-key" help:"Print an approver's --approvers entry (name=<public key DER hex>) from its dfx identity or Vault transit key."`
	Run         payoutRunCmd         `cmd:"" help:"Check everything, then sign and send every unpaid transfer of an approved manifest."`
	Status      payoutStatusCmd      `cmd:"" help:"Paid / pending / failed counts and amounts of a period."`
	Resume      payoutResumeCmd      `cmd:"" help:"Continue an interrupted run; past the ledger's 24 h window it reads the blocks first."`
}

// payoutBase is what every payout subcommand reads.
type payoutBase struct {
	kafkaFlags
	clickhouseFlags
	localFlags
	daoPeriodFlags
	Timeout time.Duration `name:"timeout" default:"30m" help:"Give up after this long (a stopped run is resumed safely)."`
}

// Validate checks every group (kong calls it after parsing).
func (b *payoutBase) Validate() error {
	return validateAll(b.kafkaFlags, b.clickhouseFlags, b.daoPeriodFlags)
}

func (b *payoutBase) engine(e env, approval rules.Approval, caps rules.Caps, concurrency int) (*payout.Engine, func(), stage.Crash, *atomic.Bool, context.Context, error) {
	ctx, cancel := context.WithTimeout(e.ctx, b.Timeout)
	log := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	store, closeStore, err := openPayoutStore(ctx, services(&b.kafkaFlags, &b.clickhouseFlags, nil, nil, &b.localFlags, nil))
	if err != nil {
		cancel()
		return nil, nil, nil, nil, nil, err
	}
	crash, armed := armedCrash(crashFromEnv())
	eng := &payout.Engine{Store: store, Approval: approval, Verifier: ic.Verifier{}, Caps: caps, Concurrency: concurrency, Log: log, Crash: crash}
	return eng, func() { closeStore(); cancel() }, crash, armed, ctx, nil
}

type payoutPlanCmd struct {
	payoutBase
	sanityFlags
	DryRun bool `name:"dry-run" help:"Print the manifest without writing anything."`
}

// Run builds the manifest of one DAO period from its entitlements in
// ClickHouse: every transfer (recipient, amount, fee, memo = intent id,
// created_at_time = plan time), totals, rules version, input hashes and
// the manifest hash. The first plan is written; planning again prints the
// stored manifest.
func (c *payoutPlanCmd) Run(e env) error {
	eng, done, _, _, ctx, err := c.engine(e, rules.Approval{}, rules.Caps{}, 1)
	if err != nil {
		return err
	}
	defer done()
	eng.Sanity = c.gate(eng.Store.(*payout.DurableStore).Tables.(payout.SanityStore))
	m, created, err := eng.Plan(ctx, c.DAO, c.Period, !c.DryRun)
	if err != nil {
		return err
	}
	return payout.WriteManifest(e.stdout, m, created && !c.DryRun, c.DryRun)
}

func (c *payoutPlanCmd) Validate() error { return validateAll(&c.payoutBase, c.sanityFlags) }

// payoutPlanPoolCmd plans the transfers a pool's lifecycle owes
// (docs/pools.md, docs/payouts.md "Lifecycle transfers"): the transfers
// out of its deposit account, then those out of its bond account, each
// set not planned before becoming one manifest, approved and run like a
// reward period's under the period it prints.
type payoutPlanPoolCmd struct {
	kafkaFlags
	clickhouseFlags
	localFlags
	DAO      string        `name:"dao" env:"NODESHARE_DAO" required:"" help:"DAO name."`
	Pool     string        `name:"pool-id" required:"" help:"The pool whose lifecycle transfers are planned."`
	Treasury string        `name:"treasury" env:"NODESHARE_TREASURY_PRINCIPAL" required:"" help:"The DAO treasury principal (the signer's): the pool's accounts are its subaccounts."`
	DryRun   bool          `name:"dry-run" help:"Print the manifests without writing anything."`
	Timeout  time.Duration `name:"timeout" default:"5m" help:"Give up after this long."`
}

func (c *payoutPlanPoolCmd) Validate() error {
	if c.Pool == "" || strings.Contains(c.Pool, "/") {
		return fmt.Errorf("--pool-id must be a pool id without '/', got %q", c.Pool)
	}
	if _, err := schemas.AccountOf(c.Treasury, [32]byte{}); err != nil {
		return fmt.Errorf("--treasury: %w (NODESHARE_TREASURY_PRINCIPAL)", err)
	}
	return validateAll(c.kafkaFlags, c.clickhouseFlags)
}

func (c *payoutPlanPoolCmd) Run(e env) error {
	base := payoutBase{kafkaFlags: c.kafkaFlags, clickhouseFlags: c.clickhouseFlags, localFlags: c.localFlags, Timeout: c.Timeout}
	eng, done, _, _, ctx, err := base.engine(e, rules.Approval{}, rules.Caps{}, 1)
	if err != nil {
		return err
	}
	defer done()
	planned := 0
	for _, source := range []string{rules.SourceDeposit, rules.SourceBond} {
		acct, err := poolAccount(c.Treasury, c.DAO, c.Pool, source)
		if err != nil {
			return err
		}
		// At most two: a plan interrupted before its header is completed
		// first, then what is left.
		for range 2 {
			m, created, err := eng.PlanLifecycle(ctx, c.DAO, c.Pool, source, acct.ID, !c.DryRun)
			if errors.Is(err, rules.ErrNothingToPlan) {
				break
			}
			if err != nil {
				return err
			}
			if err := payout.WriteManifest(e.stdout, m, created && !c.DryRun, c.DryRun); err != nil {
				return err
			}
			planned++
			if c.DryRun {
				break
			}
		}
	}
	if planned == 0 {
		fmt.Fprintf(e.stdout, "%s %s: no lifecycle transfer left to plan\n", c.DAO, c.Pool)
	}
	return nil
}

// poolSubaccount is the treasury subaccount a pool's lifecycle manifests
// of source pay from: its bond account for rules.SourceBond, else its
// deposit account (schemas.DepositSubaccount, schemas.BondSubaccount).
func poolSubaccount(dao, pool, source string) [32]byte {
	if source == rules.SourceBond {
		return schemas.BondSubaccount(dao, pool)
	}
	return schemas.DepositSubaccount(dao, pool)
}

// poolAccount is a pool's deposit or bond account of the treasury.
func poolAccount(treasury, dao, pool, source string) (schemas.Account, error) {
	return schemas.AccountOf(treasury, poolSubaccount(dao, pool, source))
}

type payoutApproveCmd struct {
	payoutBase
	approvalFlags
	approverKeyFlags
	Vault    vaultFlags `embed:""`
	Manifest string     `name:"manifest" required:"" help:"Manifest hash being approved (from nodeshare payout plan)."`
	Approver string     `name:"approver" env:"NODESHARE_PAYOUT_APPROVER" required:"" help:"Who approves (must be in --approvers, with the public key of the signing key)."`
}

func (c *payoutApproveCmd) Validate() error {
	return validateAll(&c.payoutBase, c.approvalFlags, c.approverKeyFlags)
}

// Run signs --approver's approval of --manifest for the period with the
// approver's key (a dfx identity or a Vault transit key); run needs
// --threshold distinct signed approvals of exactly that hash.
func (c *payoutApproveCmd) Run(e env) error {
	eng, done, _, _, ctx, err := c.engine(e, c.mustApproval(), rules.Caps{}, 1)
	if err != nil {
		return err
	}
	defer done()
	signer, err := c.approverKeyFlags.open(ctx, c.Vault)
	if err != nil {
		return err
	}
	ok, who, err := eng.Approve(ctx, c.DAO, c.Period, c.Manifest, c.Approver, signer)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "manifest %s approved by %s (signed); approvals %v: %d of %d needed, approved=%v\n", c.Manifest, c.Approver, who, c.Threshold, len(eng.Approval.Approvers), ok)
	return nil
}

// payoutApproverKeyCmd prints an approver's entry of the approver set:
// name=<public key DER hex> of the approver's dfx identity or Vault transit
// key, for --approvers.
type payoutApproverKeyCmd struct {
	approverKeyFlags
	Vault vaultFlags `embed:""`
	Name  string     `name:"name" required:"" help:"The approver's name in the set."`
}

func (c *payoutApproverKeyCmd) Validate() error {
	if c.Name == "" || strings.ContainsAny(c.Name, " ,/=") {
		return fmt.Errorf("--name %q: names are non-empty, without spaces, commas, slashes or '='", c.Name)
	}
	return c.approverKeyFlags.Validate()
}

func (c *payoutApproverKeyCmd) Run(e env) error {
	signer, err := c.approverKeyFlags.open(e.ctx, c.Vault)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s=%x\n", c.Name, signer.PublicKeyDER())
	return nil
}

type payoutStatusCmd struct {
	payoutBase
	approvalFlags
	JSON bool `name:"json" help:"Print JSON."`
}

func (c *payoutStatusCmd) Validate() error {
	return validateAll(&c.payoutBase, c.approvalFlags)
}

// Run prints the period's manifest hash, approvals and paid / pending /
// failed counts and amounts.
// Run reads only: no topic is created, no migration applied, and the
// ClickHouse session is read-only (clickhouse.OpenReadOnly), so status
// works with an auditor's read-only user.
func (c *payoutStatusCmd) Run(e env) error {
	ctx, cancel := context.WithTimeout(e.ctx, c.Timeout)
	defer cancel()
	tables, err := clickhouse.OpenReadOnly(ctx, c.clickhouseFlags.config())
	if err != nil {
		return err
	}
	defer tables.Close()
	eng := &payout.Engine{Store: payout.NewDurableStore(nil, tables, nil), Approval: c.mustApproval(), Verifier: ic.Verifier{}}
	st, err := eng.Status(ctx, c.DAO, c.Period)
	if err != nil {
		return err
	}
	payout.WriteStatus(e.stdout, c.DAO, c.Period, st, c.JSON)
	return nil
}

// payoutRunCmd pays an approved manifest. Before the first signature: the
// manifest still equals the one the entitlements plan to, it is approved,
// conservation holds, every recipient is a sponsor or the hoster of its
// pool, the caps hold, the ledger fee is the planned fee and the treasury
// covers every pending amount plus fees. Any failure stops with the reason
// and nothing signed. Exit 0 when every intent is paid; 1 otherwise (see
// status, then resume).
type payoutRunCmd struct {
	payoutBase
	approvalFlags
	runFlags
	vaultFlags
	icFlags
	signerKeyFlags
	Manifest string `name:"manifest" help:"Refuse unless the stored manifest has this hash."`
	JSON     bool   `name:"json" help:"Print the outcome as JSON (the exit codes are the same: 3 refused, 4 partly paid)."`
}

func (c *payoutRunCmd) Validate() error {
	cfg := services(nil, nil, &c.vaultFlags, nil, nil, &c.signerKeyFlags)
	return validateAll(&c.payoutBase, c.approvalFlags, c.runFlags, c.icFlags, &cfg.Vault)
}

func (c *payoutRunCmd) Run(e env) error { return c.pay(e, false) }

// payoutResumeCmd continues a run (same checks, same safety): intents
// inside the ledger's 24 h window are resent with their memo and
// created_at_time (the ledger de-duplicates); past the window the blocks
// are read first, a matching transfer is recorded as paid with its block,
// and only an intent the ledger proves absent (certified TooOld, no
// matching block) gets a new created_at_time, recorded as a new attempt
// before it is signed.
type payoutResumeCmd struct{ payoutRunCmd }

func (c *payoutResumeCmd) Run(e env) error { return c.pay(e, true) }

func (c *payoutRunCmd) pay(e env, resume bool) error {
	eng, done, crash, armed, ctx, err := c.engine(e, c.mustApproval(), c.caps(), c.Concurrency)
	if err != nil {
		return err
	}
	defer done()
	// One process per DAO at a time.
	unlock, err := lockPayout(c.LocalDir, c.DAO)
	if err != nil {
		return err
	}
	defer unlock()
	if resume {
		st, err := eng.Status(ctx, c.DAO, c.Period)
		if err != nil {
			return err
		}
		if !st.Planned {
			return fmt.Errorf("%s %s: nothing to resume: no manifest planned", c.DAO, c.Period)
		}
	}
	cfg := services(&c.kafkaFlags, &c.clickhouseFlags, &c.vaultFlags, &c.icFlags, &c.localFlags, &c.signerKeyFlags)
	ledger, err := payoutLedger(ctx, cfg, c.signerConfig(), crash, armed, eng.Log, nil)
	if err != nil {
		return err
	}
	// A lifecycle manifest is paid from its pool's deposit or bond
	// subaccount of the treasury; the run checks that every transfer
	// leaves that account.
	if pool, source, _, ok := rules.ParseLifecyclePeriod(c.Period); ok {
		sub := poolSubaccount(c.DAO, pool, source)
		ledger.Treasury.SubAccount = &sub
	}
	eng.Ledger = ledger
	if isTerminal(e.stderr) {
		eng.Progress = progressBar(e.stderr)
	}
	sum, runErr := eng.Run(ctx, c.DAO, c.Period, payout.RunOptions{ExpectSHA256: c.Manifest})
	if len(sum.Manifest.Intents) > 0 {
		writeRunReport(ctx, cfg, c.DAO, c.Period, ledger, eng.Log, nil)
	}
	if c.JSON {
		return payoutOutcomeJSON(e, c.DAO, c.Period, sum, runErr)
	}
	return payoutOutcome(e.stdout, c.DAO, c.Period, sum, runErr)
}

// payoutOutcomeJSON is payoutOutcome as one JSON object.
func payoutOutcomeJSON(e env, dao, period string, sum payout.Summary, runErr error) error {
	moved := sum.Sent > 0 || sum.Reconciled > 0 || sum.NewAttempts > 0
	out := map[string]any{"dao": dao, "period": period, "manifest_sha256": sum.Manifest.SHA256, "intents": len(sum.Manifest.Intents),
		"paid": sum.Paid, "paid_before": sum.Skipped, "pending": sum.Pending, "failed": sum.Failed, "sent": sum.Sent,
		"settled_from_blocks": sum.Reconciled, "new_attempts": sum.NewAttempts, "approved_by_votes": sum.ApprovedByVotes}
	var code int
	switch {
	case runErr != nil && !moved:
		out["outcome"], out["pending"], code = "refused", len(sum.Manifest.Intents)-sum.Skipped, exitRefused
	case runErr != nil:
		out["outcome"], code = "partly_paid", exitPartlyPaid
	default:
		out["outcome"] = "paid"
	}
	if runErr != nil {
		out["error"] = runErr.Error()
	}
	if err := printJSON(e, out); err != nil {
		return err
	}
	if code != 0 {
		return &codedError{code: code, err: runErr}
	}
	return nil
}

// Exit codes of payout run and resume (docs/payouts.md): 0 every intent
// paid; 3 refused before the first signature, nothing signed; 4 partly
// paid (some sent or settled, some pending or failed: resume); 1 any other
// failure.
const (
	exitRefused    = 3
	exitPartlyPaid = 4
)

// payoutOutcome prints what a run did and picks its exit.
func payoutOutcome(w io.Writer, dao, period string, sum payout.Summary, runErr error) error {
	moved := sum.Sent > 0 || sum.Reconciled > 0 || sum.NewAttempts > 0
	if runErr != nil && !moved {
		// Refused before signing: Run counted nothing, every unpaid intent
		// is still pending.
		unpaid := len(sum.Manifest.Intents) - sum.Skipped
		fmt.Fprintf(w, "%s %s manifest %s: refused, nothing signed: %d of %d intents unpaid (%d paid before)\n",
			dao, period, sum.Manifest.SHA256, unpaid, len(sum.Manifest.Intents), sum.Skipped)
		return &codedError{code: exitRefused, err: runErr}
	}
	if len(sum.ApprovedByVotes) > 0 {
		fmt.Fprintf(w, "%s %s manifest %s: approved by the sponsors' votes %s\n", dao, period, sum.Manifest.SHA256, strings.Join(sum.ApprovedByVotes, ", "))
	}
	fmt.Fprintf(w, "%s %s manifest %s: %d paid (%d before this run), %d pending, %d failed; %d sent, %d settled from blocks, %d new attempts\n",
		dao, period, sum.Manifest.SHA256, sum.Paid, sum.Skipped, sum.Pending, sum.Failed, sum.Sent, sum.Reconciled, sum.NewAttempts)
	if runErr != nil {
		return &codedError{code: exitPartlyPaid, err: runErr}
	}
	return nil
}

// openPayoutStore connects the payout stage's store: the event log
// (Kafka, topics created when missing) and the tables (ClickHouse, migrated).
func openPayoutStore(ctx context.Context, cfg config) (*payout.DurableStore, func(), error) {
	brokers := cfg.brokers()
	if err := kafka.EnsureTopicsWith(ctx, brokers, schemas.Topics(), cfg.KafkaTopics); err != nil {
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

// payoutReleaseCmd releases a held period (docs/payouts.md "Sanity
// holds"): the release names exactly the holds it releases, the reason
// and who released them; it goes to dao.payout-releases.v1, then to
// ClickHouse.
type payoutReleaseCmd struct {
	payoutBase
	sanityFlags
	Reason   string `name:"reason" required:"" help:"Why the period may be paid although it is held (recorded and audited)."`
	Releaser string `name:"releaser" env:"NODESHARE_PAYOUT_APPROVER" required:"" help:"Who releases it."`
}

func (c *payoutReleaseCmd) Validate() error { return validateAll(&c.payoutBase, c.sanityFlags) }

func (c *payoutReleaseCmd) Run(e env) error {
	eng, done, _, _, ctx, err := c.engine(e, rules.Approval{}, rules.Caps{}, 1)
	if err != nil {
		return err
	}
	defer done()
	store := eng.Store.(*payout.DurableStore)
	gate := c.gate(store.Tables.(payout.SanityStore))
	r, err := gate.Release(ctx, store, store, c.DAO, c.Period, c.Reason, c.Releaser, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s %s released by %s (holds %s):\n%s\nreason: %s\n", r.DAO, r.Period, r.Releaser, r.HoldsSHA256, r.Holds, r.Reason)
	return nil
}
