package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"
	vapi "github.com/hashicorp/vault/api"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/vault"
	"github.com/nodeshare/nodeshare/ops/icsim"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout/payouttest"
	"github.com/nodeshare/nodeshare/schemas"
)

// vaultWorld: the real Vault/OpenBao of the stack signs (transit), an
// in-process simulator holds the ledger, an in-memory store the state.
type vaultWorld struct {
	t      *testing.T
	cfg    config
	sim    *icsim.Server
	hs     *httptest.Server
	store  *payouttest.MemStore
	dao    string
	period string
	sha    string
}

func newVaultWorld(t *testing.T, cfg config, seed uint64) *vaultWorld {
	t.Helper()
	sim, err := icsim.New(icsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim.Handler())
	t.Cleanup(hs.Close)
	w := &vaultWorld{t: t, cfg: cfg, sim: sim, hs: hs, dao: "vault-dao", period: "2026-11-01T06:00:00Z"}
	ents, pools := payouttest.SimPeriod(rand.New(rand.NewPCG(seed, seed)), w.dao, w.period, 4, int64(icsim.LedgerFeeE8s))
	w.store = payouttest.NewMemStore(ents, pools)
	eng := &payout.Engine{Store: w.store, Approval: payouttest.Approval(1, testDemoApprover), Verifier: ic.Verifier{}}
	m, _, err := eng.Plan(context.Background(), w.dao, w.period, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := eng.Approve(context.Background(), w.dao, w.period, m.SHA256, "demo", testDemoApprover); err != nil {
		t.Fatal(err)
	}
	w.sha = m.SHA256
	// Fund the transit key's principal on this simulator.
	id := w.identity(cfg.Vault)
	if _, err := sim.Mint(ic.AccountText(ic.Account{Owner: id.Sender()}), uint64(m.TotalAmountE8s+m.TotalFeeE8s)); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *vaultWorld) identity(vc vault.Config) *vault.TransitIdentity {
	w.t.Helper()
	c, err := vault.New(vc)
	if err != nil {
		w.t.Fatal(err)
	}
	id, err := vault.NewTransitIdentity(context.Background(), c)
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

func (w *vaultWorld) run(id *vault.TransitIdentity) (payout.Summary, error) {
	return w.runHook(id, nil)
}

// runHook runs with hook called at the engine's crash points (payout.PhaseSending:
// every check passed, the first transfer signature follows).
func (w *vaultWorld) runHook(id *vault.TransitIdentity, hook func(string)) (payout.Summary, error) {
	client, err := ic.New(ic.Config{URL: w.hs.URL, Identity: id, FetchRootKey: true, PollDelay: 10 * time.Millisecond, PollTimeout: time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	eng := &payout.Engine{Store: w.store, Ledger: ic.PayoutLedger{Client: client, Treasury: ic.Account{Owner: id.Sender()}}, Approval: payouttest.Approval(1, testDemoApprover), Verifier: ic.Verifier{},
		Concurrency: 2, MaxTries: 2, RetryWait: 10 * time.Millisecond, Crash: hook}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return eng.Run(ctx, w.dao, w.period, payout.RunOptions{ExpectSHA256: w.sha})
}

func (w *vaultWorld) transfers() int {
	n := 0
	for _, b := range w.sim.Ledger().Blocks {
		if b.Op == icsim.OpTransfer {
			n++
		}
	}
	return n
}

// stoppedCleanly: the run stopped on a signing failure, nothing moved,
// nothing recorded as paid or failed.
func (w *vaultWorld) stoppedCleanly(sum payout.Summary, err error) {
	w.t.Helper()
	// Queries are signed too: a failure before the transfers stops at the
	// checks ("nothing signed"); during the transfers it stops the run.
	early := strings.Contains(err.Error(), "vault signing failed") && strings.Contains(err.Error(), "nothing signed")
	if err == nil || !(early || (errors.Is(err, payout.ErrStopRun) && strings.Contains(err.Error(), "signing failed"))) {
		w.t.Fatalf("want a clean stop on a signing failure, got %v", err)
	}
	if n := w.transfers(); n != 0 || sum.Paid != 0 || sum.Failed != 0 {
		w.t.Fatalf("after a signing failure: %d transfers, %d paid, %d failed", n, sum.Paid, sum.Failed)
	}
	for id, r := range w.store.ResultsBy {
		if r.Status != schemas.PayoutPending {
			w.t.Fatalf("intent %s recorded %s after a signing failure", id, r.Status)
		}
	}
}

func (w *vaultWorld) resumedAll(sum payout.Summary, err error) {
	w.t.Helper()
	if err != nil || sum.Paid != len(sum.Manifest.Intents) || w.transfers() != len(sum.Manifest.Intents) {
		w.t.Fatalf("resume: %v, %d paid of %d, %d transfers", err, sum.Paid, len(sum.Manifest.Intents), w.transfers())
	}
}

func rootVault(t *testing.T, cfg config) *vapi.Client {
	t.Helper()
	// The root token is not in the daemons' environment (ops/stack env):
	// ops/stack hands it to this test, which seals and unseals Vault.
	tok := os.Getenv("NODESHARE_VAULT_ROOT_TOKEN")
	if tok == "" {
		out, err := exec.Command("../../ops/stack", "root-token").Output()
		if err != nil {
			t.Fatalf("ops/stack root-token: %v", err)
		}
		tok = strings.TrimSpace(string(out))
	}
	vc := vapi.DefaultConfig()
	vc.Address = cfg.Vault.Addr
	c, err := vapi.NewClient(vc)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(tok)
	return c
}

func unsealKey(t *testing.T) string {
	t.Helper()
	paths := []string{"../../.local/vault/init.json", ".local/vault/init.json"}
	if d := os.Getenv("NODESHARE_LOCAL_DIR"); d != "" {
		paths = append([]string{filepath.Join(d, "vault", "init.json")}, paths...)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var init struct {
			Keys []string `json:"unseal_keys_b64"`
		}
		if json.Unmarshal(b, &init) == nil && len(init.Keys) > 0 {
			return init.Keys[0]
		}
	}
	t.Skip("no vault/init.json under NODESHARE_LOCAL_DIR or .local: cannot unseal, so the sealed test does not seal")
	return ""
}

// Vault sealed: the run stops before anything is sent and the intents stay
// pending; after unsealing, a resume pays everything once. The test always
// unseals (deferred), so the shared stack is left as it was.
func TestPayoutVaultSealedStopsAndResumes(t *testing.T) {
	cfg := requireServices(t)
	root := rootVault(t, cfg)
	key := unsealKey(t)
	w := newVaultWorld(t, cfg, 31)
	id := w.identity(cfg.Vault)
	unseal := func() {
		for i := 0; i < 50; i++ {
			st, err := root.Sys().Unseal(key)
			if err == nil && !st.Sealed {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Error("Vault did not unseal: run ops/stack up")
	}
	seal := func() {
		if err := root.Sys().Seal(); err != nil {
			t.Fatalf("seal: %v", err)
		}
	}
	defer unseal()
	// Sealed before the run: it stops at its first (signed) query.
	seal()
	sum, err := w.run(id)
	unseal()
	w.stoppedCleanly(sum, err)
	// Sealed after every check passed, before the first transfer: the run
	// stops at the first signature and sends nothing.
	sum, err = w.runHook(w.identity(cfg.Vault), func(p string) {
		if p == payout.PhaseSending {
			seal()
		}
	})
	unseal()
	w.stoppedCleanly(sum, err)
	if !errors.Is(err, payout.ErrStopRun) {
		t.Fatalf("sealed mid-run: want payout.ErrStopRun, got %v", err)
	}
	// Wait until transit answers again (the unsealed server may still be
	// starting its mounts).
	var id2 *vault.TransitIdentity
	for i := 0; i < 50; i++ {
		c, _ := vault.New(cfg.Vault)
		if id2, err = vault.NewTransitIdentity(context.Background(), c); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if id2 == nil {
		t.Fatalf("transit after unseal: %v", err)
	}
	w.resumedAll(w.run(id2))
}

// Vault unreachable (the address stops answering mid-life): stop cleanly,
// resume later through a reachable address.
func TestPayoutVaultUnreachableStopsAndResumes(t *testing.T) {
	cfg := requireServices(t)
	w := newVaultWorld(t, cfg, 32)
	target, _ := url.Parse(cfg.Vault.Addr)
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	vc := cfg.Vault
	vc.Addr = proxy.URL
	vc.Timeout = 3 * time.Second
	id := w.identity(vc)
	proxy.Close() // unreachable from now on
	w.stoppedCleanly(w.run(id))
	w.resumedAll(w.run(w.identity(cfg.Vault)))
}

// Token expired: a short-lived signer token stops the run cleanly; a new
// token resumes it.
func TestPayoutVaultTokenExpiredStopsAndResumes(t *testing.T) {
	cfg := requireServices(t)
	root := rootVault(t, cfg)
	w := newVaultWorld(t, cfg, 33)
	sec, err := root.Auth().Token().Create(&vapi.TokenCreateRequest{Policies: []string{"nodeshare-signer"}, TTL: "3s", NoParent: false, Renewable: new(bool)})
	if err != nil {
		t.Fatalf("create a short token: %v", err)
	}
	vc := cfg.Vault
	vc.Token = sec.Auth.ClientToken
	id := w.identity(vc)
	time.Sleep(4 * time.Second)
	w.stoppedCleanly(w.run(id))
	w.resumedAll(w.run(w.identity(cfg.Vault)))
}

// AppRole: log in with a role id and secret id, keep the token alive
// (re-login when renewal ends), and sign. Skips when the stack has no
// approle mount for the signer.
func TestVaultAppRoleLoginAndSign(t *testing.T) {
	cfg := requireServices(t)
	root := rootVault(t, cfg)
	auths, err := root.Sys().ListAuth()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := auths["approle/"]; !ok {
		if err := root.Sys().EnableAuthWithOptions("approle", &vapi.EnableAuthOptions{Type: "approle"}); err != nil {
			t.Fatalf("enable approle: %v", err)
		}
	}
	// A role with the signer policy and a short, renewable token TTL, so the
	// watcher renews and then logs in again after the max TTL.
	if _, err := root.Logical().Write("auth/approle/role/nodeshare-signer-test", map[string]any{
		"token_policies": "nodeshare-signer", "token_ttl": "2s", "token_max_ttl": "4s", "secret_id_ttl": "10m",
	}); err != nil {
		t.Fatalf("role: %v", err)
	}
	r, err := root.Logical().Read("auth/approle/role/nodeshare-signer-test/role-id")
	if err != nil {
		t.Fatal(err)
	}
	s, err := root.Logical().Write("auth/approle/role/nodeshare-signer-test/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	vc := cfg.Vault
	vc.Token, vc.Auth, vc.RoleID, vc.SecretID = "", "approle", r.Data["role_id"].(string), s.Data["secret_id"].(string)
	c, err := vault.New(vc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	login, err := c.Login(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go c.KeepAlive(ctx, login, nil)
	id, err := vault.NewTransitIdentity(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	// Past the token's max TTL: KeepAlive must have logged in again.
	time.Sleep(6 * time.Second)
	if _, err := id.Sign([]byte("after the max ttl")); err != nil {
		t.Fatalf("sign after the first token's max TTL (re-login expected): %v", err)
	}
}

// KV mode: the treasury key as PEM in KV v2, read with KVIdentity; the
// nodeshare-signer-kv policy grants read on the production path and
// nothing else.
func TestVaultKVKeyMode(t *testing.T) {
	cfg := requireServices(t)
	root := rootVault(t, cfg)
	ctx := context.Background()
	want, err := identity.NewRandomEd25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := want.ToPEM()
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("nodeshare/signer-key-test-%d", time.Now().UnixNano())
	if _, err := root.KVv2("secret").Put(ctx, path, map[string]any{"pem": string(pem)}); err != nil {
		t.Fatalf("put: %v", err)
	}
	defer func() { _ = root.KVv2("secret").DeleteMetadata(ctx, path) }()
	vc := cfg.Vault
	vc.Token = root.Token()
	c, err := vault.New(vc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := vault.KVIdentity(ctx, c, "secret", path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sender().String() != want.Sender().String() {
		t.Fatalf("KV identity %s, want %s", got.Sender(), want.Sender())
	}
	sig, err := got.Sign([]byte("kv"))
	if err != nil || !want.Verify([]byte("kv"), sig) {
		t.Fatalf("sign: %v", err)
	}
	// The policy: read on the production path, nothing on the test path.
	tok, err := root.Auth().Token().Create(&vapi.TokenCreateRequest{Policies: []string{"nodeshare-signer-kv"}, TTL: "1m"})
	if err != nil {
		t.Skipf("policy nodeshare-signer-kv not installed: %v", err)
	}
	kc, _ := vapi.NewClient(&vapi.Config{Address: cfg.Vault.Addr})
	kc.SetToken(tok.Auth.ClientToken)
	caps, err := kc.Sys().CapabilitiesSelf("secret/data/nodeshare/signer-key")
	if err != nil || len(caps) != 1 || caps[0] != "read" {
		t.Fatalf("capabilities on the key path: %v %v", caps, err)
	}
	caps, _ = kc.Sys().CapabilitiesSelf("secret/data/" + path)
	if len(caps) != 1 || caps[0] != "deny" {
		t.Fatalf("capabilities elsewhere: %v", caps)
	}
}

// An approver whose key is a Vault transit key: `payout approver-key`
// prints the member's entry from Vault, `payout approve` signs inside Vault,
// and the approval verifies under the configured key; the same key cannot
// approve under another member's name.
func TestPayoutApproveWithVaultTransitKey(t *testing.T) {
	cfg := requireServices(t)
	root := rootVault(t, cfg)
	keyName := fmt.Sprintf("approver-it-%d", time.Now().UnixNano())
	if _, err := root.Logical().Write(cfg.Vault.TransitMount+"/keys/"+keyName, map[string]any{"type": "ed25519"}); err != nil {
		t.Fatalf("create transit key %s: %v", keyName, err)
	}
	// The approver's own token: here the root one (in production, a token
	// whose policy signs with this key only).
	t.Setenv("NODESHARE_VAULT_TOKEN", root.Token())
	vf := vaultFlags{VaultAddr: cfg.Vault.Addr, VaultTransitMount: cfg.Vault.TransitMount, VaultTransitKey: "unused"}
	code, out, stderr := runMain(t, "payout", "approver-key", "--name", "treasurer", "--approver-transit-key", keyName, "--vault-addr", cfg.Vault.Addr)
	if code != 0 || !strings.HasPrefix(out, "treasurer=302a300506032b6570032100") {
		t.Fatalf("approver-key: exit %d, %q, %s", code, out, stderr)
	}
	set, err := rules.ParseApprovers([]string{strings.TrimSpace(out), "other=" + hex.EncodeToString(testDemoApprover.PublicKeyDER())})
	if err != nil {
		t.Fatal(err)
	}
	w := newVaultWorld(t, cfg, 33)
	eng := &payout.Engine{Store: w.store, Approval: rules.Approval{Approvers: set, Threshold: 1}, Verifier: ic.Verifier{}}
	ctx := context.Background()
	m, _, err := eng.Plan(ctx, w.dao, w.period, true)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := approverKeyFlags{TransitKey: keyName}.open(ctx, vf)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := eng.Approve(ctx, w.dao, w.period, m.SHA256, "other", signer); err == nil || !strings.Contains(err.Error(), `is not approver "other"'s configured key`) {
		t.Fatalf("the transit key approved as another member: %v", err)
	}
	ok, who, err := eng.Approve(ctx, w.dao, w.period, m.SHA256, "treasurer", signer)
	if err != nil || !ok || len(who) != 1 || who[0] != "treasurer" {
		t.Fatalf("approve: ok %v by %v: %v", ok, who, err)
	}
	aps, _ := w.store.Approvals(ctx, m.SHA256)
	var mine *schemas.PayoutApproval
	for i := range aps {
		if aps[i].Approver == "treasurer" {
			mine = &aps[i]
		}
	}
	if mine == nil || mine.Signature == "" {
		t.Fatalf("stored approvals: %+v", aps)
	}
	// An auditor checks the row alone: its key and signature.
	pub, _ := hex.DecodeString(mine.PublicKeyDER)
	sig, _ := hex.DecodeString(mine.Signature)
	if err := ic.VerifySignature(pub, schemas.PayoutApprovalMessage(w.dao, w.period, m.SHA256), sig); err != nil {
		t.Fatalf("the stored approval does not verify: %v", err)
	}
}
