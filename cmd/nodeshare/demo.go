package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/connectors/vault"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/schemas"
)

// demoResult is what a demo run did, for the summary and for tests.
type demoResult struct {
	DAO        string
	Period     string
	Treasury   string
	Minted     bool
	Payout     payout.Summary
	ReportPath string
}

// demoCmd runs one month end to end on the local stack (eval "$(ops/stack
// env)" first): pools and contributions and one NNS reward into Kafka, the
// entitlement processor, the ClickHouse sink, and a payout run signed by
// the Vault transit key against the IC simulator's ledger. Running it twice
// pays nobody twice.
type demoCmd struct {
	kafkaFlags
	clickhouseFlags
	vaultFlags
	icFlags
	localFlags
	DAO        string        `name:"dao" default:"demo-dao" help:"DAO name; every account of the demo is derived from it."`
	RewardTime time.Time     `name:"reward-time" default:"2026-11-01T06:00:00Z" help:"Timestamp of the demo's NNS reward, RFC 3339 (one reward is one period)."`
	Timeout    time.Duration `name:"timeout" default:"5m" help:"Give up after this long."`
	LogLevel   string        `name:"log-level" default:"warn" enum:"debug,info,warn,error" help:"Log level on stderr."`
}

func (c *demoCmd) Validate() error {
	cfg := services(nil, nil, &c.vaultFlags, nil, nil, nil)
	return validateAll(c.kafkaFlags, c.clickhouseFlags, c.icFlags, &cfg.Vault)
}

func (c *demoCmd) Run(e env) error {
	ctx, cancel := context.WithTimeout(e.ctx, c.Timeout)
	defer cancel()
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return usageError("--log-level: %v", err)
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	res, err := demo(ctx, services(&c.kafkaFlags, &c.clickhouseFlags, &c.vaultFlags, &c.icFlags, &c.localFlags, nil), c.DAO, c.RewardTime, log)
	if err != nil {
		return err
	}
	printDemoSummary(e.stdout, res)
	return nil
}

// demo runs the whole path and returns what it did.
func demo(ctx context.Context, cfg config, dao string, rewardAt time.Time, log *slog.Logger) (demoResult, error) {
	var out demoResult
	brokers := cfg.brokers()
	if err := kafka.EnsureTopics(ctx, brokers, schemas.Topics(), 1); err != nil {
		return out, err
	}
	store, err := clickhouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return out, err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return out, err
	}
	vc, err := vault.New(cfg.Vault)
	if err != nil {
		return out, err
	}
	signer, err := vault.NewTransitIdentity(ctx, vc)
	if err != nil {
		return out, err
	}
	ledger, err := ic.New(ic.Config{URL: cfg.ICURL, Identity: signer, FetchRootKey: cfg.ICFetchRootKey, Logger: log})
	if err != nil {
		return out, err
	}
	treasury := ic.Account{Owner: signer.Sender()}
	out.Treasury = ic.AccountText(treasury)
	fee, err := ledger.Fee(ctx)
	if err != nil {
		return out, err
	}
	producer := kafka.NewProducer(brokers)
	defer producer.Close()
	out.DAO = dao
	out.Period, out.Minted, err = demoAllocate(ctx, cfg, store, producer, dao, rewardAt, out.Treasury, fee, log)
	if err != nil {
		return out, err
	}
	sink := kafka.ConsumerConfig{Brokers: brokers, GroupID: groupSink, Topics: sinkTopics(), Logger: log}
	// 4. The payout run, signed by the Vault transit key.
	// Plan (once), approve with the demo's approver set of one, run.
	eng := &payout.Engine{
		Store:  payout.NewDurableStore(&kafka.Log{Brokers: brokers, Producer: producer}, store, stage.SystemClock{}),
		Ledger: ic.PayoutLedger{Client: ledger, Treasury: treasury}, Approval: demoApproval, Log: log,
	}
	m, _, err := eng.Plan(ctx, dao, out.Period, true)
	if err != nil {
		return out, err
	}
	if _, _, err := eng.Approve(ctx, dao, out.Period, m.SHA256, "demo"); err != nil {
		return out, err
	}
	out.Payout, err = eng.Run(ctx, dao, out.Period, payout.RunOptions{ExpectSHA256: m.SHA256})
	if err != nil {
		return out, err
	}
	// 5. Intents and results into the raw audit trail too.
	if err := kafka.ConsumeStage(ctx, sink, sinkStage(store, log), true); err != nil {
		return out, err
	}
	out.ReportPath, err = writePayoutReport(filepath.Join(cfg.LocalDir, "reports"), out)
	return out, err
}

// demoAllocate publishes the demo's facts (pools, contributions, rates and
// the NNS reward; only those not yet on their topics), mints the reward on
// the simulator when it is new, and runs the entitlement processor and the
// sink until ClickHouse holds the period's entitlements.
func demoAllocate(ctx context.Context, cfg config, store *clickhouse.Store, producer *kafka.Producer, dao string, rewardAt time.Time, treasury string, fee uint64, log *slog.Logger) (period string, minted bool, err error) {
	brokers := cfg.brokers()
	var out struct {
		Treasury, Period string
		Minted           bool
	}
	out.Treasury = treasury

	// 1. The facts: pools, contributions, rates and the NNS reward. Only
	// facts not yet on their topics are published.
	sc := buildDemoScenario(dao, rewardAt, out.Treasury)
	out.Period = entitle.PeriodOf(sc.Reward.TimestampSeconds)
	var facts []entitle.Event
	add := func(topic, typ, key string, prov schemas.Provenance, v any) error {
		env, err := schemas.NewEnvelope(typ, key, prov, v)
		if err != nil {
			return err
		}
		facts = append(facts, entitle.Event{Topic: topic, Key: key, Envelope: env})
		return nil
	}
	admin := schemas.Provenance{Source: "dao-admin", Method: "nodeshare demo"}
	for _, p := range sc.Pools {
		if err := add(schemas.TopicPools, schemas.TypePool, p.DAO+"/"+p.PoolID, admin, p); err != nil {
			return out.Period, out.Minted, err
		}
	}
	for _, c := range sc.Contributions {
		if err := add(schemas.TopicContributions, schemas.TypeContribution, c.DAO+"/"+c.PoolID+"/"+c.ContributionID, admin, c); err != nil {
			return out.Period, out.Minted, err
		}
	}
	simulated := schemas.Provenance{Source: "demo", Canister: ic.GovernanceCanisterID.String(), Method: "get_most_recent_monthly_node_provider_rewards (simulated)"}
	for _, r := range sc.Rates {
		if err := add(schemas.TopicRates, schemas.TypeRate, fmt.Sprintf("demo/%s/%d", r.Kind, r.TimestampSeconds), simulated, r); err != nil {
			return out.Period, out.Minted, err
		}
	}
	n, err := publishNew(ctx, brokers, producer, facts)
	if err != nil {
		return out.Period, out.Minted, err
	}
	rewardKey := entitle.RewardEventID(sc.Reward)
	rewardEnv, err := schemas.NewEnvelope(schemas.TypeNodeReward, rewardKey, simulated, sc.Reward)
	if err != nil {
		return out.Period, out.Minted, err
	}
	nr, err := publishNew(ctx, brokers, producer, []entitle.Event{{Topic: schemas.TopicNodeRewards, Key: rewardKey, Envelope: rewardEnv}})
	if err != nil {
		return out.Period, out.Minted, err
	}
	log.Info("facts published", "new", n+nr, "total", len(facts)+1)
	if nr == 1 {
		// The NNS mints the reward to the DAO's account: on the simulator,
		// an admin mint once, when the reward is first seen.
		if err := simMint(ctx, cfg.ICURL, out.Treasury, sc.Reward.AmountE8s); err != nil {
			return out.Period, out.Minted, err
		}
		out.Minted = true
	}

	// 2. The entitlement processor, until it has seen every reward.
	pcfg := processorConfig{Brokers: brokers, EntitlementsTopic: schemas.TopicEntitlements, Params: entitle.Params{LedgerFeeE8s: int64(fee)}}
	err = kafka.ConsumeStage(ctx, kafka.ConsumerConfig{Brokers: brokers, GroupID: groupEntitle, Topics: processorTopics, Logger: log},
		processStage(pcfg, producer, log), true)
	if err != nil {
		return out.Period, out.Minted, err
	}
	// 3. The sink, until ClickHouse holds everything on the topics.
	sink := kafka.ConsumerConfig{Brokers: brokers, GroupID: groupSink, Topics: sinkTopics(), Logger: log}
	if err := kafka.ConsumeStage(ctx, sink, sinkStage(store, log), true); err != nil {
		return out.Period, out.Minted, err
	}
	return out.Period, out.Minted, nil
}

func sinkTopics() []string {
	var ts []string
	for _, t := range schemas.Topics() {
		ts = append(ts, t.Name)
	}
	return ts
}

// simMint asks the IC simulator to mint e8s to account (the NNS reward mint).
func simMint(ctx context.Context, icURL, account string, e8s int64) error {
	body, _ := json.Marshal(map[string]any{"account": account, "amount_e8s": e8s})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, icURL+"/admin/mint", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("simulator mint: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("simulator mint: %s: %s", resp.Status, b)
	}
	return nil
}

// writePayoutReport writes the finance report: one line per intent.
func writePayoutReport(dir string, r demoResult) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("payout-%s-%s.csv", r.DAO, r.Period))
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"dao", "period", "pool_id", "role", "recipient", "amount_e8s", "fee_e8s", "amount_icp", "status", "block_index", "duplicate", "intent_id", "memo_hex", "created_at_nanos", "manifest_sha256"})
	for _, in := range r.Payout.Manifest.Intents {
		res := r.Payout.Results[in.IntentID]
		_ = w.Write([]string{in.DAO, in.Period, in.PoolID, in.Role, in.Recipient, strconv.FormatInt(in.AmountE8s, 10),
			strconv.FormatInt(in.FeeE8s, 10), money.FormatICP(money.E8s(in.AmountE8s)), orPending(res.Status),
			strconv.FormatUint(res.BlockIndex, 10), strconv.FormatBool(res.Duplicate), in.IntentID, in.MemoHex,
			strconv.FormatUint(in.CreatedAtNanos, 10), in.ManifestSHA256})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	abs, _ := filepath.Abs(path)
	return abs, os.Rename(tmp, path)
}

func orPending(s string) string {
	if s == "" {
		return "pending"
	}
	return s
}

func printDemoSummary(w io.Writer, r demoResult) {
	m := r.Payout.Manifest
	fmt.Fprintf(w, "nodeshare demo: DAO %s, period %s, treasury %s\n", r.DAO, r.Period, r.Treasury)
	fmt.Fprintf(w, "manifest %s: %d transfers, %s ICP to recipients + %s ICP ledger fees, %s ICP carried forward\n",
		m.SHA256, len(m.Intents), money.FormatICP(money.E8s(m.TotalAmountE8s)), money.FormatICP(money.E8s(m.TotalFeeE8s)), money.FormatICP(money.E8s(m.CarriedE8s)))
	fmt.Fprintf(w, "this run: %d transfers sent, %d already paid before\n\n", r.Payout.Sent, r.Payout.Skipped)
	intents := append([]schemas.PayoutIntent(nil), m.Intents...)
	sort.Slice(intents, func(i, j int) bool {
		a, b := intents[i], intents[j]
		if a.PoolID != b.PoolID {
			return a.PoolID < b.PoolID
		}
		if a.Role != b.Role {
			return a.Role < b.Role
		}
		if a.AmountE8s != b.AmountE8s {
			return a.AmountE8s > b.AmountE8s
		}
		return a.Recipient < b.Recipient
	})
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "POOL\tROLE\tRECIPIENT\tTRANSFER ICP\tFEE ICP\tSTATUS\tBLOCK\t")
	for _, in := range intents {
		res := r.Payout.Results[in.IntentID]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", in.PoolID, in.Role, shortAccount(in.Recipient),
			money.FormatICP(money.E8s(in.AmountE8s)), money.FormatICP(money.E8s(in.FeeE8s)), orPending(res.Status), res.BlockIndex)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nreport: %s\n", r.ReportPath)
}

func shortAccount(a string) string {
	if len(a) <= 27 {
		return a
	}
	return a[:11] + "…" + a[len(a)-11:]
}
