package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/connectors/prices"
	"github.com/nodeshare/nodeshare/connectors/vault"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/pipeline/money"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/rates"
	"github.com/nodeshare/nodeshare/pipeline/stage/connect"
	demostage "github.com/nodeshare/nodeshare/pipeline/stage/demo"
	lifecyclestage "github.com/nodeshare/nodeshare/pipeline/stage/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/process"
	"github.com/nodeshare/nodeshare/pipeline/stage/sink"
	"github.com/nodeshare/nodeshare/schemas"
)

// demoResult is what a demo run did, for the summary and for tests.
type demoResult struct {
	demostage.Result
	ReportPath string
	// Reconciled is each manifest's reconciliation state.
	Reconciled []string
}

// demoCmd runs a DAO's crowdfunding end to end on the local stack (eval
// "$(ops/stack env)" first): two pools funded by sponsors' own ledger
// transfers, their NNS proposals and nodes (played by the IC simulator),
// the settlement to the purchaser, one NNS reward allocated by the stakes
// the ledger shows and paid, every transfer signed by the Vault transit
// key. Running it twice pays nobody twice.
type demoCmd struct {
	kafkaFlags
	clickhouseFlags
	vaultFlags
	icFlags
	localFlags
	DAO      string        `name:"dao" default:"demo-dao" help:"DAO name; every account of the demo is derived from it."`
	Timeout  time.Duration `name:"timeout" default:"5m" help:"Give up after this long."`
	LogLevel string        `name:"log-level" default:"warn" enum:"debug,info,warn,error" help:"Log level on stderr."`
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
	res, err := demo(ctx, services(&c.kafkaFlags, &c.clickhouseFlags, &c.vaultFlags, &c.icFlags, &c.localFlags, nil), c.DAO, log)
	if err != nil {
		return err
	}
	printDemoSummary(e.stdout, res)
	return nil
}

// demo wires the demo stage to the local stack and runs it.
func demo(ctx context.Context, cfg config, dao string, log *slog.Logger) (demoResult, error) {
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
	// The demo's one approver signs with a dfx-style identity it keeps in
	// the local folder (created on the first run).
	approver, err := ic.CreatePEMIdentity(filepath.Join(cfg.LocalDir, "demo", "approver.pem"))
	if err != nil {
		return out, err
	}
	treasury, err := ic.New(ic.Config{URL: cfg.ICURL, Identity: signer, FetchRootKey: cfg.ICFetchRootKey, Logger: log, HTTPClient: pooledHTTPClient()})
	if err != nil {
		return out, err
	}
	fee, err := treasury.Fee(ctx)
	if err != nil {
		return out, err
	}
	ch, err := clickhouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return out, err
	}
	defer ch.Close()
	producer := kafka.NewProducer(cfg.brokers())
	defer producer.Close()
	nns := &simNNS{url: cfg.ICURL}
	if _, err := nns.Time(ctx); err != nil {
		return out, err
	}
	brokers := cfg.brokers()
	p := demostage.Ports{
		Approver: approver,
		Log:      &kafka.Log{Brokers: brokers, Producer: producer},
		Wallets:  &demoWallets{dao: dao, cfg: cfg, log: log},
		NNS:      nns,
		Mint: func(ctx context.Context, account string, e8s int64) error {
			return simMint(ctx, cfg.ICURL, account, e8s)
		},
		Treasury: signer.Sender().String(),
		Connect: func(ctx context.Context) error {
			return demoConnect(ctx, cfg, producer, nns, log)
		},
		Process: func(ctx context.Context) error {
			pc := process.Config{Group: process.DefaultGroup, EntitlementsTopic: schemas.TopicEntitlements, Params: entitle.Params{LedgerFeeE8s: int64(fee)}, Logger: log}
			lc := lifecyclestage.Config{Group: lifecyclestage.DefaultGroup, Verifier: ic.Verifier{}, Logger: log}
			if err := runProcessors(ctx, brokers, cfg.KafkaTopics, "", pc, lc, true); err != nil {
				return err
			}
			sc := sink.Config{Group: sink.DefaultGroup, MaxBatch: 50000, MaxWait: 200 * time.Millisecond, Logger: log}
			return runSinkStage(ctx, brokers, cfg.KafkaTopics, "", ch, sc, true)
		},
		Engine: func(pool, source string) (*payout.Engine, error) {
			from := ic.Account{Owner: signer.Sender()}
			if pool != "" {
				sub := poolSubaccount(dao, pool, source)
				from.SubAccount = &sub
			}
			// created_at_time follows the IC's clock (the simulator's, which
			// the demo moves on).
			return &payout.Engine{Store: store, Ledger: ic.PayoutLedger{Client: treasury, Treasury: from}, Approval: demostage.Approval(approver.PublicKeyDER()), Verifier: ic.Verifier{},
				Log: log, Clock: nns}, nil
		},
	}
	out.Result, err = demostage.Run(ctx, p, dao, log)
	if err != nil {
		return out, err
	}
	out.ReportPath, out.Reconciled, err = writeDemoReport(ctx, cfg, filepath.Join(cfg.LocalDir, "reports"), out)
	return out, err
}

// demoConnect is one poll of the connector (`nodeshare connect --once`
// without the dashboard) on the simulator, with the simulator's clock.
func demoConnect(ctx context.Context, cfg config, producer *kafka.Producer, nns *simNNS, log *slog.Logger) error {
	c, err := ic.New(ic.Config{URL: cfg.ICURL, Identity: new(identity.AnonymousIdentity), FetchRootKey: cfg.ICFetchRootKey, Logger: log})
	if err != nil {
		return err
	}
	src := ic.ConnectSource{Client: c}
	since := uint64(0)
	st := connect.Config{Once: true, NRCRecentDays: 2, LedgerSinceBlock: &since, CallTimeout: time.Minute, Attempts: 3,
		Tolerance: rates.DefaultTolerance, Logger: log}
	// ICP's USD price from the simulator's price API, for the report's
	// fiat values.
	pc, err := prices.New(prices.Config{BaseURL: strings.TrimSuffix(cfg.ICURL, "/") + "/coingecko", Currency: "usd"})
	if err != nil {
		return err
	}
	conn, err := connect.New(st, connect.Ports{Governance: src, CMC: src, NRC: src, Ledger: ic.LedgerSource{Client: c}, Proposals: src,
		Prices: prices.ConnectSource{Client: pc}, Log: &kafka.Log{Brokers: cfg.brokers(), Producer: producer}, Clock: nns})
	if err != nil {
		return err
	}
	return conn.Run(ctx)
}

// demoWallets are the demo sponsors' own keys: an Ed25519 key per name,
// derived from the DAO and the name (so a second run is the same
// people), each wallet funded by a simulator mint.
type demoWallets struct {
	dao     string
	cfg     config
	log     *slog.Logger
	clients map[string]*ic.Client
}

func (w *demoWallets) client(name string) (*ic.Client, error) {
	if c, ok := w.clients[name]; ok {
		return c, nil
	}
	seed := sha256.Sum256([]byte("nodeshare-demo-key/" + w.dao + "/" + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	id, err := identity.NewEd25519Identity(priv.Public().(ed25519.PublicKey), priv)
	if err != nil {
		return nil, err
	}
	c, err := ic.New(ic.Config{URL: w.cfg.ICURL, Identity: id, FetchRootKey: w.cfg.ICFetchRootKey, Logger: w.log})
	if err != nil {
		return nil, err
	}
	if w.clients == nil {
		w.clients = map[string]*ic.Client{}
	}
	w.clients[name] = c
	return c, nil
}

func (w *demoWallets) AccountID(name string) (string, error) {
	c, err := w.client(name)
	if err != nil {
		return "", err
	}
	return ic.LegacyAccountID(ic.Account{Owner: c.Sender()}).String(), nil
}

func (w *demoWallets) Fund(ctx context.Context, name string, e8s int64) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	return simMint(ctx, w.cfg.ICURL, ic.AccountText(ic.Account{Owner: c.Sender()}), e8s)
}

func (w *demoWallets) Send(ctx context.Context, name string, to schemas.Account, e8s int64, legacy bool) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	if legacy {
		id, err := ic.ParseAccountIdentifier(to.ID)
		if err != nil {
			return err
		}
		_, err = c.TransferToAccountID(ctx, ic.AccountIDTransferRequest{To: id, AmountE8s: uint64(e8s), FeeE8s: 10_000})
		return err
	}
	acct, err := ic.AccountFromText(to.ICRC1)
	if err != nil {
		return err
	}
	_, err = c.Transfer(ctx, ic.TransferRequest{To: acct, AmountE8s: uint64(e8s)})
	return err
}

// simNNS is the NNS as the IC simulator plays it (its admin API, as
// docs/pools.md describes): its clock, proposals, node rewards data. It is
// also a stage.Clock: the simulator's time (wall + the offset read last).
type simNNS struct {
	url    string
	offset atomic.Int64
}

func (n *simNNS) clock(ctx context.Context, body any) (time.Time, error) {
	var info struct {
		NowUnixNanos int64 `json:"now_unix_nanos"`
		OffsetNanos  int64 `json:"offset_nanos"`
	}
	method := http.MethodGet
	if body != nil {
		method = http.MethodPost
	}
	if err := simAdmin(ctx, method, n.url+"/admin/clock", body, &info); err != nil {
		return time.Time{}, err
	}
	n.offset.Store(info.OffsetNanos)
	return time.Unix(0, info.NowUnixNanos).UTC(), nil
}

// Now is the simulator's clock as last read (stage.Clock).
func (n *simNNS) Now() time.Time { return time.Now().Add(time.Duration(n.offset.Load())).UTC() }

// Time reads the simulator's clock.
func (n *simNNS) Time(ctx context.Context) (time.Time, error) { return n.clock(ctx, nil) }

func (n *simNNS) Advance(ctx context.Context, d time.Duration) error {
	_, err := n.clock(ctx, map[string]int64{"advance_seconds": int64(d / time.Second)})
	return err
}

func (n *simNNS) SubmitProposal(ctx context.Context, title string, at time.Time) (uint64, error) {
	var p struct {
		ID uint64 `json:"id"`
	}
	err := simAdmin(ctx, http.MethodPost, n.url+"/admin/governance/proposals", map[string]any{"title": title, "topic": 6, "at_seconds": at.Unix()}, &p)
	return p.ID, err
}

func (n *simNNS) ExecuteProposal(ctx context.Context, id uint64, at time.Time) error {
	return simAdmin(ctx, http.MethodPost, n.url+"/admin/governance/proposals", map[string]any{"id": id, "status": "executed", "at_seconds": at.Unix()}, nil)
}

func (n *simNNS) NodeJoins(ctx context.Context, np, node string, from time.Time) error {
	day := map[string]int{"year": from.Year(), "month": int(from.Month()), "day": from.Day()}
	return simAdmin(ctx, http.MethodPost, n.url+"/admin/nrc/nodes", map[string]any{"from_day": day, "node_provider": np, "node_id": node,
		"node_reward_type": "type1.1", "region": "Europe,Switzerland", "dc_id": "zh1", "num_blocks_proposed": 1000,
		"base_xdr_permyriad_per_month": 304_375}, nil)
}

// simAdmin calls the IC simulator's admin API with a JSON body (nil: none)
// and decodes the answer into out (nil: ignored).
func simAdmin(ctx context.Context, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("simulator %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("simulator %s %s: %s: %s", method, url, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// simMint asks the IC simulator to mint e8s to account (the NNS reward
// mint, a sponsor's own ICP).
func simMint(ctx context.Context, icURL, account string, e8s int64) error {
	return simAdmin(ctx, http.MethodPost, icURL+"/admin/mint", map[string]any{"account": account, "amount_e8s": e8s}, nil)
}

// writeDemoReport writes finance's report of every manifest of the demo's
// DAO (docs/finance.md) to <dir>/<dao>/demo.{json,csv,html}, stores their
// reconciliations and returns the HTML's path and each manifest's state.
func writeDemoReport(ctx context.Context, cfg config, dir string, r demoResult) (string, []string, error) {
	treasury := r.Treasury
	if a, err := ic.AccountFromText(treasury); err == nil {
		treasury = a.Owner.String()
	}
	scope := reportScope{DAO: r.DAO, Treasury: treasury, Currency: "usd"}
	scope.clickhouseFlags = clickhouseFlagsFor(cfg.ClickHouse)
	scope.ICURL, scope.ICFetchRootKey = cfg.ICURL, cfg.ICFetchRootKey
	out, err := scope.run(ctx, true)
	if err != nil {
		return "", nil, err
	}
	base := filepath.Join(dir, safeName(r.DAO), "demo")
	for _, format := range []string{"json", "csv", "html"} {
		w, done, err := openOutput(base+"."+format, io.Discard)
		if err != nil {
			return "", nil, err
		}
		if err := writeReport(w, out.Report, format); err != nil {
			done()
			return "", nil, err
		}
		if err := done(); err != nil {
			return "", nil, err
		}
	}
	var states []string
	for _, rec := range out.Recons {
		states = append(states, fmt.Sprintf("%s %s", rec.Period, rec.State))
	}
	abs, _ := filepath.Abs(base + ".html")
	return abs, states, nil
}

func printDemoSummary(w io.Writer, r demoResult) {
	fmt.Fprintf(w, "nodeshare demo: DAO %s, period %s, treasury %s\n", r.DAO, r.Period, r.Treasury)
	fmt.Fprintf(w, "funding: %d transfers from the sponsors' and the purchaser's own wallets this run\n", r.Deposited)
	for _, l := range r.Lifecycle {
		for _, in := range l.Manifest.Intents {
			fmt.Fprintf(w, "lifecycle %s: %s of %s ICP to %s, %s\n", l.Manifest.Period, in.Role, money.FormatICP(money.E8s(in.AmountE8s)), in.Recipient, l.Results[in.IntentID].Status)
		}
	}
	rules.WriteSummary(w, r.Payout.Manifest, r.Payout.Results)
	fmt.Fprintf(w, "this run: %d transfers sent, %d already paid before\n", r.Payout.Sent, r.Payout.Skipped)
	for _, st := range r.Reconciled {
		fmt.Fprintf(w, "reconciliation %s\n", st)
	}
	fmt.Fprintf(w, "\nreport: %s (and .json, .csv)\n", r.ReportPath)
}
