package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/principal"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/connectors/web"
	lcrules "github.com/nodeshare/nodeshare/pipeline/lifecycle"
	lifecyclestage "github.com/nodeshare/nodeshare/pipeline/stage/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/stage/sink"
	"github.com/nodeshare/nodeshare/pipeline/stage/votes"
	"github.com/nodeshare/nodeshare/schemas"
)

// govSponsor is a sponsor with its own dfx identity file and the default
// account of that identity's principal.
type govSponsor struct {
	pem     string
	signer  *ic.PEMSigner
	account string
}

func newGovSponsor(t *testing.T, dir, name string, secp bool) govSponsor {
	t.Helper()
	pem := writeTestIdentity(t, dir, name, secp)
	s, err := ic.LoadPEMIdentity(pem)
	if err != nil {
		t.Fatal(err)
	}
	acc := principal.NewAccountID(s.Principal(), [32]byte{})
	return govSponsor{pem: pem, signer: s, account: hex.EncodeToString(acc.Bytes())}
}

// TestGovernanceBallotsOverHTTP: sponsors of a funded pool vote with their
// own identities through nodeshare serve's ballot endpoint, on the real
// Kafka, with the lifecycle processor tallying. A forged, a replayed and a
// late ballot are refused at the door with their reason; a ballot from a
// non-sponsor, and a late one that reaches Kafka around the door, are
// dead-lettered by the processor with theirs (the voter sees it at GET
// /api/ballots). One identity holding two accounts votes once with the
// weight of both, capped.
func TestGovernanceBallotsOverHTTP(t *testing.T) {
	cfg := requireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	brokers := cfg.brokers()
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	prefix := "it-gov-" + run + "."
	if err := kafka.EnsureTopics(ctx, brokers, prefixed(prefix, schemas.Topics()), 1); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	alice, bob, carol, erin, dave := newGovSponsor(t, dir, "alice", false), newGovSponsor(t, dir, "bob", true),
		newGovSponsor(t, dir, "carol", false), newGovSponsor(t, dir, "erin", true), newGovSponsor(t, dir, "dave", false)

	// A 100 ICP pool, a 30% voting cap; carol and erin are one attested
	// identity. alice 40, bob 25, carol 20, erin 15: funded.
	p := lifecyclePool("pool-gov", 300)
	p.Terms.MaxVotingBps = 3000
	p.Terms.Identities = map[string]string{carol.account: "kyc:carol-erin", erin.account: "kyc:carol-erin"}
	t0 := time.Now().UTC().Add(-2 * time.Hour)
	prod := kafka.NewProducer(brokers)
	defer prod.Close()
	recs := []kafka.Record{lifecycleRecord(t, prefix+schemas.TopicPools, schemas.TypePool, schemas.PoolKey(p.DAO, p.PoolID), p)}
	for i, d := range []struct {
		from string
		icp  int64
	}{{alice.account, 40}, {bob.account, 25}, {carol.account, 20}, {erin.account, 15}} {
		recs = append(recs, lifecycleBlock(t, prefix+schemas.TopicLedgerBlocks, uint64(i+1), t0.Add(time.Duration(i)*time.Minute), d.from, p.Terms.DepositAccount, d.icp*icpE8s))
	}
	// One account funded both alice and bob before they deposited: a
	// sockpuppet hint in the weight report.
	source := lifecycleAccount(77)
	recs = append(recs,
		lifecycleBlock(t, prefix+schemas.TopicLedgerBlocks, 10, t0.Add(10*time.Minute), source, alice.account, icpE8s),
		lifecycleBlock(t, prefix+schemas.TopicLedgerBlocks, 11, t0.Add(11*time.Minute), source, bob.account, icpE8s))
	if err := prod.Publish(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	lc := lifecyclestage.Config{Group: "it-gov-" + run, Verifier: ic.Verifier{}, Logger: quietLog()}
	process := func() {
		t.Helper()
		if err := runLifecycle(ctx, brokers, kafka.TopicOptions{}, prefix, lc, true); err != nil {
			t.Fatal(err)
		}
	}
	process()

	// The DAO opens the vote (weights frozen now): alice 30 (capped), bob
	// 25, carol+erin 35 capped to 30: W = 85 ICP.
	env := []string{"NODESHARE_KAFKA_BROKERS=" + strings.Join(brokers.Addrs, ",")}
	if code, out, errOut := runCLI(t, env, "vote", "open", "--dao", "it", "--pool-id", "pool-gov", "--vote-id", "v1", "--kind", "terminate_hoster",
		"--subject", `{"hoster":"h"}`, "--closes-in", "1h", "--threshold-bps", "5001", "--topic-prefix", prefix); code != 0 {
		t.Fatalf("vote open: %d\n%s\n%s", code, out, errOut)
	}
	shortOpened := time.Now()
	if code, out, errOut := runCLI(t, env, "vote", "open", "--dao", "it", "--pool-id", "pool-gov", "--vote-id", "v-short", "--kind", "grant_hoster_access",
		"--subject", `{"grantee":"ops-anna","node_id":"n1","until":"2030-01-01T00:00:00Z"}`, "--closes-in", "3s", "--topic-prefix", prefix); code != 0 {
		t.Fatalf("vote open v-short: %d\n%s\n%s", code, out, errOut)
	}
	process()

	url, _ := startServe(t, ctx, "--dao", "it", "--treasury", "rrkah-fqaaa-aaaaa-aaaaq-cai", "--no-ledger", "--ballots", "--topic-prefix", prefix,
		"--kafka-brokers", strings.Join(brokers.Addrs, ","))
	cast := func(s govSponsor, vote, choice string, nonce uint64) (int, string, string) {
		t.Helper()
		return runCLI(t, env, "vote", "cast", "--dao", "it", "--pool-id", "pool-gov", "--vote-id", vote, "--choice", choice,
			"--identity-pem", s.pem, "--nonce", fmt.Sprint(nonce), "--endpoint", url)
	}
	for _, c := range []struct {
		s      govSponsor
		choice string
		nonce  uint64
	}{{alice, "yes", 1}, {bob, "no", 1}, {carol, "no", 1}, {erin, "yes", 1}, {dave, "yes", 1}} {
		if code, out, errOut := cast(c.s, "v1", c.choice, c.nonce); code != 0 || !strings.Contains(out, `"status": "published"`) {
			t.Fatalf("cast %s: %d\n%s\n%s", c.s.account, code, out, errOut)
		}
	}
	// Replayed: alice's nonce 1 again.
	if code, _, errOut := cast(alice, "v1", "no", 1); code == 0 || !strings.Contains(errOut, "ballot replayed") || !strings.Contains(errOut, "400") {
		t.Fatalf("replayed ballot: %d\n%s", code, errOut)
	}
	// Forged: dave's key claiming bob's account.
	forged := signedBallot(t, dave.signer, bob.account, "v1", "yes", 7)
	if _, err := web.PostBallot(ctx, http.DefaultClient, url, schemas.BallotRequest{DAO: "it", PoolID: "pool-gov", Ballot: forged}); err == nil ||
		!strings.Contains(err.Error(), "not the account of the signing key") {
		t.Fatalf("forged ballot: %v", err)
	}
	// Tampered: alice's signature of "yes", the choice changed to "no".
	tampered := signedBallot(t, alice.signer, alice.account, "v1", "yes", 8)
	tampered.Choice = "no"
	if _, err := web.PostBallot(ctx, http.DefaultClient, url, schemas.BallotRequest{DAO: "it", PoolID: "pool-gov", Ballot: tampered}); err == nil ||
		!strings.Contains(err.Error(), "mis-signed") {
		t.Fatalf("tampered ballot: %v", err)
	}
	// Late: v-short closes 3 s after it opened (whole seconds: wait 5).
	time.Sleep(time.Until(shortOpened.Add(5 * time.Second)))
	if code, _, errOut := cast(alice, "v-short", "yes", 2); code == 0 || !strings.Contains(errOut, "late ballot") {
		t.Fatalf("a ballot after v-short closed: %d\n%s", code, errOut)
	}
	// A late ballot that reaches Kafka around the door: the processor
	// refuses it.
	late := signedBallot(t, bob.signer, bob.account, "v-short", "no", 3)
	lf := schemas.PoolFact{DAO: "it", PoolID: "pool-gov", Type: "ballot", At: time.Now().UTC().Format(time.RFC3339Nano), Ballot: &late}
	if err := prod.Publish(ctx, lifecycleRecord(t, prefix+schemas.TopicPoolFacts, schemas.TypePoolFact, schemas.PoolFactKey(lf), lf)); err != nil {
		t.Fatal(err)
	}
	// A body too large and a wrong content type.
	if resp, err := http.Post(url+"api/ballots", "application/json", strings.NewReader(`{"dao":"`+strings.Repeat("a", 20<<10)+`"}`)); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 20 KiB body: %v %v", resp.StatusCode, err)
	}
	if resp, err := http.Post(url+"api/ballots", "text/plain", strings.NewReader("{}")); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain: %v %v", resp.StatusCode, err)
	}
	process()

	var vs []votes.Vote
	getJSON(t, url+"api/votes?dao=it&pool=pool-gov", &vs)
	if len(vs) != 2 || vs[0].VoteID != "v-short" || vs[1].VoteID != "v1" {
		t.Fatalf("votes %+v", vs)
	}
	v1 := vs[1]
	if v1.WeightTotalE8s != 85*icpE8s || v1.YesE8s != 60*icpE8s || v1.NoE8s != 25*icpE8s || v1.AbstainE8s != 0 {
		t.Fatalf("v1 tally %+v: want yes 60 (alice 30 capped, carol+erin 30 capped, once), no 25 (bob), of 85", v1)
	}
	var daves []votes.BallotStatus
	getJSON(t, url+"api/ballots?dao=it&pool=pool-gov&voter="+dave.account, &daves)
	if len(daves) != 1 || daves[0].Status != "refused" || !strings.Contains(daves[0].Reason, "holds no voting weight") {
		t.Fatalf("dave's ballots: %+v", daves)
	}
	var bobs []votes.BallotStatus
	getJSON(t, url+"api/ballots?dao=it&pool=pool-gov&voter="+bob.account, &bobs)
	if len(bobs) != 2 || bobs[0].Status != "accepted" || bobs[1].Status != "refused" || !strings.Contains(bobs[1].Reason, "after vote \"v-short\" closed") {
		t.Fatalf("bob's ballots: %+v", bobs)
	}
	// The access register: v-short (grant_hoster_access) has no ballot and
	// has not passed (open or failed), so it grants nothing, over HTTP and
	// on the CLI.
	var acc votes.Access
	getJSON(t, url+"api/access?dao=it&pool=pool-gov", &acc)
	if vs[0].Status == "passed" || acc.DAO != "it" || acc.PoolID != "pool-gov" || acc.StateAsOf == "" || acc.Entries == nil || len(acc.Entries) != 0 || len(acc.Ignored) != 0 {
		t.Fatalf("v-short %s, access register %+v: want no entry", vs[0].Status, acc)
	}
	if code, out, errOut := runCLI(t, env, "vote", "access", "--dao", "it", "--pool-id", "pool-gov", "--topic-prefix", prefix); code != 0 ||
		!strings.Contains(out, "it/pool-gov access register (pool state as of "+acc.StateAsOf+")") || !strings.Contains(out, "GRANTEE") {
		t.Fatalf("vote access: %d\n%s\n%s", code, out, errOut)
	}
	// The weight report, from the audit trail: the sink stores the topics.
	store, db := freshDatabase(t, ctx, cfg)
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sc := sink.Config{Group: "it-gov-sink-" + run, MaxBatch: 5000, MaxWait: 100 * time.Millisecond, Logger: quietLog()}
	if err := runSinkStage(ctx, brokers, kafka.TopicOptions{}, prefix, store, sc, true); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, append(env, "NODESHARE_CLICKHOUSE_DATABASE="+db), "vote", "weights", "--dao", "it", "--pool-id", "pool-gov", "--json")
	var rep lcrules.WeightReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("vote weights: %d\n%s\n%s", code, out, errOut)
	}
	if int64(rep.CapE8s) != 30*icpE8s || int64(rep.WeightTotalE8s) != 85*icpE8s || len(rep.Rows) != 4 {
		t.Fatalf("weight report %+v", rep)
	}
	kinds := map[string][]string{}
	for _, h := range rep.Hints {
		kinds[h.Kind] = h.Accounts
	}
	if got := kinds[lcrules.HintSameSource]; len(got) != 2 || !slices.Contains(got, alice.account) || !slices.Contains(got, bob.account) {
		t.Fatalf("same-source hint %v, want alice and bob (hints %+v)", got, rep.Hints)
	}
	if got := kinds[lcrules.HintDepositBurst]; len(got) != 4 {
		t.Fatalf("deposit-burst hint %v, want the four deposits of blocks 1..4", got)
	}

	// The CLI shows the same.
	if code, out, errOut := runCLI(t, env, "vote", "show", "--dao", "it", "--pool-id", "pool-gov", "--vote-id", "v1", "--json", "--topic-prefix", prefix); code != 0 ||
		!strings.Contains(out, fmt.Sprintf(`"yes_e8s": %d`, 60*icpE8s)) {
		t.Fatalf("vote show: %d\n%s\n%s", code, out, errOut)
	}
}

func signedBallot(t *testing.T, s *ic.PEMSigner, voter, vote, choice string, nonce uint64) schemas.SignedBallot {
	t.Helper()
	b := schemas.SignedBallot{VoteID: vote, Voter: voter, Choice: choice, Nonce: nonce, PublicKeyDER: hex.EncodeToString(s.PublicKeyDER())}
	sig, err := s.Sign(context.Background(), b.Message("it", "pool-gov"))
	if err != nil {
		t.Fatal(err)
	}
	b.Signature = hex.EncodeToString(sig)
	return b
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
