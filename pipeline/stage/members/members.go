// Package members keeps a DAO's attested members (docs/governance.md
// "Attested identities"): the association's attester, after KYC, signs
// that a ledger account belongs to a member (attest) or no longer does
// (revoke); the statements are published on dao.members.v1. List reads
// them back and counts only the statements whose signature verifies under
// the attester's configured public key: a statement anyone else wrote,
// or one edited since, is listed as refused with the reason. A pool
// created with --identities-from-members takes List's identities as its
// terms' `identities`: one member, one sponsor cap, one vote.
package members

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// Log is the event log (connectors/kafka.Log).
type Log interface {
	Publish(ctx context.Context, recs ...schemas.Record) error
	ReadAll(ctx context.Context, topic string) ([]schemas.Message, error)
}

// Signer signs with the attester's key (connectors/vault.TransitSigner).
type Signer interface {
	PublicKeyDER() []byte
	Sign(ctx context.Context, message []byte) ([]byte, error)
}

// Verifier checks a signature (connectors/ic.Verifier).
type Verifier interface {
	Verify(publicKeyDER, message, signature []byte) error
}

var provenance = schemas.Provenance{Source: "nodeshare", Method: "members"}

// Sign makes and publishes one signed statement about account, at now; it
// returns once the broker acknowledged it.
func Sign(ctx context.Context, log Log, signer Signer, v Verifier, clock stage.Clock, dao, identity, account, action string) (schemas.MemberAttestation, error) {
	switch {
	case dao == "" || strings.Contains(dao, "/"):
		return schemas.MemberAttestation{}, fmt.Errorf("dao %q: non-empty, without '/'", dao)
	case action == schemas.MemberAttest && (identity == "" || strings.ContainsAny(identity, "/\n")):
		return schemas.MemberAttestation{}, fmt.Errorf("identity %q: non-empty, without '/' or a newline", identity)
	case action != schemas.MemberAttest && action != schemas.MemberRevoke:
		return schemas.MemberAttestation{}, fmt.Errorf("action %q: attest or revoke", action)
	}
	if err := schemas.ValidateAccountIdentifier(account); err != nil {
		return schemas.MemberAttestation{}, fmt.Errorf("account: %w", err)
	}
	m := schemas.MemberAttestation{DAO: dao, Identity: identity, Account: account, Action: action,
		At: clock.Now().UTC().Format(time.RFC3339Nano), PublicKeyDER: hex.EncodeToString(signer.PublicKeyDER())}
	sig, err := signer.Sign(ctx, m.Message())
	if err != nil {
		return m, fmt.Errorf("sign the %s of %s: %w", action, account, err)
	}
	if err := v.Verify(signer.PublicKeyDER(), m.Message(), sig); err != nil {
		return m, fmt.Errorf("the attester key's signature does not verify: %w", err)
	}
	m.Signature = hex.EncodeToString(sig)
	fact, err := schemas.NewFact(schemas.TopicMembers, schemas.TypeMemberAttestation, schemas.MemberKey(dao, account), provenance, m)
	if err != nil {
		return m, err
	}
	value, err := fact.Envelope.Marshal()
	if err != nil {
		return m, err
	}
	return m, log.Publish(ctx, schemas.Record{Topic: fact.Topic, Key: []byte(fact.Key), Value: value})
}

// Member is one attested member and its accounts (sorted).
type Member struct {
	Identity string   `json:"identity"`
	Accounts []string `json:"accounts"`
	Since    string   `json:"since"` // the latest attestation's at
}

// Listing is a DAO's members as the attester's valid statements make them,
// and the statements refused (with the reason).
type Listing struct {
	Members []Member `json:"members"`
	Refused []string `json:"refused,omitempty"`
}

// Identities is the account -> identity map of the members, for a pool's
// terms.
func (l Listing) Identities() map[string]string {
	out := map[string]string{}
	for _, m := range l.Members {
		for _, a := range m.Accounts {
			out[a] = m.Identity
		}
	}
	return out
}

// List reads dao's statements in log order; the latest valid one about an
// account is in force.
func List(ctx context.Context, log Log, v Verifier, attesterKeyDER []byte, dao string) (Listing, error) {
	msgs, err := log.ReadAll(ctx, schemas.TopicMembers)
	if err != nil {
		return Listing{}, err
	}
	type state struct{ identity, at string }
	latest := map[string]state{}
	var l Listing
	for _, msg := range msgs {
		env, err := schemas.DecodeEnvelope(msg.Value)
		if err != nil {
			l.Refused = append(l.Refused, fmt.Sprintf("offset %d: not a valid record (of any DAO): %s", msg.Offset, schemas.SafeReason(err.Error())))
			continue
		}
		if env.Type != schemas.TypeMemberAttestation {
			continue
		}
		var m schemas.MemberAttestation
		if env.DecodePayload(schemas.TypeMemberAttestation, &m) != nil || m.DAO != dao {
			continue
		}
		if why := check(v, attesterKeyDER, m); why != "" {
			l.Refused = append(l.Refused, fmt.Sprintf("offset %d: %s of %s: %s", msg.Offset, m.Action, m.Account, why))
			continue
		}
		if m.Action == schemas.MemberRevoke {
			delete(latest, m.Account)
		} else {
			latest[m.Account] = state{m.Identity, m.At}
		}
	}
	byID := map[string]*Member{}
	for acct, st := range latest {
		mb := byID[st.identity]
		if mb == nil {
			mb = &Member{Identity: st.identity}
			byID[st.identity] = mb
		}
		mb.Accounts = append(mb.Accounts, acct)
		mb.Since = max(mb.Since, st.at)
	}
	for _, mb := range byID {
		slices.Sort(mb.Accounts)
		l.Members = append(l.Members, *mb)
	}
	slices.SortFunc(l.Members, func(a, b Member) int { return strings.Compare(a.Identity, b.Identity) })
	return l, nil
}

// check says why a statement does not count ("" when it does): signed by
// the configured attester key, over its own fields.
func check(v Verifier, attesterKeyDER []byte, m schemas.MemberAttestation) string {
	key, err := schemas.DecodeHexField("public_key_der", m.PublicKeyDER)
	if err != nil {
		return err.Error()
	}
	if !bytes.Equal(key, attesterKeyDER) {
		return "not signed by the attester's key"
	}
	sig, err := schemas.DecodeHexField("signature", m.Signature)
	if err != nil {
		return err.Error()
	}
	if err := v.Verify(key, m.Message(), sig); err != nil {
		return "signature does not verify: " + err.Error()
	}
	return ""
}
