package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/connectors/prices"
	"github.com/nodeshare/nodeshare/connectors/vault"
	"github.com/nodeshare/nodeshare/ops/icsim"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	lcrules "github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/money"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/rates"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	auditstage "github.com/nodeshare/nodeshare/pipeline/stage/audit"
	"github.com/nodeshare/nodeshare/pipeline/stage/connect"
	lifecyclestage "github.com/nodeshare/nodeshare/pipeline/stage/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout/payouttest"
	"github.com/nodeshare/nodeshare/pipeline/stage/pools"
	"github.com/nodeshare/nodeshare/pipeline/stage/process"
	"github.com/nodeshare/nodeshare/pipeline/stage/sink"
	"github.com/nodeshare/nodeshare/schemas"
)

// yearWorld is one crowdfunding DAO on the real stack (Kafka topics of
// its own prefix, a ClickHouse database of its own, the Vault transit key
// as the treasury) with an IC simulator whose clock the test moves.
type yearWorld struct {
	t        *testing.T
	cfg      config
	sim      *icsim.Server
	url      string
	prefix   string
	dao      string
	treasury identity.Identity
	evlog    *kafka.Log
	store    *payout.DurableStore
	clock    stage.Clock
	log      *slog.Logger
	rng      *rand.Rand
	kills    atomic.Int64
}

const (
	yearNP      = "2vxsx-fae"
	yearNode    = "ryjl3-tyaaa-aaaaa-aaaba-cai"
	yearOther   = "qhbym-qaaaa-aaaaa-aaafq-cai" // another provider's node: every NRC day has results
	yearOtherNP = "rwlgt-iiaaa-aaaaa-aaaaa-cai"
	icp         = uint64(money.E8sPerICP)
)

func (w *yearWorld) client(id identity.Identity) *ic.Client {
	c, err := ic.New(ic.Config{URL: w.url, Identity: id, FetchRootKey: true, PollDelay: 10 * time.Millisecond, PollTimeout: 5 * time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *yearWorld) now() time.Time { return w.sim.Now() }

// sponsor is an identity of its own with an ICRC-1 wallet funded by a mint.
func (w *yearWorld) sponsor(e8s uint64) identity.Identity {
	id, err := identity.NewRandomEd25519Identity()
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.sim.Mint(ic.AccountText(ic.Account{Owner: id.Sender()}), e8s); err != nil {
		w.t.Fatal(err)
	}
	return id
}

func accountIDOf(id identity.Identity) string {
	return ic.LegacyAccountID(ic.Account{Owner: id.Sender()}).String()
}

// deposit is a sponsor's own transfer to a pool account: icrc1_transfer,
// or the legacy transfer to the account identifier.
func (w *yearWorld) deposit(id identity.Identity, to ic.Account, e8s uint64, legacy bool) uint64 {
	w.t.Helper()
	ctx := context.Background()
	if legacy {
		blk, err := w.client(id).TransferToAccountID(ctx, ic.AccountIDTransferRequest{To: ic.LegacyAccountID(to), AmountE8s: e8s, FeeE8s: 10_000, Memo: 1})
		if err != nil {
			w.t.Fatal(err)
		}
		return blk
	}
	blk, err := w.client(id).Transfer(ctx, ic.TransferRequest{To: to, AmountE8s: e8s})
	if err != nil {
		w.t.Fatal(err)
	}
	return blk
}

// poolAccounts are a pool's deposit and bond accounts of the treasury.
func (w *yearWorld) poolAccounts(pool string) (deposit, bond ic.Account) {
	d, b := schemas.DepositSubaccount(w.dao, pool), schemas.BondSubaccount(w.dao, pool)
	return ic.Account{Owner: w.treasury.Sender(), SubAccount: &d}, ic.Account{Owner: w.treasury.Sender(), SubAccount: &b}
}

func (w *yearWorld) createPool(pool, purchaser string, deadline, lockup time.Time) {
	w.t.Helper()
	p := schemas.Pool{DAO: w.dao, PoolID: pool, NodeProvider: yearNP, Nodes: []schemas.Node{{NodeID: yearNode, WeightXDRPermyriad: 15_000_000}},
		Hoster:    schemas.HosterTerms{Account: ic.AccountText(ic.Account{Owner: w.treasury.Sender()}) /* replaced below */, Bps: 500},
		DAOFeeBps: 200, WhalePremiumBps: 4000, MinPayoutE8s: 1_000_000, RulesVersion: "v1",
		Terms: &schemas.PoolTerms{TargetE8s: int64(100 * icp), MinContributionE8s: int64(icp), MaxSponsorBps: 3500,
			FundingDeadline: deadline.Format(time.RFC3339), Purchaser: purchaser, SlashBps: 500, BondE8s: int64(10 * icp),
			LockupUntil: lockup.Format(time.RFC3339), MaxVotingBps: 10_000, LedgerFeeE8s: 10_000}}
	hoster, err := identity.NewRandomEd25519Identity()
	if err != nil {
		w.t.Fatal(err)
	}
	p.Hoster.Account = ic.AccountText(ic.Account{Owner: hoster.Sender()})
	if _, _, err := pools.Create(context.Background(), w.evlog, p, w.treasury.Sender().String()); err != nil {
		w.t.Fatal(err)
	}
}

func (w *yearWorld) admin(method, path string, body, out any) {
	w.t.Helper()
	adminJSON(w.t, method, w.url+path, body, out)
}

// propose records the DAO's NNS proposal for pool at the simulator's now.
func (w *yearWorld) propose(pool string) uint64 {
	w.t.Helper()
	at := w.now().Truncate(time.Second)
	sec := uint64(at.Unix())
	var prop icsim.ProposalView
	w.admin(http.MethodPost, "/admin/governance/proposals", icsim.ProposalRequest{Title: "Add node of " + pool, Topic: 6, AtSeconds: &sec}, &prop)
	if _, _, err := pools.Propose(context.Background(), w.evlog, w.dao, pool, prop.ID, at.Format(time.RFC3339), at); err != nil {
		w.t.Fatal(err)
	}
	return prop.ID
}

func (w *yearWorld) decide(id uint64, status string) {
	sec := uint64(w.now().Unix())
	w.admin(http.MethodPost, "/admin/governance/proposals", icsim.ProposalRequest{ID: &id, Status: status, AtSeconds: &sec}, nil)
}

func simDate(t time.Time) *icsim.Date {
	return &icsim.Date{Year: uint32(t.Year()), Month: uint32(t.Month()), Day: uint32(t.Day())}
}

func (w *yearWorld) nodeJoins(np, node string, from time.Time) {
	w.admin(http.MethodPost, "/admin/nrc/nodes", icsim.NodeDay{FromDay: simDate(from), NodeProvider: np, NodeID: node, NodeRewardType: "type1.1",
		Region: "Europe,Switzerland", DCID: "zh1", NumBlocksProposed: 1000, BaseXDRPermyriadPerMonth: 304_375}, nil)
}

func (w *yearWorld) nodeLeaves(node string, from time.Time) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, w.url+"/admin/nrc/nodes/"+node+"?from_day="+from.Format("2006-01-02"), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		w.t.Fatalf("node leaves: %v %v", resp, err)
	}
	resp.Body.Close()
}

// connect polls the simulator once as `nodeshare connect --once` does,
// on the world's topics and with the simulator's clock.
func (w *yearWorld) connect() {
	w.t.Helper()
	c, err := ic.New(ic.Config{URL: w.url, Identity: new(identity.AnonymousIdentity), FetchRootKey: true, PollDelay: 10 * time.Millisecond, PollTimeout: 5 * time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	src := ic.ConnectSource{Client: c}
	since := uint64(0)
	cfg := connect.Config{Once: true, NRCRecentDays: 3, LedgerSinceBlock: &since, CallTimeout: 20 * time.Second, Attempts: 2,
		Tolerance: rates.Tolerance{MaxDiffBps: 500, MaxSkew: time.Hour}, TopicPrefix: w.prefix, Logger: w.log}
	pc, err := prices.New(prices.Config{BaseURL: w.url + "/coingecko", Currency: "usd"})
	if err != nil {
		w.t.Fatal(err)
	}
	p := connect.Ports{Governance: src, CMC: src, NRC: src, Ledger: ic.LedgerSource{Client: c}, Proposals: src,
		Prices: prices.ConnectSource{Client: pc}, Log: &kafka.Log{Brokers: w.cfg.brokers(), Producer: w.evlog.Producer}, Clock: w.clock}
	conn, err := connect.New(cfg, p)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := conn.Run(context.Background()); err != nil {
		w.t.Fatalf("connect: %v", err)
	}
}

// process drains both processors, then the sink, on the world's topics.
func (w *yearWorld) process() {
	w.t.Helper()
	ctx := context.Background()
	pc := process.Config{Group: "it-entitle-" + w.prefix, EntitlementsTopic: schemas.TopicEntitlements, Params: entitle.Params{LedgerFeeE8s: 10_000}, Logger: w.log}
	lc := lifecyclestage.Config{Group: "it-lifecycle-" + w.prefix, Verifier: ic.Verifier{}, Logger: w.log}
	if err := runProcessors(ctx, w.cfg.brokers(), kafka.TopicOptions{}, w.prefix, pc, lc, true); err != nil {
		w.t.Fatalf("process: %v", err)
	}
	ch, err := clickhouse.Open(ctx, w.cfg.ClickHouse)
	if err != nil {
		w.t.Fatal(err)
	}
	defer ch.Close()
	sc := sink.Config{Group: "it-sink-" + w.prefix, MaxBatch: 5000, MaxWait: 100 * time.Millisecond, Logger: w.log}
	if err := runSinkStage(ctx, w.cfg.brokers(), kafka.TopicOptions{}, w.prefix, ch, sc, true); err != nil {
		w.t.Fatalf("sink: %v", err)
	}
}

// killable are the payout's ports of one process: once dead (the crash
// hook fired at the point drawn), nothing is written and nothing reaches
// the ledger any more, as after a kill -9; a new engine is the restarted
// process.
type killableStore struct {
	payout.Store
	dead *atomic.Bool
}

var errKilled = errors.New("process killed (simulated)")

func (s killableStore) SavePlan(ctx context.Context, h schemas.PayoutManifest, in []schemas.PayoutIntent) error {
	if s.dead.Load() {
		return errKilled
	}
	return s.Store.SavePlan(ctx, h, in)
}

func (s killableStore) SaveAttempt(ctx context.Context, dao, period string, a schemas.PayoutAttempt) error {
	if s.dead.Load() {
		return errKilled
	}
	return s.Store.SaveAttempt(ctx, dao, period, a)
}

func (s killableStore) SaveResult(ctx context.Context, r schemas.PayoutResult) error {
	if s.dead.Load() {
		return errKilled
	}
	return s.Store.SaveResult(ctx, r)
}

func (s killableStore) SaveApproval(ctx context.Context, a schemas.PayoutApproval) error {
	if s.dead.Load() {
		return errKilled
	}
	return s.Store.SaveApproval(ctx, a)
}

type killableLedger struct {
	payout.Ledger
	dead *atomic.Bool
}

func (l killableLedger) Transfer(ctx context.Context, r rules.TransferRequest) (uint64, error) {
	if l.dead.Load() {
		return 0, &rules.CallError{Err: errKilled}
	}
	return l.Ledger.Transfer(ctx, r)
}

// yearCrashPoints are where a payout process is killed.
var yearCrashPoints = []string{payout.CrashAfterPlan, payout.PhaseSending, payout.CrashAfterAttempt, payout.CrashAfterSend, payout.CrashAfterResult}

// engine is a payout process signing from sub (nil: the treasury's
// default account), killed at a random point when kill is set.
func (w *yearWorld) engine(sub *[32]byte, kill bool) *payout.Engine {
	dead := new(atomic.Bool)
	var crash stage.Crash
	if kill {
		// The hook fires from the engine's workers: the countdown is
		// shared, under a lock.
		var mu sync.Mutex
		point, n := yearCrashPoints[w.rng.IntN(len(yearCrashPoints))], w.rng.IntN(3)
		crash = func(p string) {
			mu.Lock()
			defer mu.Unlock()
			if p != point || dead.Load() {
				return
			}
			if n > 0 {
				n--
				return
			}
			w.kills.Add(1)
			dead.Store(true)
		}
	}
	ledger := ic.PayoutLedger{Client: w.client(w.treasury), Treasury: ic.Account{Owner: w.treasury.Sender(), SubAccount: sub}}
	return &payout.Engine{Store: killableStore{Store: w.store, dead: dead}, Ledger: killableLedger{Ledger: ledger, dead: dead},
		Approval: payouttest.Approval(1, yearTreasurer), Verifier: ic.Verifier{}, Concurrency: 2, MaxTries: 3,
		RetryWait: 5 * time.Millisecond, Clock: w.clock, Crash: crash, Log: w.log}
}

// pay runs period's approved manifest with a process that may be killed,
// then resumes with new processes until every intent is paid.
func (w *yearWorld) pay(period string, sub *[32]byte) payout.Summary {
	w.t.Helper()
	ctx := context.Background()
	sum, err := w.engine(sub, true).Run(ctx, w.dao, period, payout.RunOptions{})
	for i := 0; err != nil; i++ {
		if i == 5 {
			w.t.Fatalf("%s: still failing after %d resumes: %v", period, i, err)
		}
		sum, err = w.engine(sub, false).Run(ctx, w.dao, period, payout.RunOptions{})
	}
	if sum.Paid != len(sum.Manifest.Intents) || sum.Failed != 0 {
		w.t.Fatalf("%s: %+v", period, sum)
	}
	return sum
}

// payPool plans, approves and pays every lifecycle transfer of pool not
// paid yet, from its deposit and its bond account; the planning process
// may be killed too. It returns the periods paid.
func (w *yearWorld) payPool(pool string) []string {
	w.t.Helper()
	ctx := context.Background()
	var periods []string
	for _, source := range []string{rules.SourceDeposit, rules.SourceBond} {
		sub := schemas.DepositSubaccount(w.dao, pool)
		if source == rules.SourceBond {
			sub = schemas.BondSubaccount(w.dao, pool)
		}
		acct, err := schemas.AccountOf(w.treasury.Sender().String(), sub)
		if err != nil {
			w.t.Fatal(err)
		}
		for {
			m, _, err := w.engine(&sub, true).PlanLifecycle(ctx, w.dao, pool, source, acct.ID, true)
			if errors.Is(err, errKilled) {
				continue // the plan process died: plan again
			}
			if errors.Is(err, rules.ErrNothingToPlan) {
				break
			}
			if err != nil {
				w.t.Fatalf("plan %s %s: %v", pool, source, err)
			}
			if _, _, err := w.engine(&sub, false).Approve(ctx, w.dao, m.Period, m.SHA256, "treasurer", yearTreasurer); err != nil {
				w.t.Fatal(err)
			}
			w.pay(m.Period, &sub)
			periods = append(periods, m.Period)
		}
	}
	return periods
}

// reward is the NNS minting a month's reward to the treasury: the reward
// event (as the connector would publish it from Governance) and its mint.
func (w *yearWorld) reward(e8s uint64) string {
	w.t.Helper()
	ctx := context.Background()
	at := w.now()
	// The CMC's rate moves on with the month (the connector publishes it).
	rate := &icsim.ConversionRate{TimestampSeconds: uint64(at.Unix()), XDRPermyriadPerICP: 35_000}
	if err := w.sim.ApplyScenario(icsim.Scenario{Rate: rate, AverageRate: rate}); err != nil {
		w.t.Fatal(err)
	}
	r := schemas.NodeReward{NodeProvider: yearNP, TimestampSeconds: uint64(at.Unix()), AmountE8s: int64(e8s), XDRPermyriadPerICP: 35_000,
		RewardAccount: ic.AccountText(ic.Account{Owner: w.treasury.Sender()})}
	f, err := schemas.NewFact(schemas.TopicNodeRewards, schemas.TypeNodeReward, entitle.RewardEventID(r),
		schemas.Provenance{Source: "test", Method: "monthly node provider reward (simulated)"}, r)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.evlog.PublishOnce(ctx, []schemas.Fact{f}); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.sim.Mint(r.RewardAccount, e8s); err != nil {
		w.t.Fatal(err)
	}
	w.process()
	period := entitle.PeriodOf(r.TimestampSeconds)
	for {
		m, _, err := w.engine(nil, true).Plan(ctx, w.dao, period, true)
		if errors.Is(err, errKilled) {
			continue
		}
		if err != nil {
			w.t.Fatalf("plan %s: %v", period, err)
		}
		if _, _, err := w.engine(nil, false).Approve(ctx, w.dao, period, m.SHA256, "treasurer", yearTreasurer); err != nil {
			w.t.Fatal(err)
		}
		break
	}
	w.pay(period, nil)
	return period
}

// poolOutput is what the year test reads of a pool's `pools replay`
// output.
type poolOutput struct {
	State        lcrules.State `json:"state"`
	StakeHeldE8s uint64        `json:"stake_held_e8s"`
	BondHeldE8s  uint64        `json:"bond_held_e8s"`
	Retained     struct {
		SlashE8s uint64 `json:"slash_e8s"`
		DustE8s  uint64 `json:"dust_e8s"`
	} `json:"retained"`
}

// lifecycle reads the latest state and every transfer of each pool.
func (w *yearWorld) lifecycle() (map[string]poolOutput, map[string][]schemas.PoolTransfer) {
	w.t.Helper()
	msgs, err := w.evlog.ReadAll(context.Background(), schemas.TopicPoolLifecycle)
	if err != nil {
		w.t.Fatal(err)
	}
	states, transfers := map[string]poolOutput{}, map[string][]schemas.PoolTransfer{}
	seen := map[string]bool{}
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil {
			w.t.Fatal(err)
		}
		switch env.Type {
		case schemas.TypePoolState:
			var st schemas.PoolState
			if err := env.DecodePayload(env.Type, &st); err != nil {
				w.t.Fatal(err)
			}
			var o poolOutput
			if err := json.Unmarshal([]byte(st.Output), &o); err != nil {
				w.t.Fatal(err)
			}
			states[st.PoolID] = o
		case schemas.TypePoolTransfer:
			var tr schemas.PoolTransfer
			if err := env.DecodePayload(env.Type, &tr); err != nil {
				w.t.Fatal(err)
			}
			if seen[string(m.Key)] {
				w.t.Fatalf("transfer %s published twice", m.Key)
			}
			seen[string(m.Key)] = true
			transfers[tr.PoolID] = append(transfers[tr.PoolID], tr)
		}
	}
	return states, transfers
}

// TestCrowdfundYearEndToEnd runs a year of a DAO on the real stack: three
// pools funded by sponsors' own ledger transfers (with a late, an
// over-target, an over-cap, a below-minimum and a closed deposit, and a
// bond from someone who is not the purchaser); one expires, one is
// rejected by the NNS (refunds less the 5% slash), one is adopted and
// settled to its purchaser once its node is up and its bond complete,
// earns twelve monthly rewards, and then its node leaves before the
// lock-up (the bond is forfeited to its sponsors). Every lifecycle
// transfer and every reward goes through the payout path, each payout
// process killed at a random point and resumed. At the end every e8s is
// accounted for against the simulator's ledger.
// newYearWorld is a world on the real stack: Kafka topics under a prefix
// of its own, a ClickHouse database of its own, the Vault transit key as
// the treasury, an in-process IC simulator (CMC rates at its start) whose
// clock the test moves. It returns the world's tables too.
func newYearWorld(t *testing.T, ctx context.Context, name string) (*yearWorld, *clickhouse.Store) {
	t.Helper()
	cfg := requireServices(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	sim, err := icsim.New(icsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim.Handler())
	t.Cleanup(hs.Close)
	start := sim.Now()
	if err := sim.ApplyScenario(icsim.Scenario{Rate: &icsim.ConversionRate{TimestampSeconds: uint64(start.Unix()), XDRPermyriadPerICP: 35_000},
		AverageRate: &icsim.ConversionRate{TimestampSeconds: uint64(start.Unix()), XDRPermyriadPerICP: 35_000}}); err != nil {
		t.Fatal(err)
	}
	_, db := freshDatabase(t, ctx, cfg)
	cfg.ClickHouse.Database = db
	vc, err := vault.New(cfg.Vault)
	if err != nil {
		t.Fatal(err)
	}
	treasury, err := vault.NewTransitIdentity(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("%s-%d.", name, time.Now().UnixNano())
	if err := kafka.EnsureTopics(ctx, cfg.brokers(), prefixed(prefix, schemas.Topics()), 1); err != nil {
		t.Fatal(err)
	}
	producer := kafka.NewProducer(cfg.brokers())
	t.Cleanup(func() { producer.Close() })
	// The payout's store: its records to the world's topics first, then to
	// the world's database.
	tables, err := clickhouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tables.Close() })
	if _, err := tables.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	store := payout.NewDurableStore(&kafka.Log{Brokers: cfg.brokers(), Producer: producer, TopicPrefix: prefix}, tables, nil)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	w := &yearWorld{t: t, cfg: cfg, sim: sim, url: hs.URL, prefix: prefix, dao: fmt.Sprintf("%s-%d", name, time.Now().UnixNano()), treasury: treasury,
		evlog: &kafka.Log{Brokers: cfg.brokers(), Producer: producer, TopicPrefix: prefix}, store: store,
		clock: stage.ClockFunc(sim.Now), log: log, rng: rand.New(rand.NewPCG(seed, 7))}
	return w, tables
}

func TestCrowdfundYearEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	w, tables := newYearWorld(t, ctx, "it-year")
	sim, treasury, store, start := w.sim, w.treasury, w.store, w.sim.Now()
	day := 24 * time.Hour
	w.nodeJoins(yearOtherNP, yearOther, start.Add(-5*day))

	// The people: sponsors with wallets of their own, the purchaser of
	// pool-adopted's hardware.
	whale, s1, s2, s3, s4, s5, s6 := w.sponsor(200*icp), w.sponsor(200*icp), w.sponsor(200*icp), w.sponsor(200*icp), w.sponsor(200*icp), w.sponsor(200*icp), w.sponsor(200*icp)
	purchaser := w.sponsor(50 * icp)
	lockup := start.Add(2 * 365 * day)
	w.createPool("pool-expiring", accountIDOf(purchaser), start.Add(2*day), lockup)
	w.createPool("pool-rejected", accountIDOf(purchaser), start.Add(20*day), lockup)
	w.createPool("pool-adopted", accountIDOf(purchaser), start.Add(20*day), lockup)
	expDep, _ := w.poolAccounts("pool-expiring")
	rejDep, _ := w.poolAccounts("pool-rejected")
	adoDep, adoBond := w.poolAccounts("pool-adopted")

	// Day 0: funding.
	w.deposit(s1, expDep, 20*icp, false)
	w.deposit(s2, expDep, 10*icp, true) // legacy transfer: paid back to the account id
	w.deposit(whale, rejDep, 40*icp, false)
	w.deposit(s1, rejDep, icp/2, false) // below the 1 ICP minimum
	w.deposit(s2, rejDep, 35*icp, true)
	w.deposit(s3, rejDep, 30*icp, false) // funds it
	w.deposit(whale, adoDep, 35*icp, false)
	w.deposit(s4, adoDep, 25*icp, false)
	w.deposit(s5, adoDep, 20*icp, true)
	w.deposit(s6, adoDep, 30*icp, false) // 20 fit, 10 over the target
	w.deposit(s1, adoDep, 2*icp, false)  // after funding: closed
	w.deposit(purchaser, adoBond, 10*icp, false)
	w.deposit(s2, adoBond, icp, false) // not the purchaser's
	w.connect()
	w.process()
	// Day 1: the DAO proposes the two funded pools.
	sim.AdvanceClock(day)
	rejProp, adoProp := w.propose("pool-rejected"), w.propose("pool-adopted")
	// Day 3: the NNS decides; the adopted pool's node joins from the next
	// day; the deadline of pool-expiring has passed; a deposit arrives
	// late.
	sim.AdvanceClock(2 * day)
	w.decide(rejProp, icsim.ProposalRejected)
	w.decide(adoProp, icsim.ProposalExecuted)
	w.nodeJoins(yearNP, yearNode, w.now().Add(day))
	w.connect()
	w.deposit(s3, expDep, 5*icp, false) // late
	// Day 5: the node's first complete day (day 4) is in the NRC data.
	sim.AdvanceClock(2 * day)
	w.connect()
	w.process()
	states, _ := w.lifecycle()
	for pool, want := range map[string]lcrules.State{"pool-expiring": lcrules.StateExpired, "pool-rejected": lcrules.StateRejected, "pool-adopted": lcrules.StateActive} {
		if states[pool].State != want {
			t.Fatalf("%s is %s, want %s (%+v)", pool, states[pool].State, want, states[pool])
		}
	}
	for _, pool := range []string{"pool-expiring", "pool-rejected", "pool-adopted"} {
		w.payPool(pool)
	}

	// Twelve months of rewards to the active pool.
	var periods []string
	for month := 1; month <= 12; month++ {
		sim.AdvanceClock(30 * day)
		w.connect()
		periods = append(periods, w.reward(uint64(40+month)*icp+uint64(month)*1_234_567))
	}
	// The node leaves before the lock-up: the bond goes to the sponsors.
	sim.AdvanceClock(3 * day)
	w.nodeLeaves(yearNode, w.now().Add(-day))
	w.connect()
	w.process()
	w.payPool("pool-adopted")
	states, transfers := w.lifecycle()
	if st := states["pool-adopted"]; st.State != lcrules.StateRetired || st.BondHeldE8s != 0 {
		t.Fatalf("pool-adopted after the node left: %+v", st)
	}
	w.process() // the last payout records into the audit trail

	// Every e8s. The ledger's blocks, read straight from the simulator.
	led := sim.Ledger()
	type flow struct{ in, out uint64 }
	flows := map[string]*flow{}
	fl := func(a string) *flow {
		if flows[a] == nil {
			flows[a] = &flow{}
		}
		return flows[a]
	}
	paidBy := map[string][]icsim.Block{} // from/to/amount -> blocks
	for _, b := range led.Blocks {
		switch b.Op {
		case icsim.OpTransfer:
			fl(b.From).out += b.AmountE8s + b.FeeE8s
			fl(b.To).in += b.AmountE8s
			k := b.From + "/" + b.To + "/" + strconv.FormatUint(b.AmountE8s, 10)
			paidBy[k] = append(paidBy[k], b)
		case icsim.OpMint:
			fl(b.To).in += b.AmountE8s
		}
	}
	for _, pool := range []string{"pool-expiring", "pool-rejected", "pool-adopted"} {
		dep, bond := w.poolAccounts(pool)
		depID, bondID := ic.LegacyAccountID(dep).String(), ic.LegacyAccountID(bond).String()
		o := states[pool]
		var sent, fees uint64
		for _, tr := range transfers[pool] {
			if tr.TransferE8s == 0 {
				continue
			}
			sent += uint64(tr.TransferE8s)
			fees += uint64(tr.FeeE8s)
			k := tr.From + "/" + tr.To + "/" + strconv.FormatInt(tr.TransferE8s, 10)
			if n := len(paidBy[k]); n != 1 {
				t.Errorf("%s transfer %d (%s %d to %s): %d blocks on the ledger, want exactly 1", pool, tr.Seq, tr.Kind, tr.TransferE8s, tr.To, n)
			}
		}
		deposits := fl(depID).in + fl(bondID).in
		held := o.StakeHeldE8s + o.BondHeldE8s
		retained := o.Retained.SlashE8s + o.Retained.DustE8s
		if deposits != held+sent+fees+retained {
			t.Errorf("%s: deposits %d != stake+bond held %d + transfers %d + fees %d + retained %d", pool, deposits, held, sent, fees, retained)
		}
		balance := led.Balances[depID] + led.Balances[bondID]
		if balance != held+retained || fl(depID).out+fl(bondID).out != sent+fees {
			t.Errorf("%s: ledger holds %d (out %d), the lifecycle says held %d + retained %d (out %d)", pool, balance, fl(depID).out+fl(bondID).out, held, retained, sent+fees)
		}
		t.Logf("%s: %s, deposits %d, paid out %d + fees %d, retained slash %d dust %d, held %d", pool, o.State, deposits, sent, fees, o.Retained.SlashE8s, o.Retained.DustE8s, held)
	}
	// What the rules say happened, in kind and reason.
	kinds := map[string]int{}
	for pool, ts := range transfers {
		for _, tr := range ts {
			k := pool + "/" + tr.Kind
			if tr.Reason != nil {
				k += "/" + *tr.Reason
			}
			kinds[k]++
		}
	}
	want := map[string]int{"pool-expiring/refund": 2, "pool-expiring/refund/late": 1,
		"pool-rejected/refund/over_sponsor_cap": 1, "pool-rejected/refund/below_minimum": 1, "pool-rejected/refund": 3,
		"pool-adopted/refund/over_target": 1, "pool-adopted/refund/closed": 1, "pool-adopted/refund/not_purchaser": 1,
		"pool-adopted/settlement": 1, "pool-adopted/bond_forfeit": 4}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%s: %d transfers, want %d (all: %v)", k, kinds[k], n, kinds)
		}
	}
	if rej := states["pool-rejected"]; rej.Retained.SlashE8s != 5*icp { // 5% of 100 ICP, floored per contribution
		t.Errorf("pool-rejected slash %d, want %d", rej.Retained.SlashE8s, 5*icp)
	}
	// The treasury: every reward minted, less every reward transfer and fee
	// paid, is what it holds (the DAO fee and the carried amounts).
	treasuryID := ic.LegacyAccountID(ic.Account{Owner: treasury.Sender()}).String()
	var carried, daoFees int64
	var intents int
	for _, p := range periods {
		h, err := store.Manifest(ctx, w.dao, p)
		if err != nil || h == nil {
			t.Fatalf("manifest %s: %v", p, err)
		}
		carried += h.CarriedE8s
		intents += h.Intents
		pps, err := store.PoolPeriods(ctx, w.dao, p)
		if err != nil || len(pps) != 1 {
			t.Fatalf("pool periods %s: %v %d", p, err, len(pps))
		}
		daoFees += pps[0].DAOFeeE8s
		res, err := store.Results(ctx, w.dao, p)
		if err != nil {
			t.Fatal(err)
		}
		ins, err := store.Intents(ctx, w.dao, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range ins {
			r := res[in.IntentID]
			memo, _ := hex.DecodeString(in.MemoHex)
			var n int
			for _, b := range led.Blocks {
				if b.Op == icsim.OpTransfer && b.From == treasuryID && b.AmountE8s == uint64(in.AmountE8s) &&
					((b.MemoHex != nil && *b.MemoHex == in.MemoHex) || (b.MemoHex == nil && b.LegacyMemo == rules.LegacyMemo(memo))) {
					n++
				}
			}
			if r.Status != schemas.PayoutPaid || n != 1 {
				t.Errorf("%s intent %s (%s %d): status %s, %d blocks", p, in.IntentID, in.Role, in.AmountE8s, r.Status, n)
			}
		}
	}
	tf := fl(treasuryID)
	if got := led.Balances[treasuryID]; got != tf.in-tf.out || int64(got) < daoFees {
		t.Errorf("treasury holds %d; minted %d - paid %d; DAO fees %d, carried %d", got, tf.in, tf.out, daoFees, carried)
	}
	if len(periods) != 12 || intents < 12*5 {
		t.Errorf("%d periods, %d reward intents", len(periods), intents)
	}
	sort.Strings(periods)
	t.Logf("12 periods %s..%s, %d reward intents, %d payout processes killed and resumed; treasury keeps %d (DAO fees %d, carried %d)",
		periods[0], periods[11], intents, w.kills.Load(), led.Balances[treasuryID], daoFees, carried)
	if w.kills.Load() == 0 {
		t.Error("no payout process was killed")
	}

	// The auditor's view of the world's database: the chain, every
	// period recomputed (the crowdfunded pool's stakes from its lifecycle
	// states), every lifecycle intent matched to its transfer.
	rep, err := auditstage.Verify(ctx, tables, schemas.TopicEntitlements)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 || rep.Periods != 12 || rep.Chained == 0 {
		t.Fatalf("audit verify: %d chained, %d periods, findings %v", rep.Chained, rep.Periods, rep.Findings)
	}
	// An intent slipped into a lifecycle manifest's table rows is found.
	forged := schemas.PayoutIntent{IntentID: strings.Repeat("ab", 32), DAO: w.dao, Period: rules.LifecyclePeriod("pool-adopted", rules.SourceDeposit, 0),
		PoolID: "pool-adopted", Recipient: accountIDOf(s1), Role: "refund", AmountE8s: 5 * int64(icp), FeeE8s: 10_000, MemoHex: strings.Repeat("ab", 32),
		CreatedAtNanos: 1, ManifestSHA256: strings.Repeat("00", 32)}
	if err := tables.InsertIntents(ctx, "forged-"+w.dao, []schemas.PayoutIntent{forged}); err != nil {
		t.Fatal(err)
	}
	if rep, err = auditstage.Verify(ctx, tables, schemas.TopicEntitlements); err != nil || len(rep.Findings) != 2 ||
		!strings.Contains(rep.Findings[0].Detail, "no raw intent record") || !strings.Contains(rep.Findings[1].Detail, "no lifecycle transfer has its id") {
		t.Fatalf("audit verify after a forged lifecycle intent: %v %+v", err, rep.Findings)
	}

	// The chains' tips signed by the audit key (Vault transit), then the
	// trail cut short at a chain's end and a payout result edited in its
	// table: audit verify with the signed tips reports both.
	tipsFile := t.TempDir() + "/chain-tips.json"
	var out, errb bytes.Buffer
	db := w.cfg.ClickHouse.Database
	if code := dispatch(ctx, []string{"audit", "sign-tips", "--clickhouse-database", db, "--out", tipsFile}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("audit sign-tips: exit %d\n%s", code, errb.String())
	}
	verifyTips := func() string {
		t.Helper()
		out.Reset()
		// As the stack's read-only user: an auditor's rights are enough.
		dispatch(ctx, append([]string{"audit", "verify", "--clickhouse-database", db, "--tips", tipsFile}, readerFlags(t)...), strings.NewReader(""), &out, &errb)
		return out.String()
	}
	if v := verifyTips(); strings.Contains(v, "signed-tip") || !strings.Contains(v, "chains checked against signed tips") {
		t.Fatalf("verify with fresh tips:\n%s", v)
	}
	if err := tables.Conn().Exec(ctx, `ALTER TABLE events_raw DELETE WHERE topic = ? AND offset = (SELECT max(offset) FROM events_raw WHERE topic = ?)
		SETTINGS mutations_sync = 2`, schemas.TopicPayoutResults, schemas.TopicPayoutResults); err != nil {
		t.Fatal(err)
	}
	if v := verifyTips(); !strings.Contains(v, "missing tail") {
		t.Fatalf("verify after the chain's tail was deleted:\n%s", v)
	}
	res, err := tables.Results(ctx, w.dao, periods[0])
	if err != nil || len(res) == 0 {
		t.Fatalf("results %v", err)
	}
	for _, r := range res {
		r.AmountE8s++
		if err := tables.InsertResult(ctx, "edited-result", r, time.Now()); err != nil {
			t.Fatal(err)
		}
		break
	}
	if v := verifyTips(); !strings.Contains(v, "payout-table") || !strings.Contains(v, "row differs from its latest raw record") {
		t.Fatalf("verify after a payout result was edited:\n%s", v)
	}
}

// yearTreasurer is the year's one approver (threshold 1).
var yearTreasurer = payouttest.NewApprover("treasurer")
