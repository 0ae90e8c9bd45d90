package votes

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// memLog is the event log in memory: every record, in order.
type memLog struct{ msgs []schemas.Message }

func (m *memLog) PublishOnce(_ context.Context, facts []schemas.Fact) (schemas.PublishStats, error) {
	var st schemas.PublishStats
	for _, f := range facts {
		b, err := f.Envelope.Marshal()
		if err != nil {
			return st, err
		}
		for _, msg := range m.msgs {
			if msg.Topic == f.Topic && string(msg.Key) == f.Key {
				return st, &schemas.ConflictError{Conflicts: []string{f.Key}}
			}
		}
		m.msgs = append(m.msgs, schemas.Message{Topic: f.Topic, Offset: int64(len(m.msgs)), Key: []byte(f.Key), Value: b})
		st.Published++
	}
	return st, nil
}

func (m *memLog) ReadAll(_ context.Context, topic string) ([]schemas.Message, error) {
	var out []schemas.Message
	for _, msg := range m.msgs {
		if msg.Topic == topic {
			out = append(out, msg)
		}
	}
	return out, nil
}

func signed(t *testing.T, id identity.Identity, vote, choice string, nonce uint64) schemas.SignedBallot {
	t.Helper()
	acc := principal.NewAccountID(id.Sender(), [32]byte{})
	b := schemas.SignedBallot{VoteID: vote, Voter: hex.EncodeToString(acc.Bytes()), Choice: choice, Nonce: nonce, PublicKeyDER: hex.EncodeToString(id.PublicKey())}
	sig, err := id.Sign(b.Message("d", "p1"))
	if err != nil {
		t.Fatal(err)
	}
	b.Signature = hex.EncodeToString(sig)
	return b
}

// The door refuses what it can decide without the pool's state, each with
// its reason, and publishes a good ballot once.
func TestDoorRefusesForgedReplayedLate(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l := &memLog{}
	box := &Box{Log: l, Verifier: ic.Verifier{}, Clock: stage.ClockFunc(func() time.Time { return now })}
	if _, created, err := box.Open(ctx, "d", "p1", Spec{VoteID: "v1", Kind: "terminate_hoster", Subject: `{"hoster":"h"}`, ClosesAt: now.Add(48 * time.Hour), ThresholdBps: 5000}); err != nil || !created {
		t.Fatalf("open: %v %v", created, err)
	}
	if _, created, err := box.Open(ctx, "d", "p1", Spec{VoteID: "v1", Kind: "terminate_hoster", Subject: `{"hoster":"h"}`, ClosesAt: now.Add(48 * time.Hour), ThresholdBps: 5000}); err != nil || created {
		t.Fatalf("open again: %v %v", created, err)
	}
	if _, _, err := box.Open(ctx, "d", "p1", Spec{VoteID: "v1", Kind: "terminate_hoster", ClosesAt: now.Add(time.Hour), ThresholdBps: 6000}); err == nil {
		t.Fatal("a second vote v1 with other terms was opened")
	}
	for _, bad := range []Spec{{VoteID: "a/b", Kind: "terminate_hoster", ClosesAt: now.Add(time.Hour), ThresholdBps: 1},
		{VoteID: "v2", Kind: "coup", ClosesAt: now.Add(time.Hour), ThresholdBps: 1},
		{VoteID: "v2", Kind: "terminate_hoster", ClosesAt: now.Add(-time.Hour), ThresholdBps: 1},
		{VoteID: "v2", Kind: "terminate_hoster", ClosesAt: now.Add(time.Hour), ThresholdBps: 10001},
		{VoteID: "v2", Kind: "terminate_hoster", Subject: "hoster h", ClosesAt: now.Add(time.Hour), ThresholdBps: 1},
		{VoteID: "v2", Kind: "terminate_hoster", Subject: `{"hoster":"h","reason":"x"}`, ClosesAt: now.Add(time.Hour), ThresholdBps: 1},
		{VoteID: "v2", Kind: "adopt_rules_version", Subject: `{"rules_version":"v9"}`, ClosesAt: now.Add(time.Hour), ThresholdBps: 1}} {
		var r *Refused
		if _, _, err := box.Open(ctx, "d", "p1", bad); !errors.As(err, &r) {
			t.Errorf("%+v: err %v, want a refusal", bad, err)
		}
	}
	alice, _ := identity.NewRandomEd25519Identity()
	mallory, _ := identity.NewRandomSecp256k1Identity()
	good := signed(t, alice, "v1", "yes", 5)
	if r, err := box.Cast(ctx, "d", "p1", good); err != nil || r.Status != "published" {
		t.Fatalf("cast: %+v %v", r, err)
	}
	forged := signed(t, mallory, "v1", "no", 6)
	forged.Voter = good.Voter // mallory's key, alice's account
	older := signed(t, alice, "v1", "no", 4)
	tampered := good
	tampered.Nonce, tampered.Choice = 7, "no" // the signature is of nonce 5, yes
	unsigned := signed(t, alice, "v1", "no", 8)
	unsigned.Signature = ""
	for name, c := range map[string]struct {
		b    schemas.SignedBallot
		want string
	}{
		"forged (another key)":      {forged, "not the account of the signing key"},
		"replayed (the same again)": {good, "ballot replayed"},
		"replayed (an older nonce)": {older, "ballot replayed"},
		"tampered":                  {tampered, "signature: mis-signed"},
		"unsigned":                  {unsigned, "the ballot is unsigned"},
		"unknown vote":              {signed(t, alice, "v9", "no", 9), "no such vote"},
		"bad choice":                {signed(t, alice, "v1", "maybe", 9), `choice "maybe"`},
	} {
		var r *Refused
		if _, err := box.Cast(ctx, "d", "p1", c.b); !errors.As(err, &r) || !strings.Contains(r.Reason, c.want) {
			t.Errorf("%s: err %v, want a refusal saying %q", name, err, c.want)
		}
	}
	now = now.Add(49 * time.Hour)
	var r *Refused
	if _, err := box.Cast(ctx, "d", "p1", signed(t, alice, "v1", "no", 10)); !errors.As(err, &r) || !strings.Contains(r.Reason, "late ballot") {
		t.Errorf("late: %v", err)
	}
	if n := len(l.msgs); n != 2 {
		t.Fatalf("%d records on the log, want the vote and one ballot", n)
	}
	votes, err := box.List(ctx, "d", "p1")
	if err != nil || len(votes) != 1 || votes[0].VoteID != "v1" || votes[0].Status != "unknown" || votes[0].ThresholdBps != 5000 {
		t.Fatalf("list: %+v %v", votes, err)
	}
}
