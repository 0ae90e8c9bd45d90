package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/connectors/vault"
	rules "github.com/nodeshare/nodeshare/pipeline/audit"
	auditstage "github.com/nodeshare/nodeshare/pipeline/stage/audit"
	"github.com/nodeshare/nodeshare/schemas"
)

// auditCmd is `nodeshare audit` (docs/auditing.md).
type auditCmd struct {
	Verify   auditVerifyCmd   `cmd:"" help:"Check the hash chains and recompute every decision from the raw rows; exit 1 on any finding."`
	SignTips auditSignTipsCmd `cmd:"" name:"sign-tips" help:"Sign every hash chain's tip with the audit key (Vault transit) and publish it (dao.chain-tips.v1 and a file); run it on a schedule."`
}

// auditKeyFlags name the key that signs the chain tips.
type auditKeyFlags struct {
	AuditKey string `name:"audit-key" env:"NODESHARE_AUDIT_KEY" default:"nodeshare-audit" help:"Vault transit Ed25519 key the chain tips are signed with."`
}

// auditKey opens the audit key in Vault.
func auditKey(ctx context.Context, v vaultFlags, k auditKeyFlags) (*vault.Client, ed25519.PublicKey, int, error) {
	return transitKey(ctx, v, k.AuditKey)
}

// auditVerifyCmd checks the ClickHouse audit trail: the hash chain of every
// stream, every decision recomputed from the raw rows (manifest hashes and
// entitlements byte for byte), the entitlements table against its raw
// records, and the conservation and payout totals recomputed in SQL
// (pipeline/stage/audit).
type auditVerifyCmd struct {
	clickhouseFlags
	vaultFlags
	auditKeyFlags
	EntitlementsTopic string `name:"entitlements-topic" default:"${entitlements_topic}" help:"Topic whose decisions are recomputed."`
	Tips              string `name:"tips" placeholder:"FILE" help:"Signed chain tips (from audit sign-tips): a chain cut short or rewritten since is a finding."`
	TipsPublicKey     string `name:"tips-public-key" env:"NODESHARE_AUDIT_PUBLIC_KEY" help:"The audit key's Ed25519 public key (64 hex) the tips must be signed with; none: read it from Vault."`
	JSON              bool   `name:"json" help:"Print the report as JSON (the exit code is the same: 1 on any finding)."`
}

func (c *auditVerifyCmd) Validate() error {
	if c.EntitlementsTopic == "" {
		return fmt.Errorf("--entitlements-topic is empty")
	}
	return c.clickhouseFlags.Validate()
}

func (c *auditVerifyCmd) Run(e env) error {
	// Read-only: nothing is created, and an auditor's read-only user is
	// enough.
	store, err := clickhouse.OpenReadOnly(e.ctx, c.clickhouseFlags.config())
	if err != nil {
		return err
	}
	defer store.Close()
	var tips *rules.SignedTips
	if c.Tips != "" {
		if tips, err = c.readTips(e.ctx); err != nil {
			return err
		}
	}
	rep, err := auditstage.VerifyWithTips(e.ctx, store, c.EntitlementsTopic, tips)
	if err != nil {
		return err
	}
	if c.JSON {
		findings := make([]map[string]string, len(rep.Findings))
		for i, f := range rep.Findings {
			findings[i] = map[string]string{"check": f.Check, "where": f.Where, "expected": f.Expected, "found": f.Found, "detail": f.Detail}
		}
		if err := printJSON(e, map[string]any{"ok": len(rep.Findings) == 0, "chained_rows": rep.Chained, "periods_recomputed": rep.Periods,
			"entitlement_rows_checked": rep.Decisions, "payout_rows_checked": rep.PayoutRows, "chains_checked_against_tips": rep.Tips,
			"findings": findings}); err != nil {
			return err
		}
		if len(rep.Findings) > 0 {
			return exitCode(1)
		}
		return nil
	}
	fmt.Fprintf(e.stdout, "audit verify: %d raw rows chained, %d pool periods recomputed, %d entitlement rows and %d payout rows checked against raw records, totals recomputed in SQL, %d chains checked against signed tips\n",
		rep.Chained, rep.Periods, rep.Decisions, rep.PayoutRows, rep.Tips)
	for _, f := range rep.Findings {
		fmt.Fprintln(e.stdout, "FINDING", f.String())
	}
	if len(rep.Findings) > 0 {
		fmt.Fprintf(e.stdout, "audit verify: %d findings\n", len(rep.Findings))
		return exitCode(1)
	}
	fmt.Fprintln(e.stdout, "audit verify: OK")
	return nil
}

// readTips reads and checks the signed tips file: the signature must be
// the audit key's.
func (c *auditVerifyCmd) readTips(ctx context.Context) (*rules.SignedTips, error) {
	b, err := os.ReadFile(c.Tips)
	if err != nil {
		return nil, err
	}
	var tips rules.SignedTips
	if err := json.Unmarshal(b, &tips); err != nil {
		return nil, fmt.Errorf("--tips %s: %w", c.Tips, err)
	}
	var pub ed25519.PublicKey
	if c.TipsPublicKey != "" {
		k, err := hex.DecodeString(c.TipsPublicKey)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return nil, usageError("--tips-public-key must be 64 hex characters, got %q", c.TipsPublicKey)
		}
		pub = k
	} else if _, pub, _, err = auditKey(ctx, c.vaultFlags, c.auditKeyFlags); err != nil {
		return nil, err
	}
	if err := rules.VerifyTipsSignature(tips, pub); err != nil {
		return nil, fmt.Errorf("--tips %s: %w", c.Tips, err)
	}
	return &tips, nil
}

// auditSignTipsCmd signs every chain's tip (docs/auditing.md "Signed
// tips"): the last row of each stream in ClickHouse, signed by the audit
// key in Vault transit, published to dao.chain-tips.v1 (compacted) and
// written to a file an auditor keeps.
type auditSignTipsCmd struct {
	kafkaFlags
	clickhouseFlags
	vaultFlags
	localFlags
	auditKeyFlags
	Out string `name:"out" placeholder:"FILE" help:"Where to write the signed tips (default <local dir>/chain-tips.json)."`
}

func (c *auditSignTipsCmd) Run(e env) error {
	store, err := clickhouse.OpenReadOnly(e.ctx, c.clickhouseFlags.config())
	if err != nil {
		return err
	}
	defer store.Close()
	rows, err := store.RawRows(e.ctx)
	if err != nil {
		return err
	}
	vc, pub, version, err := auditKey(e.ctx, c.vaultFlags, c.auditKeyFlags)
	if err != nil {
		return err
	}
	tips, err := rules.SignTips(rules.Tips(rows), time.Now().UTC().Format(time.RFC3339), c.AuditKey, pub,
		func(m []byte) ([]byte, error) { return vc.Sign(e.ctx, m, version) })
	if err != nil {
		return err
	}
	brokers := c.brokers()
	if err := kafka.EnsureTopicsWith(e.ctx, brokers, schemas.Topics(), c.topicOptions()); err != nil {
		return err
	}
	producer := kafka.NewProducer(brokers)
	defer producer.Close()
	env, err := schemas.NewEnvelope(schemas.TypeChainTips, "tips/"+tips.SignedAt, schemas.Provenance{Source: "nodeshare", Method: "audit sign-tips"}, tips)
	if err != nil {
		return err
	}
	b, err := env.Marshal()
	if err != nil {
		return err
	}
	if err := producer.Publish(e.ctx, kafka.Record{Topic: schemas.TopicChainTips, Key: []byte("tips"), Value: b}); err != nil {
		return err
	}
	out := c.Out
	if out == "" {
		out = filepath.Join(c.LocalDir, "chain-tips.json")
	}
	w, done, err := openOutput(out, e.stdout)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(tips); err != nil {
		done()
		return err
	}
	if err := done(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "audit sign-tips: %d chains signed with %s at %s, written to %s and %s\n", len(tips.Tips), c.AuditKey, tips.SignedAt, out, schemas.TopicChainTips)
	return nil
}
