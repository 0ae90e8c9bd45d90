package payout

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
	"github.com/nodeshare/nodeshare/schemas"
)

// Crash points: where the crash hook fires, for the kill -9 tests and the
// deterministic simulation. In production the hook is nil.
const (
	CrashAfterPlan    = "after-plan"    // intents and header durable, nothing signed
	CrashAfterAttempt = "after-attempt" // a new attempt durable, not yet signed
	CrashAfterSign    = "after-sign"    // a transfer request signed, not yet sent (fired by the identity wrapper)
	CrashAfterSend    = "after-send"    // the ledger answered, the result not yet recorded
	CrashAfterResult  = "after-result"  // one result recorded (mid-batch)
	PhaseSending      = "sending"       // every check passed; the first signature follows
)

// Engine is the payout workflow: plan, approve, run (and resume, which is
// run), status. It is the same code under the CLI, the signer daemon, the
// demo and the tests; only the ports change.
type Engine struct {
	Store    Store
	Ledger   Ledger
	Approval rules.Approval
	// Verifier checks approvers' signatures (connectors/ic.Verifier).
	Verifier rules.SignatureVerifier
	Caps     rules.Caps
	// Concurrency is the number of transfers in flight (default 4).
	Concurrency int
	// MaxTries bounds sends of one attempt on transient or unknown
	// outcomes within a run (default 5); RetryWait is the first backoff
	// (default 500 ms), doubling with jitter (package retry).
	MaxTries  int
	RetryWait time.Duration
	Log       *slog.Logger
	Clock     stage.Clock
	// Crash is the kill-test hook, fired at the Crash* points.
	Crash stage.Crash
	// Progress, when set, is told of each settled intent.
	Progress func(done, total int)
	// Sanity, when set, gates a new plan of a reward period: a period
	// whose reward is held is not planned until released (holds.go).
	Sanity *Sanity
	// Observer, when set, is told of every transfer outcome recorded.
	Observer Observer

	blocksMu sync.Mutex
	blocks   blockCache
	settled  sync.Map // intent id -> result recorded from blocks before sending
}

// Summary is what a run did.
type Summary struct {
	Manifest rules.Manifest
	Results  map[string]schemas.PayoutResult
	// Sent counts intents sent in this run (first sends and retries of an
	// earlier run's sends), Skipped the intents already paid before it.
	Sent, Skipped int
	// Reconciled counts intents found paid by reading the ledger's blocks,
	// NewAttempts the intents given a new created_at_time.
	Reconciled, NewAttempts int
	Paid, Pending, Failed   int
	// ApprovedByVotes lists the sponsors' votes ("pool/vote_id") that
	// approved the manifest when the signed approvals did not.
	ApprovedByVotes []string
}

// Observer is the port the engine reports transfer outcomes through
// (cmd/nodeshare passes the metrics connector).
type Observer interface {
	// TransferSettled counts one transfer outcome made durable: status is
	// schemas.PayoutPaid, PayoutFailed or PayoutPending (sent, outcome
	// not verified yet), amountE8s the intent's amount.
	TransferSettled(status string, amountE8s int64)
}

// ErrStopRun marks a condition under which no further transfer may be
// signed in this run (every later one would fail the same way, or the
// treasury could be overdrawn).
var ErrStopRun = errors.New("payout run stopped")

func (e *Engine) defaults() {
	if e.Concurrency <= 0 {
		e.Concurrency = 4
	}
	if e.MaxTries <= 0 {
		e.MaxTries = 5
	}
	if e.RetryWait <= 0 {
		e.RetryWait = 500 * time.Millisecond
	}
	if e.Clock == nil {
		e.Clock = stage.SystemClock{}
	}
	if e.Log == nil {
		e.Log = slog.New(slog.DiscardHandler)
	}
}

// plan returns the period's manifest, planning and storing it when it does
// not exist yet (write is false for --dry-run). A stored manifest is
// returned as stored: re-planning never changes created_at_time, memo or
// amount of a planned transfer. created reports a new plan.
func (e *Engine) Plan(ctx context.Context, dao, period string, write bool) (m rules.Manifest, created bool, err error) {
	e.defaults()
	if rules.IsLifecyclePeriod(period) {
		return m, false, fmt.Errorf("payout %s %s: a lifecycle manifest is planned per pool account (PlanLifecycle), not by period", dao, period)
	}
	ents, err := e.Store.Entitlements(ctx, dao, period)
	if err != nil {
		return m, false, err
	}
	if len(ents) == 0 {
		return m, false, fmt.Errorf("payout %s %s: no entitlements (has the reward been minted and allocated, and has the sink run?)", dao, period)
	}
	pools, err := e.Store.PoolPeriods(ctx, dao, period)
	if err != nil {
		return m, false, err
	}
	if err := rules.CheckConservation(pools, ents); err != nil {
		return m, false, fmt.Errorf("payout %s %s: %w", dao, period, err)
	}
	h, intents, err := e.storedPlan(ctx, dao, period)
	if err != nil {
		return m, false, err
	}
	switch {
	case h != nil:
		if m, err = rules.FromStored(*h, intents); err != nil {
			return m, false, err
		}
		return m, false, nil
	case len(intents) > 0:
		// Intents without a header: a plan from before headers (v1), or a
		// plan interrupted between its intents and its header.
		if m, err = rules.FromIntents(dao, period, intents); err == nil {
			return m, false, nil
		}
		again, perr := rules.PlanWithInputs(dao, period, ents, pools, intents[0].CreatedAtNanos)
		if perr != nil {
			return m, false, perr
		}
		if again.SHA256 != intents[0].ManifestSHA256 {
			return m, false, fmt.Errorf("payout %s %s: stored intents carry manifest %s but the entitlements now plan to %s: stop and investigate", dao, period, intents[0].ManifestSHA256, again.SHA256)
		}
		m = again
	default:
		if e.Sanity != nil {
			if err := e.Sanity.Gate(ctx, dao, period, pools); err != nil {
				return m, false, err
			}
		}
		if m, err = rules.PlanWithInputs(dao, period, ents, pools, uint64(e.Clock.Now().UnixNano())); err != nil {
			return m, false, err
		}
	}
	return e.savePlan(ctx, m, write)
}

// PlanLifecycle plans the next lifecycle manifest of a pool's account
// (source: rules.SourceDeposit or rules.SourceBond; from: that account's
// identifier, 64 hex; a run must sign from it): every transfer its
// lifecycle owes from the account that is not planned yet
// (rules.PlanLifecycle). It needs no ledger. A plan interrupted
// between its intents and its header is completed first, as it was
// planned, and returned. rules.ErrNothingToPlan when nothing is left.
// Approve, Run and Status then take the manifest's period like any other.
func (e *Engine) PlanLifecycle(ctx context.Context, dao, pool, source, from string, write bool) (m rules.Manifest, created bool, err error) {
	e.defaults()
	if source != rules.SourceDeposit && source != rules.SourceBond {
		return m, false, fmt.Errorf("lifecycle payout %s %s: source must be %q or %q, got %q", dao, pool, rules.SourceDeposit, rules.SourceBond, source)
	}
	if err := schemas.ValidateAccountIdentifier(from); err != nil {
		return m, false, fmt.Errorf("lifecycle payout %s %s: the %s account: %w", dao, pool, source, err)
	}
	ts, err := e.Store.PoolTransfers(ctx, dao, pool)
	if err != nil {
		return m, false, err
	}
	intents, err := e.Store.PoolIntents(ctx, dao, pool)
	if err != nil {
		return m, false, err
	}
	planned := map[string]bool{}
	byPeriod := map[string][]schemas.PayoutIntent{}
	for _, in := range intents {
		if p, src, _, ok := rules.ParseLifecyclePeriod(in.Period); ok && p == pool {
			planned[in.IntentID] = true
			if src == source {
				byPeriod[in.Period] = append(byPeriod[in.Period], in)
			}
		}
	}
	for _, period := range sortedPeriods(byPeriod) {
		h, err := e.Store.Manifest(ctx, dao, period)
		if err != nil {
			return m, false, err
		}
		if h != nil {
			continue
		}
		// Intents without their header: plan the same transfers again with
		// the same created_at_time; it must give the hash they carry.
		ins := byPeriod[period]
		seqs := map[string]bool{}
		for _, in := range ins {
			seqs[in.IntentID] = true
		}
		var same []schemas.PoolTransfer
		for _, t := range ts {
			id := rules.LifecycleIntentID(dao, pool, t.Seq)
			if seqs[hex.EncodeToString(id[:])] {
				same = append(same, t)
			}
		}
		again, err := rules.PlanLifecycle(dao, pool, source, from, same, nil, ins[0].CreatedAtNanos)
		if err != nil {
			return m, false, err
		}
		if again.Period != period || again.SHA256 != ins[0].ManifestSHA256 || len(again.Intents) != len(ins) {
			return m, false, fmt.Errorf("lifecycle payout %s %s: stored intents of %s carry manifest %s but the transfers now plan to %s %s: stop and investigate",
				dao, pool, period, ins[0].ManifestSHA256, again.Period, again.SHA256)
		}
		return e.savePlan(ctx, again, write)
	}
	if m, err = rules.PlanLifecycle(dao, pool, source, from, ts, planned, uint64(e.Clock.Now().UnixNano())); err != nil {
		return m, false, err
	}
	return e.savePlan(ctx, m, write)
}

// savePlan stores a new plan (unless write is false, a dry run).
func (e *Engine) savePlan(ctx context.Context, m rules.Manifest, write bool) (rules.Manifest, bool, error) {
	if !write {
		return m, true, nil
	}
	if err := e.Store.SavePlan(ctx, m.Header(), m.Intents); err != nil {
		return m, false, fmt.Errorf("payout %s %s: store the plan (nothing signed; plan again): %w", m.DAO, m.Period, err)
	}
	e.Log.Info("payout planned", "dao", m.DAO, "period", m.Period, "manifest_sha256", m.SHA256, "intents", len(m.Intents),
		"total_amount_e8s", m.TotalAmountE8s, "total_fee_e8s", m.TotalFeeE8s)
	e.Crash.At(CrashAfterPlan)
	return m, true, nil
}

func sortedPeriods(m map[string][]schemas.PayoutIntent) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ApprovalSigner signs one approver's approval with that approver's key: a
// dfx PEM identity (connectors/ic.PEMSigner) or a Vault transit key
// (connectors/vault.TransitSigner).
type ApprovalSigner interface {
	PublicKeyDER() []byte
	Sign(ctx context.Context, message []byte) ([]byte, error)
}

// Approve signs approver's approval of the period's stored manifest, which
// must have the hash the approver saw, with signer, whose key must be the
// one configured for approver; the signature is verified before it is
// recorded. It returns whether the manifest is now approved and by whom.
func (e *Engine) Approve(ctx context.Context, dao, period, sha, approver string, signer ApprovalSigner) (bool, []string, error) {
	e.defaults()
	if e.Verifier == nil {
		return false, nil, errors.New("approve: no signature verifier configured")
	}
	key, ok := e.Approval.Key(approver)
	if !ok {
		return false, nil, fmt.Errorf("approve: %q is not in the approver set %v", approver, e.Approval.Names())
	}
	if signer == nil {
		return false, nil, fmt.Errorf("approve: %q gave no key to sign with: a name alone approves nothing", approver)
	}
	if pub := signer.PublicKeyDER(); !bytes.Equal(pub, key) {
		return false, nil, fmt.Errorf("approve: the signing key %x is not approver %q's configured key %x", pub, approver, key)
	}
	m, found, err := e.Stored(ctx, dao, period)
	if err != nil {
		return false, nil, err
	}
	if !found {
		return false, nil, fmt.Errorf("approve %s %s: no manifest planned (run nodeshare payout plan first)", dao, period)
	}
	if m.SHA256 != sha {
		return false, nil, fmt.Errorf("approve %s %s: the stored manifest is %s, not %s: review the plan again", dao, period, m.SHA256, sha)
	}
	sig, err := signer.Sign(ctx, schemas.PayoutApprovalMessage(dao, period, sha))
	if err != nil {
		return false, nil, fmt.Errorf("approve %s %s: sign as %q: %w", dao, period, approver, err)
	}
	a := schemas.PayoutApproval{DAO: dao, Period: period, ManifestSHA256: sha, Approver: approver, ApprovedAt: e.Clock.Now().UTC().Format(time.RFC3339),
		PublicKeyDER: hex.EncodeToString(key), Signature: hex.EncodeToString(sig)}
	if err := e.Approval.Check(dao, period, sha, a, e.Verifier); err != nil {
		return false, nil, fmt.Errorf("approve %s %s: %w: nothing recorded", dao, period, err)
	}
	if err := e.Store.SaveApproval(ctx, a); err != nil {
		return false, nil, err
	}
	aps, err := e.Store.Approvals(ctx, sha)
	if err != nil {
		return false, nil, err
	}
	ok, who, _ := e.Approval.Approved(dao, period, sha, aps, e.Verifier)
	return ok, who, nil
}

// stored loads the period's stored manifest: a v2 plan (header and
// intents) or a v1 plan from before headers (intents only). found is false
// when nothing is planned.
func (e *Engine) Stored(ctx context.Context, dao, period string) (m rules.Manifest, found bool, err error) {
	m, _, found, err = e.loadPlan(ctx, dao, period)
	return m, found, err
}

// loadPlan reads the period's stored manifest: a v2 plan (header and
// intents; v2 is true) or a v1 plan from before headers (intents only).
// found is false when nothing is planned.
func (e *Engine) loadPlan(ctx context.Context, dao, period string) (m rules.Manifest, v2, found bool, err error) {
	h, intents, err := e.storedPlan(ctx, dao, period)
	if err != nil {
		return m, false, false, err
	}
	switch {
	case h != nil:
		m, err = rules.FromStored(*h, intents)
	case len(intents) > 0:
		m, err = rules.FromIntents(dao, period, intents)
	default:
		return m, false, false, nil
	}
	return m, h != nil, err == nil, err
}

// storedPlan reads the period's stored manifest header (nil when there is
// none) and its intents.
func (e *Engine) storedPlan(ctx context.Context, dao, period string) (*schemas.PayoutManifest, []schemas.PayoutIntent, error) {
	h, err := e.Store.Manifest(ctx, dao, period)
	if err != nil {
		return nil, nil, err
	}
	intents, err := e.Store.Intents(ctx, dao, period)
	if err != nil {
		return nil, nil, err
	}
	return h, intents, nil
}

// RunOptions select what a run accepts.
type RunOptions struct {
	// ExpectSHA256, when set, must equal the stored manifest's hash.
	ExpectSHA256 string
}

// run pays every unpaid intent of a planned and approved period, or
// settles it from the ledger's blocks. It is also resume: the same steps
// are safe at any point after a crash.
func (e *Engine) Run(ctx context.Context, dao, period string, opt RunOptions) (Summary, error) {
	e.defaults()
	var sum Summary
	m, v2, found, err := e.loadPlan(ctx, dao, period)
	if err != nil {
		return sum, err
	}
	if !found {
		return sum, fmt.Errorf("payout %s %s: no manifest planned: run nodeshare payout plan, then approve", dao, period)
	}
	sum.Manifest = m
	if opt.ExpectSHA256 != "" && opt.ExpectSHA256 != m.SHA256 {
		return sum, fmt.Errorf("payout %s %s: the stored manifest is %s, not the %s given: nothing signed", dao, period, m.SHA256, opt.ExpectSHA256)
	}
	// The inputs (entitlements, or lifecycle transfers) must still plan
	// to exactly this manifest.
	checkPending, err := e.checkInputs(ctx, m, v2)
	if err != nil {
		return sum, err
	}
	aps, err := e.Store.Approvals(ctx, m.SHA256)
	if err != nil {
		return sum, err
	}
	if e.Verifier == nil {
		return sum, fmt.Errorf("payout %s %s: no signature verifier configured: nothing signed", dao, period)
	}
	if ok, who, refused := e.Approval.Approved(dao, period, m.SHA256, aps, e.Verifier); !ok {
		// The alternative: the sponsors' passed approve_manifest votes,
		// one in every pool of the manifest (rules.SponsorsApproved).
		sp, err := e.sponsors(ctx, m)
		if err != nil {
			return sum, fmt.Errorf("payout %s %s: %w: nothing signed", dao, period, err)
		}
		if !sp.Approved {
			why := ""
			if len(refused) > 0 {
				why = "; not counted: " + strings.Join(refused, "; ")
			}
			return sum, fmt.Errorf("payout %s %s: manifest %s is not approved: %d of %d signed approvals needed (have %v from %v%s), or a passed approve_manifest vote of every pool (%s): nothing signed",
				dao, period, m.SHA256, e.Approval.Threshold, len(e.Approval.Approvers), who, e.Approval.Names(), why, sponsorsWhy(sp))
		}
		sum.ApprovedByVotes = sp.Votes
		e.Log.Info("payout: manifest approved by the sponsors' votes", "dao", dao, "period", period, "manifest_sha256", m.SHA256, "votes", sp.Votes)
	}

	results, err := e.Store.Results(ctx, dao, period)
	if err != nil {
		return sum, err
	}
	attempts, err := e.Store.Attempts(ctx, dao, period)
	if err != nil {
		return sum, err
	}
	sum.Results = map[string]schemas.PayoutResult{}
	for k, v := range results {
		sum.Results[k] = v
	}
	var pending []schemas.PayoutIntent
	var need int64
	for _, in := range m.Intents {
		if res, ok := results[in.IntentID]; ok && res.Status == schemas.PayoutPaid {
			sum.Skipped++
			continue
		}
		pending = append(pending, in)
		need += in.AmountE8s + in.FeeE8s
	}
	if len(pending) == 0 {
		sum.Paid = len(m.Intents)
		e.Log.Info("payout: every intent already paid", "dao", dao, "period", period, "manifest_sha256", m.SHA256)
		return sum, nil
	}
	if err := checkPending(pending); err != nil {
		return sum, fmt.Errorf("%w: nothing signed", err)
	}
	// The ledger's fee must still be the planned fee: a transfer with
	// another fee is refused (BadFee) and a changed fee changes what every
	// recipient is owed.
	fee, err := e.Ledger.Fee(ctx)
	if err != nil {
		return sum, fmt.Errorf("payout %s %s: read the ledger fee: %w: nothing signed", dao, period, err)
	}
	for _, in := range pending {
		if uint64(in.FeeE8s) != fee {
			return sum, fmt.Errorf("payout %s %s: the ledger fee is now %d e8s, intent %s was planned with %d: nothing signed; the period must be re-allocated with the new fee (docs/payouts.md, BadFee)",
				dao, period, fee, in.IntentID, in.FeeE8s)
		}
	}
	// The treasury must cover every pending amount plus its fee before the
	// first signature. (An intent sent before but not yet settled may be
	// paid already; counting it again only makes the check stricter.)
	bal, err := e.Ledger.TreasuryBalance(ctx)
	if err != nil {
		return sum, fmt.Errorf("payout %s %s: treasury balance: %w: nothing signed", dao, period, err)
	}
	if bal < uint64(need) {
		// Some pending intents may already be on the ledger (a reply lost, a
		// process killed before its result was recorded). Settle those from
		// the blocks, read-only, before deciding.
		still, n, err := e.settleFromBlocks(ctx, pending, attempts)
		if err != nil {
			return sum, fmt.Errorf("payout %s %s: treasury %s holds %d e8s, the pending transfers need %d: reading the blocks for transfers already made: %w: nothing signed",
				dao, period, e.Ledger.TreasuryText(), bal, need, err)
		}
		sum.Reconciled += n
		for id, r := range e.settledResults() {
			sum.Results[id] = r
		}
		pending, need = still, 0
		for _, in := range pending {
			need += in.AmountE8s + in.FeeE8s
		}
	}
	if bal < uint64(need) {
		return sum, fmt.Errorf("payout %s %s: treasury %s holds %d e8s, the %d pending transfers need %d e8s with fees: nothing signed",
			dao, period, e.Ledger.TreasuryText(), bal, len(pending), need)
	}
	e.Log.Info("payout run", "dao", dao, "period", period, "manifest_sha256", m.SHA256, "pending", len(pending), "skipped", sum.Skipped, "need_e8s", need, "balance_e8s", bal)

	e.Crash.At(PhaseSending)
	// Transfers: concurrency workers; a stop condition lets in-flight
	// transfers finish and signs nothing new.
	var (
		mu       sync.Mutex
		firstErr error
		stopped  atomic.Bool
		done     int
		wg       sync.WaitGroup
	)
	work := make(chan schemas.PayoutIntent)
	for w := 0; w < e.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for in := range work {
				if stopped.Load() || ctx.Err() != nil {
					continue // sign nothing new after a stop
				}
				out := e.settle(ctx, in, attempts[in.IntentID])
				mu.Lock()
				if out.res.IntentID != "" {
					sum.Results[in.IntentID] = out.res
				}
				if out.sent {
					sum.Sent++
				}
				if out.reconciled {
					sum.Reconciled++
				}
				sum.NewAttempts += out.newAttempts
				if out.err != nil {
					if firstErr == nil || (errors.Is(out.err, ErrStopRun) && !errors.Is(firstErr, ErrStopRun)) {
						firstErr = out.err
					}
					if errors.Is(out.err, ErrStopRun) || ctx.Err() != nil {
						stopped.Store(true)
					}
				}
				done++
				if e.Progress != nil {
					e.Progress(done, len(pending))
				}
				mu.Unlock()
			}
		}()
	}
	for _, in := range pending {
		if stopped.Load() || ctx.Err() != nil {
			break
		}
		work <- in
	}
	close(work)
	wg.Wait()
	for _, in := range m.Intents {
		switch sum.Results[in.IntentID].Status {
		case schemas.PayoutPaid:
			sum.Paid++
		case schemas.PayoutFailed:
			sum.Failed++
		default:
			sum.Pending++
		}
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr == nil && sum.Paid != len(m.Intents) {
		firstErr = fmt.Errorf("payout %s %s: %d paid, %d pending, %d failed: run nodeshare payout resume", dao, period, sum.Paid, sum.Pending, sum.Failed)
	}
	return sum, firstErr
}

// checkInputs checks that the manifest's inputs, as stored now, still
// plan to it, and returns the check of the intents still to send that
// runs before the first signature: for a reward period the entitlements
// and pool periods (conservation, known recipients, caps), for a
// lifecycle period the pool's transfers, which must leave the account the
// ledger signs from (caps).
func (e *Engine) checkInputs(ctx context.Context, m rules.Manifest, v2 bool) (func([]schemas.PayoutIntent) error, error) {
	dao, period := m.DAO, m.Period
	if pool, _, _, ok := rules.ParseLifecyclePeriod(period); ok {
		from, err := e.sourceAccount()
		if err != nil {
			return nil, err
		}
		ts, err := e.Store.PoolTransfers(ctx, dao, pool)
		if err != nil {
			return nil, err
		}
		if err := rules.ReplanLifecycle(m, from, ts); err != nil {
			return nil, err
		}
		where := fmt.Sprintf("payout %s %s manifest %s", dao, period, m.SHA256)
		return func(pending []schemas.PayoutIntent) error { return rules.CheckCaps(where, m, pending, e.Caps) }, nil
	}
	ents, err := e.Store.Entitlements(ctx, dao, period)
	if err != nil {
		return nil, err
	}
	pools, err := e.Store.PoolPeriods(ctx, dao, period)
	if err != nil {
		return nil, err
	}
	if err := rules.CheckConservation(pools, ents); err != nil {
		return nil, fmt.Errorf("payout %s %s: %w: nothing signed", dao, period, err)
	}
	var again rules.Manifest
	if v2 {
		again, err = rules.PlanWithInputs(dao, period, ents, pools, m.CreatedAtNanos)
	} else {
		again, err = rules.Plan(dao, period, ents, m.Intents[0].CreatedAtNanos)
	}
	if err != nil {
		return nil, err
	}
	if again.SHA256 != m.SHA256 {
		return nil, fmt.Errorf("payout %s %s: entitlements changed since the manifest %s was planned (they now plan to %s): nothing signed, stop and investigate", dao, period, m.SHA256, again.SHA256)
	}
	return func(pending []schemas.PayoutIntent) error {
		return rules.CheckManifest(m, ents, pools, pending, e.Caps)
	}, nil
}

// sourceAccount is the account identifier (64 hex) the ledger signs
// from.
func (e *Engine) sourceAccount() (string, error) {
	id, err := e.Ledger.AccountID(e.Ledger.TreasuryText())
	if err != nil {
		return "", fmt.Errorf("payout: the account the ledger signs from (%s): %w", e.Ledger.TreasuryText(), err)
	}
	return hex.EncodeToString(id[:]), nil
}

// settleOutcome is what settling one intent did.
type settleOutcome struct {
	res         schemas.PayoutResult
	sent        bool
	reconciled  bool
	newAttempts int
	err         error
}

// settle brings one unpaid intent to a verified outcome if it can:
//
//   - inside the ledger's 24 h window the current attempt is sent again with
//     the same memo and created_at_time (the ledger de-duplicates: Ok or
//     Duplicate{block} both mean paid, each from a verified certificate);
//   - once the current attempt's window has passed (local clock, or the
//     ledger's certified TooOld), nothing is resent blindly: the blocks are
//     read and a matching transfer of any attempt is recorded as paid with
//     its block; only when the ledger has certified TooOld for the latest
//     attempt (so no attempt can ever execute again) and the blocks hold
//     none of them, a new attempt with a new created_at_time is written
//     durably, and only then signed and sent.
func (e *Engine) settle(ctx context.Context, in schemas.PayoutIntent, recorded []schemas.PayoutAttempt) (out settleOutcome) {
	base := schemas.PayoutResult{IntentID: in.IntentID, AmountE8s: in.AmountE8s, Recipient: in.Recipient}
	record := func(r schemas.PayoutResult) {
		out.res = r
		if err := e.Store.SaveResult(ctx, r); err != nil {
			// Not recorded: the next resume settles it again (the ledger
			// answers Duplicate, or the blocks show it). But a result that
			// cannot be made durable stops the run, as a failed attempt
			// write does: signing on while nothing can be recorded would
			// leave every later transfer unaccounted for until a resume.
			out.err = fmt.Errorf("payout: intent %s: record result %s (the transfer's outcome is not durable; nothing more is signed, resume settles it): %w: %w",
				in.IntentID, r.Status, err, ErrStopRun)
			out.res = schemas.PayoutResult{}
			e.Log.Error("payout: result not recorded, the run stops", "dao", in.DAO, "period", in.Period, "intent_id", in.IntentID, "status", r.Status, "block_index", r.BlockIndex, "error", err.Error())
			return
		}
		if e.Observer != nil {
			e.Observer.TransferSettled(r.Status, r.AmountE8s)
		}
		e.Crash.At(CrashAfterResult)
	}
	paid := func(block uint64, dup bool, by string) {
		r := base
		r.Status, r.BlockIndex, r.Duplicate, r.VerifiedBy = schemas.PayoutPaid, block, dup, by
		record(r)
	}
	unsettled := func(status string, err error) {
		r := base
		r.Status, r.Error = status, err.Error()
		record(r)
		if out.err == nil {
			out.err = fmt.Errorf("payout: intent %s to %s: %w", in.IntentID, in.Recipient, err)
		}
	}
	to, err := e.Ledger.AccountID(in.Recipient)
	if err != nil {
		unsettled(schemas.PayoutFailed, err)
		return out
	}
	memo, err := hex.DecodeString(in.MemoHex)
	if err != nil || len(memo) > rules.MaxMemoBytes {
		unsettled(schemas.PayoutFailed, fmt.Errorf("memo_hex %q is not hex of at most 32 bytes", in.MemoHex))
		return out
	}
	atts, err := rules.Attempts(in, recorded)
	if err != nil {
		unsettled(schemas.PayoutPending, fmt.Errorf("%w: %w", err, ErrStopRun))
		return out
	}
	cur := atts[len(atts)-1]
	nowNanos := uint64(e.Clock.Now().UnixNano())
	if cur.CreatedAtNanos+rules.DedupWindowNanos < nowNanos {
		// Past the window by our clock: read the blocks before any send.
		if b, found, err := e.findPaid(ctx, in, atts, to); err != nil {
			unsettled(schemas.PayoutPending, fmt.Errorf("reconcile from blocks: %w: %w", err, ErrStopRun))
			return out
		} else if found {
			out.reconciled = true
			paid(b, false, "blocks")
			return out
		}
		// Not in the blocks: the send below is a probe with the same
		// created_at_time, harmless either way (the ledger de-duplicates or
		// certifies TooOld).
	}
	tries := 0
	// send sends the current attempt until its outcome is known. It
	// returns nil once the outcome is recorded (paid, refused, or left
	// pending with a stop), and a transient error when the same request
	// may be sent again (the one retry policy decides when and how often).
	send := func(ctx context.Context) error {
		for {
			tries++
			req := rules.TransferRequest{To: in.Recipient, AmountE8s: uint64(in.AmountE8s), FeeE8s: uint64(in.FeeE8s), Memo: memo, CreatedAtNanos: cur.CreatedAtNanos}
			blk, err := e.Ledger.Transfer(ctx, req)
			out.sent = true
			e.Crash.At(CrashAfterSend)
			if err == nil {
				paid(blk, false, "certificate")
				return nil
			}
			var refused *rules.Refusal
			if errors.As(err, &refused) {
				switch refused.Kind {
				case rules.Duplicate:
					// Paid before (a lost reply, a crash before the result was
					// recorded): the certified refusal names the block.
					paid(refused.DuplicateOf, true, "certificate")
					return nil
				case rules.TooOld:
					// Certified: the ledger's time is past this attempt's
					// window, so no attempt of this intent can execute any more.
					if out.newAttempts > 0 {
						// Even a created_at_time of "now" is too old: the local
						// clock is more than 24 h behind the ledger's.
						unsettled(schemas.PayoutPending, fmt.Errorf("the ledger refuses a created_at_time of now as TooOld: the local clock is behind the ledger's by more than 24 h: %w", ErrStopRun))
						return nil
					}
					b, found, ferr := e.findPaid(ctx, in, atts, to)
					if ferr != nil {
						unsettled(schemas.PayoutPending, fmt.Errorf("reconcile from blocks after TooOld: %w: %w", ferr, ErrStopRun))
						return nil
					}
					if found {
						out.reconciled = true
						paid(b, false, "blocks")
						return nil
					}
					next := rules.Attempt{N: cur.N + 1, CreatedAtNanos: uint64(e.Clock.Now().UnixNano())}
					if next.CreatedAtNanos <= cur.CreatedAtNanos {
						next.CreatedAtNanos = cur.CreatedAtNanos + 1
					}
					a := schemas.PayoutAttempt{IntentID: in.IntentID, Attempt: next.N, CreatedAtNanos: next.CreatedAtNanos,
						Reason: fmt.Sprintf("ledger TooOld for created_at_time %d; no matching block among %d attempt(s) up to the ledger tip", cur.CreatedAtNanos, len(atts))}
					if err := e.Store.SaveAttempt(ctx, in.DAO, in.Period, a); err != nil {
						// Not durable: never sign it. The next resume starts over.
						unsettled(schemas.PayoutPending, fmt.Errorf("record attempt %d: %w", next.N, err))
						return nil
					}
					e.Crash.At(CrashAfterAttempt)
					e.Log.Warn("payout: new attempt after the ledger window", "dao", in.DAO, "period", in.Period, "intent_id", in.IntentID, "attempt", next.N, "created_at_nanos", next.CreatedAtNanos)
					out.newAttempts++
					atts = append(atts, next)
					cur = next
					continue // sign and send the new attempt now
				case rules.TemporarilyUnavailable:
					return err // transient: the same request later
				case rules.InsufficientFunds, rules.BadFee, rules.CreatedInFuture:
					// Nothing moved; every later transfer would fail alike.
					unsettled(schemas.PayoutFailed, fmt.Errorf("%w: %w", err, ErrStopRun))
					return nil
				default:
					unsettled(schemas.PayoutFailed, err)
					return nil
				}
			}
			var ce *rules.CallError
			errors.As(err, &ce)
			switch {
			case ce != nil && ce.NotSent:
				// The call itself was never signed, so never sent: nothing
				// moved. (A failed signature of a read_state poll comes after
				// the send: outcome unknown, retried.)
				unsettled(schemas.PayoutPending, fmt.Errorf("not sent, signing failed (Vault sealed, unreachable or the token expired?): %w: %w", err, ErrStopRun))
				return nil
			case ce == nil || !(ce.Transient || ce.OutcomeUnknown):
				// A definitive failure that is not a ledger refusal (e.g. a
				// non-transient reject): the outcome is still unknown to us if
				// it may have executed, so never "failed" for an update.
				unsettled(schemas.PayoutPending, err)
				return nil
			}
			return retry.MarkTransient(err) // same memo and created_at_time: the ledger de-duplicates
		}
	}
	policy := retry.Policy{Tries: e.MaxTries, Initial: e.RetryWait, OnRetry: func(err error, try int, wait time.Duration) {
		e.Log.Warn("transfer retry", "dao", in.DAO, "period", in.Period, "intent_id", in.IntentID, "attempt", cur.N, "try", try, "wait", wait.String(), "reason", err.Error())
	}}
	if err := retry.Do(ctx, policy, send); err != nil {
		var refused *rules.Refusal
		switch {
		case ctx.Err() != nil:
			unsettled(schemas.PayoutPending, fmt.Errorf("stopped: %w (last error: %v)", ctx.Err(), err))
		case errors.As(err, &refused) && refused.Kind == rules.TemporarilyUnavailable:
			unsettled(schemas.PayoutPending, fmt.Errorf("ledger throttling (TemporarilyUnavailable) after %d tries; nothing moved, resume later: %w", tries, err))
		default:
			unsettled(schemas.PayoutPending, fmt.Errorf("no verified outcome after %d tries (pending, resume settles it): %w", tries, err))
		}
	}
	return out
}

// settleFromBlocks records as paid every intent whose transfer is found
// in the ledger's blocks and returns the others.
func (e *Engine) settleFromBlocks(ctx context.Context, pending []schemas.PayoutIntent, attempts map[string][]schemas.PayoutAttempt) ([]schemas.PayoutIntent, int, error) {
	var still []schemas.PayoutIntent
	n := 0
	for _, in := range pending {
		to, err := e.Ledger.AccountID(in.Recipient)
		if err != nil {
			return nil, n, err
		}
		atts, err := rules.Attempts(in, attempts[in.IntentID])
		if err != nil {
			return nil, n, err
		}
		b, found, err := e.findPaid(ctx, in, atts, to)
		if err != nil {
			return nil, n, err
		}
		if !found {
			still = append(still, in)
			continue
		}
		r := schemas.PayoutResult{IntentID: in.IntentID, AmountE8s: in.AmountE8s, Recipient: in.Recipient, Status: schemas.PayoutPaid, BlockIndex: b, VerifiedBy: "blocks"}
		if err := e.Store.SaveResult(ctx, r); err != nil {
			return nil, n, err
		}
		if e.Observer != nil {
			e.Observer.TransferSettled(r.Status, r.AmountE8s)
		}
		e.settled.Store(in.IntentID, r)
		n++
	}
	return still, n, nil
}

// settledResults returns the results recorded by settleFromBlocks.
func (e *Engine) settledResults() map[string]schemas.PayoutResult {
	out := map[string]schemas.PayoutResult{}
	e.settled.Range(func(k, v any) bool {
		out[k.(string)] = v.(schemas.PayoutResult)
		return true
	})
	return out
}

// findPaid searches the ledger's blocks for a transfer that executed one of
// the intent's attempts. Only blocks at or after the earliest attempt's
// created_at_time minus the permitted drift can hold one.
func (e *Engine) findPaid(ctx context.Context, in schemas.PayoutIntent, atts []rules.Attempt, toID [32]byte) (uint64, bool, error) {
	from, err := e.Ledger.AccountID(e.Ledger.TreasuryText())
	if err != nil {
		return 0, false, err
	}
	minT := atts[0].CreatedAtNanos
	const drift = uint64(60 * time.Second)
	if minT > drift {
		minT -= drift
	} else {
		minT = 0
	}
	blocks, err := e.blocksSince(ctx, minT)
	if err != nil {
		return 0, false, err
	}
	found, err := rules.Match(in, atts, from, toID, blocks)
	if err != nil {
		return 0, false, err
	}
	switch len(found) {
	case 0:
		return 0, false, nil
	case 1:
		return found[0].Index, true, nil
	}
	idx := make([]uint64, len(found))
	for i, b := range found {
		idx[i] = b.Index
	}
	return 0, false, fmt.Errorf("intent %s is in %d blocks %v: paid more than once, stop and investigate", in.IntentID, len(found), idx)
}

// blockCache keeps the blocks read during one engine's life: blocks from
// index start on, contiguous.
type blockCache struct {
	start  uint64
	blocks []rules.Block
	loaded bool
}

// blocksSince returns every block whose timestamp is at or after tsNanos, up
// to the ledger's current tip. Blocks already read are cached for the
// engine's life (blocks never change).
func (e *Engine) blocksSince(ctx context.Context, tsNanos uint64) ([]rules.Block, error) {
	e.blocksMu.Lock()
	defer e.blocksMu.Unlock()
	tip, err := e.Ledger.QueryBlocks(ctx, 0, 0)
	if err != nil {
		return nil, err
	}
	first := tip.FirstBlockIndex
	if first > 0 {
		// Blocks below first are in archive canisters, which this reader
		// cannot read: the search is complete only if the oldest block the
		// ledger still holds is older than tsNanos.
		p, err := e.Ledger.QueryBlocks(ctx, first, 1)
		if err != nil {
			return nil, err
		}
		if len(p.Blocks) == 0 || p.Blocks[0].TimestampNanos >= tsNanos {
			return nil, fmt.Errorf("blocks before %d are archived and may hold the transfer; archive reading is not supported yet: settle by hand (docs/payouts.md)", first)
		}
	}
	// The first block with timestamp >= tsNanos (block times never
	// decrease): binary search on a long chain, a whole read of a short one.
	lo, hi := first, tip.ChainLength
	if hi-lo <= 4000 {
		hi = lo
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		p, err := e.Ledger.QueryBlocks(ctx, mid, 1)
		if err != nil {
			return nil, err
		}
		if len(p.Blocks) == 0 {
			return nil, fmt.Errorf("query_blocks(%d, 1) returned no block below the chain length %d", mid, p.ChainLength)
		}
		if p.Blocks[0].TimestampNanos >= tsNanos {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	// The search above probes single blocks with plain queries; the block
	// just below lo is read verified with the range, and must be older than
	// tsNanos, or the probes were wrong and the search is not complete.
	from := lo
	if lo > first {
		from = lo - 1
	}
	c := &e.blocks
	if !c.loaded || from < c.start {
		c.start, c.blocks, c.loaded = from, nil, true
	}
	if next := c.start + uint64(len(c.blocks)); next < tip.ChainLength {
		raw, err := e.blocksRange(ctx, next, tip.ChainLength)
		if err != nil {
			return nil, err
		}
		c.blocks = append(c.blocks, raw...)
	}
	if from < lo && len(c.blocks) > 0 && c.blocks[from-c.start].TimestampNanos >= tsNanos {
		return nil, fmt.Errorf("block %d is not older than %d ns although the search put the first newer block at %d: the ledger's answers disagree, settle by hand", from, tsNanos, lo)
	}
	var out []rules.Block
	for _, b := range c.blocks[lo-c.start:] {
		if b.TimestampNanos >= tsNanos {
			out = append(out, b)
		}
	}
	return out, nil
}

// blocksRange reads the blocks [start, end), each proven by the ledger's
// hash chain up to its certified tip (Ledger.ReadBlocks): a paid-from-blocks
// record, and above all an "absent" that allows a new attempt, rest on
// certified data, not on one replica's word.
func (e *Engine) blocksRange(ctx context.Context, start, end uint64) ([]rules.Block, error) {
	out, err := e.Ledger.ReadBlocks(ctx, start, end)
	if err != nil {
		return nil, err
	}
	if uint64(len(out)) != end-start {
		return nil, fmt.Errorf("read %d verified blocks from %d, want %d up to %d", len(out), start, end-start, end)
	}
	for i, b := range out {
		if b.Index != start+uint64(i) {
			return nil, fmt.Errorf("verified block %d found at position %d of a read from %d", b.Index, i, start)
		}
	}
	return out, nil
}

// Status is the progress of one period's rules.
type Status struct {
	Manifest         rules.Manifest
	Approved         bool
	Approvers        []string
	ApprovalsRefused []string // approvals not counted, with the reason
	// Sponsors is the sponsors' approval by their approve_manifest votes
	// (rules.SponsorsApproved); Approved is true when it or the signed
	// approvals approve the manifest.
	Sponsors                            rules.SponsorApproval
	Paid, Pending, Failed               int
	PaidE8s, PendingE8s, FailedE8s      int64
	Attempts                            int
	FailedReasons                       map[string]string
	ResultsByID                         map[string]schemas.PayoutResult
	AllPaid                             bool
	Planned                             bool
	LatestCreatedAt, EarliestPendingAge time.Duration
}

// status reads the period's progress.
func (e *Engine) Status(ctx context.Context, dao, period string) (Status, error) {
	e.defaults()
	var st Status
	var (
		found bool
		err   error
	)
	if st.Manifest, _, found, err = e.loadPlan(ctx, dao, period); err != nil || !found {
		return st, err
	}
	st.Planned = true
	aps, err := e.Store.Approvals(ctx, st.Manifest.SHA256)
	if err != nil {
		return st, err
	}
	if e.Verifier == nil {
		return st, errors.New("payout status: no signature verifier configured")
	}
	st.Approved, st.Approvers, st.ApprovalsRefused = e.Approval.Approved(dao, period, st.Manifest.SHA256, aps, e.Verifier)
	if st.Sponsors, err = e.sponsors(ctx, st.Manifest); err != nil {
		return st, err
	}
	st.Approved = st.Approved || st.Sponsors.Approved
	res, err := e.Store.Results(ctx, dao, period)
	if err != nil {
		return st, err
	}
	atts, err := e.Store.Attempts(ctx, dao, period)
	if err != nil {
		return st, err
	}
	st.ResultsByID = res
	st.FailedReasons = map[string]string{}
	for _, in := range st.Manifest.Intents {
		st.Attempts += len(atts[in.IntentID])
		r := res[in.IntentID]
		switch r.Status {
		case schemas.PayoutPaid:
			st.Paid++
			st.PaidE8s += in.AmountE8s
		case schemas.PayoutFailed:
			st.Failed++
			st.FailedE8s += in.AmountE8s
			st.FailedReasons[in.IntentID] = r.Error
		default:
			st.Pending++
			st.PendingE8s += in.AmountE8s
			if r.Error != "" {
				st.FailedReasons[in.IntentID] = r.Error
			}
		}
	}
	st.AllPaid = st.Paid == len(st.Manifest.Intents)
	return st, nil
}

// sponsors decides whether the sponsors' passed approve_manifest votes
// approve m: one in every pool of m, naming its period and hash.
func (e *Engine) sponsors(ctx context.Context, m rules.Manifest) (rules.SponsorApproval, error) {
	pools := rules.ManifestPools(m)
	votes := make(map[string][]schemas.PoolVote, len(pools))
	for _, p := range pools {
		vs, err := e.Store.PoolVotes(ctx, m.DAO, p)
		if err != nil {
			return rules.SponsorApproval{}, fmt.Errorf("read the votes of pool %s: %w", p, err)
		}
		votes[p] = vs
	}
	return rules.SponsorsApproved(m.Period, m.SHA256, pools, votes), nil
}

// sponsorsWhy says why the sponsors' votes do not approve a manifest.
func sponsorsWhy(sp rules.SponsorApproval) string {
	if len(sp.Missing) == 0 {
		return "the manifest has no pool"
	}
	return strings.Join(sp.Missing, "; ")
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
