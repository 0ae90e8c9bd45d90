package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/stage/members"
	"github.com/nodeshare/nodeshare/pipeline/stage/pools"
)

// TestMembersAttestAndPoolIdentities: the association's attester (a Vault
// transit key) attests two accounts to one member and one to another, then
// revokes one; members list counts only the attester's statements; a pool
// created with --identities-from-members carries them as its identities.
func TestMembersAttestAndPoolIdentities(t *testing.T) {
	cfg := requireServices(t)
	root := rootVault(t, cfg)
	key := fmt.Sprintf("attester-it-%d", time.Now().UnixNano())
	if _, err := root.Logical().Write(cfg.Vault.TransitMount+"/keys/"+key, map[string]any{"type": "ed25519"}); err != nil {
		t.Fatalf("create transit key %s: %v", key, err)
	}
	prefix := fmt.Sprintf("it-members-%d.", time.Now().UnixNano())
	dao := "it-members"
	env := []string{"NODESHARE_KAFKA_BROKERS=" + strings.Join(cfg.brokers().Addrs, ","), "NODESHARE_VAULT_TOKEN=" + root.Token(),
		"NODESHARE_VAULT_ADDR=" + cfg.Vault.Addr, "NODESHARE_ATTESTER_TRANSIT_KEY=" + key}
	a1, a2, a3 := lifecycleAccount(501), lifecycleAccount(502), lifecycleAccount(503)
	var attesterKey string
	for _, s := range []struct{ cmd, identity, account string }{
		{"attest", "member-17", a1}, {"attest", "member-17", a2}, {"attest", "member-18", a3}, {"revoke", "", a3},
	} {
		args := []string{"members", s.cmd, "--dao", dao, "--account", s.account, "--topic-prefix", prefix}
		if s.identity != "" {
			args = append(args, "--identity", s.identity)
		}
		code, out, errOut := runCLI(t, env, args...)
		var m struct {
			PublicKeyDER string `json:"public_key_der"`
			Signature    string `json:"signature"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &m) != nil || m.Signature == "" {
			t.Fatalf("members %s %s: %d\n%s\n%s", s.cmd, s.account, code, out, errOut)
		}
		attesterKey = m.PublicKeyDER
	}
	list := func(keyHex string) members.Listing {
		t.Helper()
		code, out, errOut := runCLI(t, env, "members", "list", "--dao", dao, "--json", "--topic-prefix", prefix, "--attester-public-key", keyHex)
		var l members.Listing
		if code != 0 || json.Unmarshal([]byte(out), &l) != nil {
			t.Fatalf("members list: %d\n%s\n%s", code, out, errOut)
		}
		return l
	}
	l := list(attesterKey)
	if len(l.Members) != 1 || l.Members[0].Identity != "member-17" || len(l.Members[0].Accounts) != 2 || len(l.Refused) != 0 {
		t.Fatalf("members %+v", l)
	}
	// Under another attester key, nothing counts and every statement is refused.
	if other := list(strings.Repeat("ab", 44)); len(other.Members) != 0 || len(other.Refused) != 4 {
		t.Fatalf("under another key: %+v", other)
	}

	p := lifecyclePool("pool-members", 600)
	p.DAO = dao
	p.Terms.DepositAccount, p.Terms.BondAccount, p.Terms.Treasury = "", "", ""
	b, _ := json.Marshal(p)
	file := filepath.Join(t.TempDir(), "pool.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, env, "pools", "create", "--in", file, "--treasury", "rrkah-fqaaa-aaaaa-aaaaq-cai", "--topic-prefix", prefix,
		"--identities-from-members", "--attester-public-key", attesterKey)
	var got pools.Pool
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("pools create: %d\n%s\n%s", code, out, errOut)
	}
	if ids := got.Terms.Identities; len(ids) != 2 || ids[a1] != "member-17" || ids[a2] != "member-17" {
		t.Fatalf("the pool's identities %v, want a1 and a2 as member-17", ids)
	}
}
