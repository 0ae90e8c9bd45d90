package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/nodeshare/nodeshare/connectors/dashboard"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/ops/icsim"
	"github.com/nodeshare/nodeshare/schemas"
)

// These tests run `nodeshare connect` against real Kafka (the local stack)
// and an in-process IC simulator served over HTTP, on topics with a fresh
// prefix so that counts are exact.

const (
	connNPA    = "2vxsx-fae"
	connNPB    = "rwlgt-iiaaa-aaaaa-aaaaa-cai"
	connNode1  = "ryjl3-tyaaa-aaaaa-aaaba-cai"
	connNode2  = "qjdve-lqaaa-aaaaa-aaaeq-cai"
	connNode3  = "qhbym-qaaaa-aaaaa-aaafq-cai"
	connSubnet = "tdb26-jop6k-aogll-7ltgs-eruif-6kk7m-qpktf-gdiqx-mxtrf-vb5e6-eqe"
	connTS1    = 1_759_000_000
	connTS2    = connTS1 + 2_629_800
	connTS3    = connTS2 + 2_629_800
)

func date(y, m, d uint32) *icsim.Date { return &icsim.Date{Year: y, Month: m, Day: d} }

func connectScenario() icsim.Scenario {
	// npB's rewards go to an account that is not its default account.
	other := ic.LegacyAccountID(ic.Account{Owner: principal.MustDecode("rrkah-fqaaa-aaaaa-aaaaq-cai")})
	month := func(ts uint64, from, to *icsim.Date) icsim.MonthlyRewards {
		return icsim.MonthlyRewards{TimestampSeconds: ts, XDRPermyriadPerICP: 35_000, RateTimestampSeconds: ts - 86_400, StartDate: from, EndDate: to,
			Rewards: []icsim.ProviderReward{{NodeProvider: connNPA, XDRPermyriad: 1_500_000}, {NodeProvider: connNPB, RewardAccountHex: other.String(), AmountE8s: 7}}}
	}
	node := func(np, id, subnet string, from, to *icsim.Date) icsim.NodeDay {
		return icsim.NodeDay{FromDay: from, ToDay: to, NodeProvider: np, NodeID: id, NodeRewardType: "type1.1", Region: "Europe,Switzerland", DCID: "zh1",
			Subnet: subnet, NumBlocksProposed: 1000, BaseXDRPermyriadPerMonth: 304_375} // 10_000 per day
	}
	return icsim.Scenario{
		NodeProviders: []icsim.NodeProvider{{Principal: connNPA}, {Principal: connNPB, RewardAccountHex: other.String()}},
		Rewards:       []icsim.MonthlyRewards{month(connTS1, date(2025, 9, 1), date(2025, 9, 3)), month(connTS2, date(2025, 9, 4), date(2025, 9, 6))},
		Rate:          &icsim.ConversionRate{TimestampSeconds: 1_760_000_000, XDRPermyriadPerICP: 36_000},
		AverageRate:   &icsim.ConversionRate{TimestampSeconds: 1_759_900_000, XDRPermyriadPerICP: 35_000},
		NodeDailyRewards: []icsim.NodeDay{
			node(connNPA, connNode1, connSubnet, date(2025, 9, 1), date(2025, 9, 6)),
			node(connNPA, connNode2, "", date(2025, 9, 1), date(2025, 9, 6)),
			node(connNPB, connNode3, connSubnet, date(2025, 9, 1), date(2025, 9, 3)),
		},
	}
}

type connectEnv struct {
	sim     *icsim.Server
	url     string
	prefix  string
	brokers kafka.Brokers
	args    []string
}

func newConnectEnv(t *testing.T, sc icsim.Scenario) *connectEnv {
	t.Helper()
	cfg := requireServices(t)
	s, err := icsim.New(icsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	if err := s.ApplyScenario(sc); err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("it-connect-%d.", time.Now().UnixNano())
	return &connectEnv{sim: s, url: hs.URL, prefix: prefix, brokers: cfg.brokers(),
		args: []string{"connect", "--once", "--ic-url", hs.URL, "--ic-fetch-root-key=true", "--kafka-brokers", cfg.KafkaBrokers,
			"--topic-prefix", prefix, "--nrc-recent-days", "0", "--identity", "anonymous", "--attempts", "2", "--call-timeout", "10s"}}
}

func (e *connectEnv) run(t *testing.T, ctx context.Context, extra ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := dispatch(ctx, append(append([]string{}, e.args...), extra...), strings.NewReader(""), &out, &errb)
	return code, errb.String()
}

// records reads a prefixed topic: key -> records, plus the envelopes.
func (e *connectEnv) records(t *testing.T, topic string) (map[string]int, map[string]schemas.Envelope) {
	t.Helper()
	msgs, err := kafka.ReadAll(context.Background(), e.brokers, e.prefix+topic)
	if err != nil {
		t.Fatal(err)
	}
	counts, envs := map[string]int{}, map[string]schemas.Envelope{}
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil {
			t.Fatalf("%s key %s: %v", topic, m.Key, err)
		}
		counts[string(m.Key)]++
		envs[string(m.Key)] = env
	}
	return counts, envs
}

func assertOnce(t *testing.T, topic string, counts map[string]int, want []string) {
	t.Helper()
	for _, k := range want {
		if counts[k] != 1 {
			t.Errorf("%s: key %s has %d records, want 1 (all: %v)", topic, k, counts[k], counts)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("%s: %d keys, want %d: %v", topic, len(counts), len(want), counts)
	}
}

// TestConnectEndToEnd runs `nodeshare connect` as wired in connect.go on
// the real services: the IC simulator (Governance, CMC, NRC, dashboard),
// Kafka and, for the signing identity, Vault. The stage's logic is tested
// through its ports in pipeline/stage/connect; this guards the wiring:
// every source reaches its topic exactly once, with provenance, across
// processes, identities, the service loop, a retried transient reject and
// a dashboard outage.
func TestConnectEndToEnd(t *testing.T) {
	sc := connectScenario()
	// The dashboard disagrees with the certified spot rate: one alarm.
	sc.Dashboard = &icsim.DashboardRates{ValuesAsStrings: true, Spot: &icsim.DashboardPoint{TimestampSeconds: 1_760_000_060, XDRPermyriadPerICP: "40000.5"}}
	e := newConnectEnv(t, sc)
	ctx := context.Background()
	if os.Getenv("NODESHARE_VAULT_TOKEN") == "" {
		t.Fatal("NODESHARE_VAULT_TOKEN is unset: run through ops/test or eval \"$(ops/stack env)\"")
	}
	// Run 1 signs with a development PEM key. Run 2, a new process, signs
	// with the Vault transit key (the simulator checks every signature);
	// its first query is rejected once with SYS_TRANSIENT and retried. The
	// later runs are anonymous.
	id, err := identity.NewRandomEd25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := id.ToPEM()
	if err != nil {
		t.Fatal(err)
	}
	pemPath := filepath.Join(t.TempDir(), "id.pem")
	if err := os.WriteFile(pemPath, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	for i, extra := range [][]string{{"--identity", "pem", "--identity-pem", pemPath}, {"--identity", "vault"}} {
		if i == 1 {
			e.sim.SetFaults(icsim.Faults{RejectQueriesNext: 1})
		}
		code, stderr := e.run(t, ctx, extra...)
		if code != 0 {
			t.Fatalf("poll %d: exit %d\n%s", i+1, code, stderr)
		}
		// The first poll reads the NRC for both periods' six days. The
		// second resumes at period 2, whose weights exist for npA but not
		// for npB, so it reads period 2's three days again.
		if want := []string{`"nrc_days_queried":6`, `"nrc_days_queried":3`}[i]; !strings.Contains(stderr, want) || !strings.Contains(stderr, "source mismatch") {
			t.Fatalf("poll %d: want %s and the alarm\n%s", i+1, want, stderr)
		}
		if i == 0 && !strings.Contains(stderr, `"sender":"`+id.Sender().String()+`"`) {
			t.Fatalf("poll 1: not signed by the PEM identity\n%s", stderr)
		}
		if i == 1 && (!strings.Contains(stderr, `"identity":"vault"`) || strings.Contains(stderr, `"sender":"2vxsx-fae"`) ||
			!strings.Contains(stderr, "transient failure, retrying") || !strings.Contains(stderr, "simulated transient query reject")) {
			t.Fatalf("poll 2: vault identity or retry missing\n%s", stderr)
		}
	}
	npA1, npB1 := fmt.Sprintf("%s/%d", connNPA, connTS1), fmt.Sprintf("%s/%d", connNPB, connTS1)
	npA2, npB2 := fmt.Sprintf("%s/%d", connNPA, connTS2), fmt.Sprintf("%s/%d", connNPB, connTS2)
	rewards, renvs := e.records(t, schemas.TopicNodeRewards)
	assertOnce(t, "rewards", rewards, []string{npA1, npB1, npA2, npB2})
	rates, rateEnvs := e.records(t, schemas.TopicRates)
	assertOnce(t, "rates", rates, []string{"cmc/spot/1760000000", "cmc/avg30/1759900000", "dashboard/spot/1760000060", "dashboard/avg30/1759900000"})
	daily, _ := e.records(t, schemas.TopicNodeDailyRewards)
	var wantDaily []string
	for d := 1; d <= 6; d++ {
		wantDaily = append(wantDaily, fmt.Sprintf("%s/%s/2025-09-%02d", connNPA, connNode1, d), fmt.Sprintf("%s/%s/2025-09-%02d", connNPA, connNode2, d))
		if d <= 3 {
			wantDaily = append(wantDaily, fmt.Sprintf("%s/%s/2025-09-%02d", connNPB, connNode3, d))
		}
	}
	assertOnce(t, "node daily rewards", daily, wantDaily)
	weights, wenvs := e.records(t, schemas.TopicNodePeriodWeights)
	assertOnce(t, "period weights", weights, []string{npA1 + "/" + connNode1, npA1 + "/" + connNode2, npB1 + "/" + connNode3, npA2 + "/" + connNode1, npA2 + "/" + connNode2})
	alarms, aenvs := e.records(t, schemas.TopicSourceAlarms)
	assertOnce(t, "alarms", alarms, []string{"spot/1760000000/1760000060"})

	// The mapping of a reward and its provenance.
	var r schemas.NodeReward
	if err := renvs[npA1].DecodePayload(schemas.TypeNodeReward, &r); err != nil {
		t.Fatal(err)
	}
	// floor(1_500_000 × 1e8 / 35_000)
	if r.AmountE8s != 4_285_714_285 || r.XDRPermyriadPerICP != 35_000 || r.RewardAccount != connNPA || r.TimestampSeconds != connTS1 {
		t.Fatalf("reward A %+v", r)
	}
	if err := renvs[npB1].DecodePayload(schemas.TypeNodeReward, &r); err != nil || r.AmountE8s != 7 || len(r.RewardAccount) != 64 {
		t.Fatalf("reward B (legacy hex account) %+v %v", r, err)
	}
	p := renvs[npA1].Provenance
	if p.Source != "ic" || p.Canister != ic.GovernanceCanisterID.String() || p.Method != "list_node_provider_rewards" || p.FetchTime == "" || p.ContentSHA256 == "" {
		t.Fatalf("reward provenance %+v", p)
	}
	cp := rateEnvs["cmc/spot/1760000000"].Provenance
	if cp.Canister != ic.CMCCanisterID.String() || cp.CertTimeNanos == 0 || cp.Method != "get_icp_xdr_conversion_rate" {
		t.Fatalf("cmc provenance %+v", cp)
	}
	if dp := rateEnvs["dashboard/spot/1760000060"].Provenance; dp.Source != "dashboard" || !strings.Contains(dp.Method, "/icp-xdr-conversion-rates") {
		t.Fatalf("dashboard provenance %+v", dp)
	}
	var w schemas.NodePeriodWeight
	if err := wenvs[npA1+"/"+connNode1].DecodePayload(schemas.TypeNodePeriodWeight, &w); err != nil || w.WeightXDRPermyriad != 30_000 || w.Days != 3 || w.RewardEventID != npA1 {
		t.Fatalf("weight %+v %v", w, err)
	}
	var a schemas.SourceMismatch
	// |40000.5 - 36000| / 36000 = 1111.25 bps > 100.
	if err := aenvs["spot/1760000000/1760000060"].DecodePayload(schemas.TypeSourceMismatch, &a); err != nil || a.DashboardXDRPermyriadPerICP != "40000.5" || a.DiffBps != "1111.25" {
		t.Fatalf("alarm %+v %v", a, err)
	}

	// A new reward event: the service (two or more polls one second apart,
	// the later ones through get_most_recent_monthly_node_provider_rewards)
	// publishes only its facts; everything else keeps one record per key.
	next := connectScenario()
	next.Rewards = next.Rewards[:1]
	next.Rewards[0].TimestampSeconds, next.Rewards[0].StartDate, next.Rewards[0].EndDate = connTS3, date(2025, 9, 7), date(2025, 9, 9)
	next.NodeProviders, next.NodeDailyRewards = nil, nil
	if err := e.sim.ApplyScenario(next); err != nil {
		t.Fatal(err)
	}
	loopCtx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	defer cancel()
	var out, errb bytes.Buffer
	args := append([]string{}, e.args...)
	args = append(args[:1], args[2:]...) // drop --once
	if code := dispatch(loopCtx, append(args, "--interval", "1s"), strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("loop: exit %d\n%s", code, errb.String())
	}
	if n := strings.Count(errb.String(), `"msg":"poll done"`); n < 2 {
		t.Fatalf("loop polled %d times\n%s", n, errb.String())
	}
	rewards, _ = e.records(t, schemas.TopicNodeRewards)
	assertOnce(t, "rewards after a new event", rewards, []string{npA1, npB1, npA2, npB2, fmt.Sprintf("%s/%d", connNPA, connTS3), fmt.Sprintf("%s/%d", connNPB, connTS3)})
	if rates, _ = e.records(t, schemas.TopicRates); len(rates) != 4 {
		t.Fatalf("rates re-polled into new keys: %v", rates)
	}

	// A dashboard outage fails the poll (exit 1, named) after the dashboard
	// client's own retries; the IC facts are still there exactly once.
	if err := e.sim.ApplyScenario(icsim.Scenario{Dashboard: &icsim.DashboardRates{FailNext: 100}}); err != nil {
		t.Fatal(err)
	}
	code, stderr := e.run(t, ctx, "--nrc-off")
	if code != 1 || !strings.Contains(stderr, "dashboard spot") || !strings.Contains(stderr, "HTTP 503") || !strings.Contains(stderr, "dashboard request failed, retrying") {
		t.Fatalf("outage: exit %d\n%s", code, stderr)
	}
	rewards, _ = e.records(t, schemas.TopicNodeRewards)
	assertOnce(t, "rewards after an outage", rewards, []string{npA1, npB1, npA2, npB2, fmt.Sprintf("%s/%d", connNPA, connTS3), fmt.Sprintf("%s/%d", connNPB, connTS3)})
}

func TestConnectConfigErrors(t *testing.T) {
	ctx := context.Background()
	var out, errb bytes.Buffer
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"connect", "--once", "--ic-url", "https://icp-api.io", "--ic-fetch-root-key=true"}, "must be false for mainnet"},
		{[]string{"connect", "--once", "--identity", "pem"}, "--identity-pem"},
		{[]string{"connect", "--interval", "10ms"}, "interval must be >= 1s"},
		{[]string{"connect", "--once", "--ingress-expiry", "10m"}, "ingress-expiry"},
		{[]string{"connect", "--once", "--dashboard-url", "ftp://x"}, "dashboard-url"},
		{[]string{"connect", "--once", "--price-url", "ftp://x"}, `--price-url must be an http(s) URL or off, got "ftp://x" (NODESHARE_PRICE_URL)`},
		{[]string{"connect", "--once", "--price-currency", "USD"}, `--price-currency: currency must be 3 lower-case letters (ISO 4217, e.g. "usd"), got "USD" (NODESHARE_PRICE_CURRENCY)`},
		{[]string{"connect", "--once", "--price-days", "0"}, "--price-days must be >= 1, got 0 (NODESHARE_PRICE_DAYS)"},
	}
	for _, c := range cases {
		errb.Reset()
		if code := dispatch(ctx, c.args, strings.NewReader(""), &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errb.String(), c.want)
		}
	}
	if got := dashboard.DefaultURLFor("https://icp-api.io"); got != "https://ic-api.internetcomputer.org/api/v3" {
		t.Errorf("mainnet dashboard default %s", got)
	}
	for ic, want := range map[string]string{"https://icp-api.io": "https://api.coingecko.com", "http://127.0.0.1:18080/": "http://127.0.0.1:18080/coingecko"} {
		if got := (&connectCmd{icFlags: icFlags{ICURL: ic}}).priceURL(); got != want {
			t.Errorf("price url default for %s: %s, want %s", ic, got, want)
		}
	}
}
