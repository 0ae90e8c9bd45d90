package main

import (
	"encoding/hex"
	"fmt"
	"text/tabwriter"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/vault"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/members"
	"github.com/nodeshare/nodeshare/schemas"
)

// membersCmd is `nodeshare members` (docs/governance.md "Attested
// identities"): the association's attester signs which accounts belong to
// one member.
type membersCmd struct {
	Attest membersAttestCmd `cmd:"" help:"Attest that an account belongs to a member (signed by the attester's Vault transit key)."`
	Revoke membersRevoke    `cmd:"" help:"Revoke an account's attestation (signed by the attester's Vault transit key)."`
	List   membersListCmd   `cmd:"" help:"List a DAO's members from the attester's valid statements; statements by another key or edited since are listed as refused."`
}

// attesterFlags are the attester's signing key in Vault.
type attesterFlags struct {
	Vault       vaultFlags `embed:""`
	AttesterKey string     `name:"attester-transit-key" env:"NODESHARE_ATTESTER_TRANSIT_KEY" default:"nodeshare-attester" help:"The attester's Vault transit key (Ed25519); NODESHARE_VAULT_TOKEN must be allowed to sign with it."`
}

// attesterKeyFlag is the attester's public key that statements must be
// signed by.
type attesterKeyFlag struct {
	AttesterPublicKey string `name:"attester-public-key" env:"NODESHARE_ATTESTER_PUBLIC_KEY" help:"The attester's public key (DER hex, as members attest prints it): only statements it signed count."`
}

func (a attesterKeyFlag) key() ([]byte, error) {
	if a.AttesterPublicKey == "" {
		return nil, fmt.Errorf("--attester-public-key is required (NODESHARE_ATTESTER_PUBLIC_KEY): only the attester's statements count")
	}
	b, err := hex.DecodeString(a.AttesterPublicKey)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("--attester-public-key %q is not hex (NODESHARE_ATTESTER_PUBLIC_KEY)", a.AttesterPublicKey)
	}
	return b, nil
}

type membersSignBase struct {
	kafkaFlags
	poolsTopicFlags
	attesterFlags
	DAO     string `name:"dao" env:"NODESHARE_DAO" required:"" help:"DAO name."`
	Account string `name:"account" required:"" help:"The member's ledger account: ICRC-1 text or a 64-hex account identifier."`
}

func (b *membersSignBase) sign(e env, identity, action string) error {
	acct, err := schemas.AccountIDFromText(b.Account)
	if err != nil {
		return fmt.Errorf("--account %q: %w", b.Account, err)
	}
	vc := b.Vault.config()
	vc.TransitKey = b.AttesterKey
	c, err := vault.New(vc)
	if err != nil {
		return err
	}
	signer, err := vault.NewTransitSigner(e.ctx, c)
	if err != nil {
		return err
	}
	log, done, err := poolsLog(e, b.kafkaFlags, b.poolsTopicFlags)
	if err != nil {
		return err
	}
	defer done()
	m, err := members.Sign(e.ctx, log, signer, ic.Verifier{}, stage.SystemClock{}, b.DAO, identity, acct, action)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%s of account %s to %q signed by the attester key %s\n", action, acct, identity, m.PublicKeyDER)
	return printJSON(e, m)
}

type membersAttestCmd struct {
	membersSignBase
	Identity string `name:"identity" required:"" help:"The member's identity (e.g. the association's member number): all its accounts count as one sponsor."`
}

func (c *membersAttestCmd) Validate() error { return c.kafkaFlags.Validate() }
func (c *membersAttestCmd) Run(e env) error { return c.sign(e, c.Identity, schemas.MemberAttest) }

type membersRevoke struct{ membersSignBase }

func (c *membersRevoke) Validate() error { return c.kafkaFlags.Validate() }
func (c *membersRevoke) Run(e env) error { return c.sign(e, "", schemas.MemberRevoke) }

type membersListCmd struct {
	kafkaFlags
	poolsTopicFlags
	attesterKeyFlag
	DAO  string `name:"dao" env:"NODESHARE_DAO" required:"" help:"DAO name."`
	JSON bool   `name:"json" help:"Print JSON."`
}

func (c *membersListCmd) Validate() error {
	if _, err := c.key(); err != nil {
		return err
	}
	return c.kafkaFlags.Validate()
}

func (c *membersListCmd) Run(e env) error {
	key, _ := c.key()
	log, done, err := poolsLog(e, c.kafkaFlags, c.poolsTopicFlags)
	if err != nil {
		return err
	}
	defer done()
	l, err := members.List(e.ctx, log, ic.Verifier{}, key, c.DAO)
	if err != nil || c.JSON {
		if err == nil {
			err = printJSON(e, l)
		}
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IDENTITY\tACCOUNTS\tSINCE\t")
	for _, m := range l.Members {
		for i, a := range m.Accounts {
			id, since := m.Identity, m.Since
			if i > 0 {
				id, since = "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t\n", id, a, since)
		}
	}
	_ = tw.Flush()
	for _, r := range l.Refused {
		fmt.Fprintf(e.stdout, "refused: %s\n", r)
	}
	return nil
}
