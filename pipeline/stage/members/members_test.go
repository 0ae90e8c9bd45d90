package members

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout/payouttest"
	"github.com/nodeshare/nodeshare/schemas"
)

type memLog struct{ msgs []schemas.Message }

func (m *memLog) Publish(_ context.Context, recs ...schemas.Record) error {
	for _, r := range recs {
		m.msgs = append(m.msgs, schemas.Message{Topic: r.Topic, Offset: int64(len(m.msgs)), Key: r.Key, Value: r.Value})
	}
	return nil
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

// account is a valid account identifier: the CRC32 of 28 bytes b, then
// the bytes.
func account(b byte) string {
	var a [32]byte
	for i := 4; i < 32; i++ {
		a[i] = b
	}
	binary.BigEndian.PutUint32(a[:4], crc32.ChecksumIEEE(a[4:]))
	return hex.EncodeToString(a[:])
}

// Attestations signed by the attester make members; a revocation removes
// an account; a statement by another key, or edited after it was signed,
// is refused with the reason and changes nothing.
func TestMembers(t *testing.T) {
	ctx := context.Background()
	l := &memLog{}
	attester, mallory := payouttest.NewApprover("association"), payouttest.NewApprover("mallory")
	clock := stage.ClockFunc(func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) })
	a1, a2, a3 := account(1), account(2), account(3)
	for _, s := range []struct{ id, acct, action string }{
		{"kyc:ann", a1, schemas.MemberAttest}, {"kyc:ann", a2, schemas.MemberAttest}, {"kyc:bo", a3, schemas.MemberAttest},
		{"", a3, schemas.MemberRevoke},
	} {
		if _, err := Sign(ctx, l, attester, ic.Verifier{}, clock, "d", s.id, s.acct, s.action); err != nil {
			t.Fatal(err)
		}
	}
	// mallory attests a3 to ann: not the attester's key.
	if _, err := Sign(ctx, l, mallory, ic.Verifier{}, clock, "d", "kyc:ann", a3, schemas.MemberAttest); err != nil {
		t.Fatal(err)
	}
	// An attestation edited after signing (a1 moved to another identity,
	// the envelope rebuilt around it), and a record broken on the wire.
	env, _ := schemas.DecodeEnvelope(l.msgs[0].Value)
	var m schemas.MemberAttestation
	_ = env.DecodePayload(schemas.TypeMemberAttestation, &m)
	m.Identity = "kyc:eve"
	f, _ := schemas.NewFact(schemas.TopicMembers, schemas.TypeMemberAttestation, schemas.MemberKey("d", a1), provenance, m)
	b, _ := f.Envelope.Marshal()
	broken := []byte(strings.Replace(string(l.msgs[1].Value), `"identity":"kyc:ann"`, `"identity":"kyc:eve"`, 1))
	_ = l.Publish(ctx, schemas.Record{Topic: schemas.TopicMembers, Key: []byte(f.Key), Value: b}, schemas.Record{Topic: schemas.TopicMembers, Key: []byte("d/x"), Value: broken})

	got, err := List(ctx, l, ic.Verifier{}, attester.PublicKeyDER(), "d")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Members) != 1 || got.Members[0].Identity != "kyc:ann" || len(got.Members[0].Accounts) != 2 {
		t.Fatalf("members %+v", got.Members)
	}
	if ids := got.Identities(); ids[a1] != "kyc:ann" || ids[a2] != "kyc:ann" || ids[a3] != "" {
		t.Fatalf("identities %v", ids)
	}
	if len(got.Refused) != 3 || !strings.Contains(got.Refused[0], "not signed by the attester's key") || !strings.Contains(got.Refused[1], "signature does not verify") ||
		!strings.Contains(got.Refused[2], "not a valid record") {
		t.Fatalf("refused %q", got.Refused)
	}
	for _, bad := range []struct{ dao, id, acct, action string }{
		{"d/x", "i", a1, schemas.MemberAttest}, {"d", "", a1, schemas.MemberAttest}, {"d", "i", "nope", schemas.MemberAttest}, {"d", "i", a1, "promote"},
	} {
		if _, err := Sign(ctx, l, attester, ic.Verifier{}, clock, bad.dao, bad.id, bad.acct, bad.action); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
