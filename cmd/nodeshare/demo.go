package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/connectors/vault"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	demostage "github.com/nodeshare/nodeshare/pipeline/stage/demo"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/process"
	"github.com/nodeshare/nodeshare/pipeline/stage/sink"
	"github.com/nodeshare/nodeshare/schemas"
)

// demoResult is what a demo run did, for the summary and for tests.
type demoResult struct {
	demostage.Result
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

// demo wires the demo stage to the local stack and runs it.
func demo(ctx context.Context, cfg config, dao string, rewardAt time.Time, log *slog.Logger) (demoResult, error) {
	var out demoResult
	store, closeStore, err := openPayoutStore(ctx, cfg)
	if err != nil {
		return out, err
	}
	defer closeStore()
	vc, err := vault.New(cfg.Vault)
	if err != nil {
		return out, err
	}
	signer, err := vault.NewTransitIdentity(ctx, vc)
	if err != nil {
		return out, err
	}
	client, err := ic.New(ic.Config{URL: cfg.ICURL, Identity: signer, FetchRootKey: cfg.ICFetchRootKey, Logger: log})
	if err != nil {
		return out, err
	}
	ledger := ic.PayoutLedger{Client: client, Treasury: ic.Account{Owner: signer.Sender()}}
	fee, err := ledger.Fee(ctx)
	if err != nil {
		return out, err
	}
	ch, err := clickhouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return out, err
	}
	defer ch.Close()
	eng := &payout.Engine{Store: store, Ledger: ledger, Approval: demostage.Approval, Log: log}
	out.Result, err = demostage.Run(ctx, demoPorts(cfg, store.Log, ch, fee, log), eng, dao, rewardAt, log)
	if err != nil {
		return out, err
	}
	out.ReportPath, err = writePayoutReport(filepath.Join(cfg.LocalDir, "reports"), out)
	return out, err
}

// demoAllocate runs the demo's facts through the processor and the sink
// (demostage.Allocate) on the local stack.
func demoAllocate(ctx context.Context, cfg config, store *clickhouse.Store, producer *kafka.Producer, dao string, rewardAt time.Time, treasury string, fee uint64, log *slog.Logger) (period string, minted bool, err error) {
	return demostage.Allocate(ctx, demoPorts(cfg, &kafka.Log{Brokers: cfg.brokers(), Producer: producer}, store, fee, log), dao, rewardAt, treasury, log)
}

// demoPorts are the demo stage's ports on the local stack: the processor
// and the sink as their commands run them (until drained), the
// simulator's admin mint.
func demoPorts(cfg config, evlog stage.Publisher, store *clickhouse.Store, fee uint64, log *slog.Logger) demostage.Ports {
	brokers := cfg.brokers()
	return demostage.Ports{
		Log: evlog,
		Mint: func(ctx context.Context, account string, e8s int64) error {
			return simMint(ctx, cfg.ICURL, account, e8s)
		},
		Process: func(ctx context.Context) error {
			pc := process.Config{Group: process.DefaultGroup, EntitlementsTopic: schemas.TopicEntitlements, Params: entitle.Params{LedgerFeeE8s: int64(fee)}, Logger: log}
			return runProcessor(ctx, brokers, "", pc, true)
		},
		Sink: func(ctx context.Context) error {
			sc := sink.Config{Group: sink.DefaultGroup, MaxBatch: 50000, MaxWait: 200 * time.Millisecond, Logger: log}
			return runSinkStage(ctx, brokers, "", store, sc, true)
		},
	}
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

// writePayoutReport writes the finance report (rules.WriteReportCSV) to
// <dir>/payout-<dao>-<period>.csv, through a temporary file.
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
	if err := rules.WriteReportCSV(f, r.Payout.Manifest, r.Payout.Results); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	abs, _ := filepath.Abs(path)
	return abs, os.Rename(tmp, path)
}

func printDemoSummary(w io.Writer, r demoResult) {
	fmt.Fprintf(w, "nodeshare demo: DAO %s, period %s, treasury %s\n", r.DAO, r.Period, r.Treasury)
	rules.WriteSummary(w, r.Payout.Manifest, r.Payout.Results)
	fmt.Fprintf(w, "this run: %d transfers sent, %d already paid before\n", r.Payout.Sent, r.Payout.Skipped)
	fmt.Fprintf(w, "\nreport: %s\n", r.ReportPath)
}
