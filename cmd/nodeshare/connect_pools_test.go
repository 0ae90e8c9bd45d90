package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
	"github.com/nodeshare/nodeshare/pipeline/stage/connect"
	"github.com/nodeshare/nodeshare/schemas"
)

// TestConnectPoolsEndToEnd runs `nodeshare pools create|propose` and
// `nodeshare connect` as wired, on the real Kafka and an in-process IC
// simulator: sponsors with their own identities deposit to a pool's
// deposit account, the purchaser posts the bond, the DAO records its NNS
// proposal, Governance decides it, the pool's node joins then leaves, the
// treasury pays a refund out of the pool. Every connect run is a new
// process; each fact reaches its topic exactly once, and a block that
// does not chain to the certified tip is never published.
func TestConnectPoolsEndToEnd(t *testing.T) {
	e := newConnectEnv(t, icsim.Scenario{
		Rate:        &icsim.ConversionRate{TimestampSeconds: 1_760_000_000, XDRPermyriadPerICP: 36_000},
		AverageRate: &icsim.ConversionRate{TimestampSeconds: 1_759_900_000, XDRPermyriadPerICP: 35_000},
	})
	ctx := context.Background()
	const (
		dao      = "it-dao"
		poolID   = "pool-zh1"
		poolNode = connNode1
		ledger   = "ryjl3-tyaaa-aaaaa-aaaba-cai"
	)
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	dayText := func(daysAgo int) string { return today.AddDate(0, 0, -daysAgo).Format(time.RFC3339) }
	simDay := func(daysAgo int) *icsim.Date {
		d := today.AddDate(0, 0, -daysAgo)
		return date(uint32(d.Year()), uint32(d.Month()), uint32(d.Day()))
	}
	args := func(extra ...string) []string {
		out := append([]string{}, e.args...)
		for i, a := range out {
			if a == "--nrc-recent-days" {
				out[i+1] = "10"
			}
		}
		return append(append(out, "--dashboard-url", "off", "--ledger-since-block", "0"), extra...)
	}
	connectOnce := func(what string, wantCode int) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := dispatch(ctx, args(), strings.NewReader(""), &out, &errb); code != wantCode {
			t.Fatalf("%s: exit %d, want %d\n%s", what, code, wantCode, errb.String())
		}
		return errb.String()
	}
	cli := func(what string, wantCode int, a ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		a = append(a, "--kafka-brokers", strings.Join(e.brokers.Addrs, ","), "--topic-prefix", e.prefix)
		if code := dispatch(ctx, a, strings.NewReader(""), &out, &errb); code != wantCode {
			t.Fatalf("%s: exit %d, want %d\nstdout %s\nstderr %s", what, code, wantCode, out.String(), errb.String())
		}
		return out.String(), errb.String()
	}
	client := func(id identity.Identity) *ic.Client {
		c, err := ic.New(ic.Config{URL: e.url, Identity: id, FetchRootKey: true, PollDelay: 20 * time.Millisecond, PollTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	newID := func(mk func() (identity.Identity, error)) identity.Identity {
		id, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	ed := func() (identity.Identity, error) { return identity.NewRandomEd25519Identity() }
	k1 := func() (identity.Identity, error) { return identity.NewRandomSecp256k1Identity() }
	p256 := func() (identity.Identity, error) { return identity.NewRandomPrime256v1Identity() }
	treasury, whale, s2, s3 := newID(ed), newID(ed), newID(k1), newID(p256)
	acctID := func(id identity.Identity) string { return ic.LegacyAccountID(ic.Account{Owner: id.Sender()}).String() }

	// The pool, published by the DAO.
	doc := map[string]any{
		"dao": dao, "pool_id": poolID, "node_provider": connNPA, "nodes": []map[string]any{{"node_id": poolNode, "weight_xdr_permyriad": 15_000_000}},
		"hoster": map[string]any{"account": "it-hoster", "fixed_xdr_permyriad": 0, "bps": 500}, "dao_fee_bps": 200, "whale_premium_bps": 3500,
		"min_payout_e8s": 1_000_000, "rules_version": "v1", "proposal_status": "", "slash_bps": 0,
		"terms": map[string]any{"target_e8s": 1_000_000_000, "min_contribution_e8s": 10_000_000, "max_sponsor_bps": 5000,
			"funding_deadline": now.AddDate(0, 0, 30).Format(time.RFC3339), "purchaser": acctID(whale), "slash_bps": 500,
			"bond_e8s": 100_000_000, "lockup_until": now.AddDate(1, 0, 0).Format(time.RFC3339), "max_voting_bps": 3000, "ledger_fee_e8s": 10_000},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	poolFile := filepath.Join(t.TempDir(), "pool.json")
	if err := os.WriteFile(poolFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cli("pools create", 0, "pools", "create", "--in", poolFile, "--treasury", treasury.Sender().String())
	depSub, bondSub := schemas.DepositSubaccount(dao, poolID), schemas.BondSubaccount(dao, poolID)
	deposit := ic.Account{Owner: treasury.Sender(), SubAccount: &depSub}
	bond := ic.Account{Owner: treasury.Sender(), SubAccount: &bondSub}

	// Ten days ago (the canister clock set back, before any block): the
	// sponsors fund the pool (10 ICP), the purchaser posts the bond, and
	// one transfer that is no pool's.
	e.sim.AdvanceClock(-10 * 24 * time.Hour)
	for _, id := range []identity.Identity{whale, s2, s3} {
		if _, err := e.sim.Mint(ic.AccountText(ic.Account{Owner: id.Sender()}), 2_000_000_000); err != nil { // blocks 0-2
			t.Fatal(err)
		}
	}
	send := func(id identity.Identity, r ic.TransferRequest) uint64 {
		t.Helper()
		blk, err := client(id).Transfer(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return blk
	}
	wantBlocks := map[uint64]string{} // index -> what
	wantBlocks[send(whale, ic.TransferRequest{To: deposit, AmountE8s: 500_000_000})] = "whale deposit"
	legacy, err := client(s2).TransferToAccountID(ctx, ic.AccountIDTransferRequest{To: ic.LegacyAccountID(deposit), AmountE8s: 300_000_000, FeeE8s: 10_000, Memo: 7})
	if err != nil {
		t.Fatal(err)
	}
	wantBlocks[legacy] = "s2 deposit (legacy transfer)"
	wantBlocks[send(s3, ic.TransferRequest{To: deposit, AmountE8s: 200_000_000, Memo: []byte("s3")})] = "s3 deposit"
	wantBlocks[send(whale, ic.TransferRequest{To: bond, AmountE8s: 100_000_000})] = "bond"
	stranger := send(s2, ic.TransferRequest{To: ic.Account{Owner: s3.Sender()}, AmountE8s: 1_000})
	e.sim.AdvanceClock(10 * 24 * time.Hour)
	if len(wantBlocks) != 4 || stranger != 7 {
		t.Fatalf("setup: blocks %v, stranger %d", wantBlocks, stranger)
	}
	// A node of another provider is in the NRC data every day, so that each
	// day has results.
	nrcNode := func(id string, from *icsim.Date) {
		t.Helper()
		adminJSON(t, http.MethodPost, e.url+"/admin/nrc/nodes", icsim.NodeDay{FromDay: from, NodeProvider: connNPB, NodeID: id, NodeRewardType: "type1.1",
			Region: "Europe,Switzerland", DCID: "zh1", NumBlocksProposed: 1000, BaseXDRPermyriadPerMonth: 304_375}, nil)
	}
	nrcNode(connNode3, simDay(40))

	ledgerKeys := func(idx ...uint64) []string {
		var out []string
		for _, i := range idx {
			out = append(out, schemas.LedgerBlockKey(ledger, i))
		}
		return out
	}
	cursor := func(next uint64) string { return connect.LedgerCursorKey(ledger, next) }
	want := map[string][]string{
		schemas.TopicLedgerBlocks: append(ledgerKeys(3, 4, 5, 6), cursor(8)),
	}
	check := func(when string) map[string]map[string]schemas.Envelope {
		t.Helper()
		envs := map[string]map[string]schemas.Envelope{}
		for _, topic := range []string{schemas.TopicLedgerBlocks, schemas.TopicPoolFacts} {
			counts, es := e.records(t, topic)
			assertOnce(t, when+": "+topic, counts, want[topic])
			envs[topic] = es
		}
		return envs
	}

	// Two runs: the pool's blocks once, the cursor past the stranger's.
	for i := range 2 {
		stderr := connectOnce(fmt.Sprintf("run %d", i+1), 0)
		if !strings.Contains(stderr, `"ledger_next_index":8`) {
			t.Fatalf("run %d: cursor\n%s", i+1, stderr)
		}
	}
	envs := check("after two runs")
	for idx, what := range wantBlocks {
		var blk schemas.LedgerBlock
		env := envs[schemas.TopicLedgerBlocks][schemas.LedgerBlockKey(ledger, idx)]
		if err := env.DecodePayload(schemas.TypeLedgerBlock, &blk); err != nil {
			t.Fatal(err)
		}
		if blk.Op != "transfer" || blk.Ledger != ledger || blk.Index != idx || len(blk.HashHex) != 64 || !strings.HasSuffix(blk.Time, "Z") {
			t.Fatalf("%s: %+v", what, blk)
		}
		if p := env.Provenance; p.Source != "ic" || p.Canister != ledger || p.Method != "query_blocks" || p.CertTimeNanos == 0 || p.FetchTime == "" {
			t.Fatalf("%s provenance %+v", what, p)
		}
		switch what {
		case "whale deposit":
			if blk.From != acctID(whale) || blk.To != ic.LegacyAccountID(deposit).String() || blk.AmountE8s != 500_000_000 {
				t.Fatalf("%s: %+v", what, blk)
			}
		case "s2 deposit (legacy transfer)":
			if blk.From != acctID(s2) || blk.LegacyMemo != 7 || blk.MemoHex != nil {
				t.Fatalf("%s: %+v", what, blk)
			}
		case "s3 deposit":
			if blk.MemoHex == nil || *blk.MemoHex != "7333" {
				t.Fatalf("%s: %+v", what, blk)
			}
		case "bond":
			if blk.To != ic.LegacyAccountID(bond).String() {
				t.Fatalf("%s: %+v", what, blk)
			}
		}
	}

	// The DAO submitted proposal N nine days ago and records it; a
	// second, different submission is refused. Governance executed the
	// proposal eight days ago; the node joined seven days ago; the
	// treasury paid a refund out of the deposit account today.
	var prop icsim.ProposalView
	submittedAt, decidedAt := now.Add(-9*24*time.Hour).Truncate(time.Second), now.Add(-8*24*time.Hour).Truncate(time.Second)
	sec := func(t time.Time) *uint64 { v := uint64(t.Unix()); return &v }
	adminJSON(t, http.MethodPost, e.url+"/admin/governance/proposals", icsim.ProposalRequest{Title: "Add node provider", Topic: 6, AtSeconds: sec(submittedAt)}, &prop)
	pid := strconv.FormatUint(prop.ID, 10)
	out, _ := cli("propose", 0, "pools", "propose", "--dao", dao, "--pool-id", poolID, "--proposal-id", pid, "--at", submittedAt.Format(time.RFC3339))
	if !strings.Contains(out, `"proposal_submitted"`) {
		t.Fatalf("propose printed %s", out)
	}
	_, stderr := cli("propose again", 1, "pools", "propose", "--dao", dao, "--pool-id", poolID, "--proposal-id", pid+"1")
	if !strings.Contains(stderr, "a second submission") {
		t.Fatalf("second submission: %s", stderr)
	}
	cli("propose the same", 0, "pools", "propose", "--dao", dao, "--pool-id", poolID, "--proposal-id", pid)
	adminJSON(t, http.MethodPost, e.url+"/admin/governance/proposals", icsim.ProposalRequest{ID: &prop.ID, Status: icsim.ProposalExecuted, AtSeconds: sec(decidedAt)}, nil)
	nrcNode(poolNode, simDay(7))
	refund := send(treasury, ic.TransferRequest{FromSubaccount: &depSub, To: ic.Account{Owner: s3.Sender()}, AmountE8s: 50_000_000})

	// A restarted connector: it resumes at the cursor.
	connectOnce("run 3", 0)
	decided := schemas.PoolFactKey(schemas.PoolFact{DAO: dao, PoolID: poolID, Type: "proposal_decided", ProposalID: &prop.ID})
	up := schemas.PoolFactKey(schemas.PoolFact{DAO: dao, PoolID: poolID, Type: "node_up", NodeID: poolNode, At: dayText(7)})
	want[schemas.TopicLedgerBlocks] = append(ledgerKeys(3, 4, 5, 6, refund), cursor(8), cursor(refund+1))
	want[schemas.TopicPoolFacts] = []string{schemas.PoolFactKey(schemas.PoolFact{DAO: dao, PoolID: poolID, Type: "proposal_submitted", ProposalID: &prop.ID}), decided, up}
	envs = check("after the decision")
	var f schemas.PoolFact
	if err := envs[schemas.TopicPoolFacts][decided].DecodePayload(schemas.TypePoolFact, &f); err != nil || f.Status != "adopted" || f.At != decidedAt.Format(time.RFC3339) {
		t.Fatalf("decision %+v %v", f, err)
	}
	if p := envs[schemas.TopicPoolFacts][decided].Provenance; p.Source != "ic" || p.Canister != ic.GovernanceCanisterID.String() || p.Method != "get_proposal_info" {
		t.Fatalf("decision provenance %+v", p)
	}
	var out8 schemas.LedgerBlock
	if err := envs[schemas.TopicLedgerBlocks][schemas.LedgerBlockKey(ledger, refund)].DecodePayload(schemas.TypeLedgerBlock, &out8); err != nil ||
		out8.From != ic.LegacyAccountID(deposit).String() || out8.To != acctID(s3) {
		t.Fatalf("refund out %+v %v", out8, err)
	}

	// The node leaves two days ago; then the chain is forged once: that run
	// fails and publishes nothing, the next one publishes the block.
	req, _ := http.NewRequest(http.MethodDelete, e.url+"/admin/nrc/nodes/"+poolNode+"?from_day="+today.AddDate(0, 0, -2).Format("2006-01-02"), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("node leaves: %v %v", resp, err)
	}
	resp.Body.Close()
	connectOnce("run 4", 0)
	down := schemas.PoolFactKey(schemas.PoolFact{DAO: dao, PoolID: poolID, Type: "node_down", NodeID: poolNode, At: dayText(2)})
	want[schemas.TopicPoolFacts] = append(want[schemas.TopicPoolFacts], down)
	check("after the node left")

	late := send(s2, ic.TransferRequest{To: deposit, AmountE8s: 20_000_000})
	e.sim.SetFaults(icsim.Faults{ForgeBlockNext: 1})
	stderr = connectOnce("forged chain", 1)
	if !strings.Contains(stderr, "does not chain to the certified tip") {
		t.Fatalf("forged chain\n%s", stderr)
	}
	check("after the forged chain")
	for i := range 2 {
		connectOnce(fmt.Sprintf("after the forgery, run %d", i+1), 0)
	}
	want[schemas.TopicLedgerBlocks] = append(want[schemas.TopicLedgerBlocks], schemas.LedgerBlockKey(ledger, late), cursor(late+1))
	check("at the end")
}

func TestConnectPoolsConfigErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"connect", "--once", "--ledger-since-block", "yesterday"}, "--ledger-since-block must be a block index or tip"},
		{[]string{"connect", "--once", "--ledger-window", "0"}, "--ledger-window must be >= 1"},
	} {
		code, _, stderr := runMain(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}

// adminJSON calls the simulator's admin API.
func adminJSON(t *testing.T, method, url string, body, out any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		t.Fatalf("%s %s: %d %v", method, url, resp.StatusCode, m)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}
