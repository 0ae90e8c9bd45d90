package process

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/schemas"
)

// acct is a valid 64-hex account identifier (CRC32 of the 28 bytes b, then
// those bytes), as the ledger names a sponsor.
func acct(b byte) string {
	var a [32]byte
	for i := 4; i < 32; i++ {
		a[i] = b
	}
	binary.BigEndian.PutUint32(a[:4], crc32.ChecksumIEEE(a[4:]))
	return hex.EncodeToString(a[:])
}

// A crowdfunded pool earns through the stage once the lifecycle processor's
// state record is on dao.pool-lifecycle.v1: before, the reward is refused
// (dead-lettered, nothing published); with the state read in the rebuild,
// the reward is allocated to the pool's stake accounts, as the rules decide
// from the same records, and the lifecycle topic is only read.
func TestCrowdfundedPoolEarnsOnceItsStateIsOnTheLifecycleTopic(t *testing.T) {
	l := newMemLog()
	pool := schemas.Pool{DAO: "d", PoolID: "cf", NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n1", WeightXDRPermyriad: 1}},
		Hoster: schemas.HosterTerms{Account: "h", Bps: 1000}, WhalePremiumBps: 3500, RulesVersion: "v1",
		Terms: &schemas.PoolTerms{TermsVersion: 1, TargetE8s: 100_00000000, MaxSponsorBps: 6000}}
	r := schemas.NodeReward{NodeProvider: "np", TimestampSeconds: 1_790_000_000, AmountE8s: 100_000_000_003, XDRPermyriadPerICP: 35_000}
	batch := l.add(
		record(t, schemas.TopicPools, schemas.TypePool, schemas.PoolKey("d", "cf"), pool),
		// Typed for a crowdfunded pool: ignored, the stakes come from the ledger.
		record(t, schemas.TopicContributions, schemas.TypeContribution, schemas.ContributionKey("d", "cf", "typed"),
			schemas.Contribution{DAO: "d", PoolID: "cf", ContributionID: "typed", Sponsor: "typed-sponsor", AmountE8s: 1_00000000, At: "2026-01-01T00:00:00Z"}),
		record(t, schemas.TopicNodeRewards, schemas.TypeNodeReward, schemas.NodeRewardKey(r.NodeProvider, r.TimestampSeconds), r),
	)
	h := newHandler(t, Config{DLQTopic: "test.dlq", Params: entitle.Params{LedgerFeeE8s: 10_000}}, l)
	if err := handle(h, batch); err != nil {
		t.Fatal(err)
	}
	if n := len(l.keys(schemas.TopicEntitlements)); n != 0 {
		t.Fatalf("no lifecycle state yet: %d records published, want none", n)
	}
	dl, _ := l.ReadAll(context.Background(), "test.dlq")
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want the reward's", len(dl))
	}
	if d, err := schemas.ReadDeadLetter(dl[0].Key, dl[0].Value, dl[0].Headers); err != nil || !strings.Contains(d.Reason, "no pool of node provider np earns rewards") {
		t.Fatalf("dead letter %+v (%v): want the reward refused for want of an earning pool", d, err)
	}

	// The lifecycle processor publishes the pool's states (the latest
	// settled it) and its settlement transfer.
	whale, small := acct(0x02), acct(0x01)
	stakes := []schemas.PoolStake{
		{Account: small, Identity: small, AcceptedE8s: 40_00000000, FirstAcceptedAt: "2026-01-02T00:00:00Z"},
		{Account: whale, Identity: whale, AcceptedE8s: 60_00000000, FirstAcceptedAt: "2026-01-01T00:00:00+01:00"},
	}
	key := schemas.PoolStateKey("d", "cf")
	l.add(
		record(t, schemas.TopicPoolLifecycle, schemas.TypePoolState, key, schemas.PoolState{DAO: "d", PoolID: "cf", TermsVersion: 1, State: "funded", Output: "{}", Stakes: stakes}),
		record(t, schemas.TopicPoolLifecycle, schemas.TypePoolTransfer, schemas.PoolTransferKey("d", "cf", 0),
			schemas.PoolTransfer{DAO: "d", PoolID: "cf", Kind: "settlement", To: acct(0x09), GrossE8s: 100_00000000, TransferE8s: 99_99990000, FeeE8s: 10_000, Cause: "n1", At: "2026-03-01T00:00:00Z"}),
		record(t, schemas.TopicPoolLifecycle, schemas.TypePoolState, key, schemas.PoolState{DAO: "d", PoolID: "cf", TermsVersion: 1, State: "active", Output: "{}",
			SettledAt: "2026-03-01T00:00:00Z", Stakes: stakes}),
	)
	lifecycleBefore := len(l.keys(schemas.TopicPoolLifecycle))
	// The reward again (its dead letter replayed, or a redelivery).
	if err := handle(h, batch[2:]); err != nil {
		t.Fatal(err)
	}
	var state []schemas.Message
	for _, topic := range []string{schemas.TopicPools, schemas.TopicContributions, schemas.TopicPoolLifecycle} {
		msgs, _ := l.ReadAll(context.Background(), topic)
		state = append(state, msgs...)
	}
	want := expectedFacts(t, append(state, batch[2]))
	got, _ := l.ReadAll(context.Background(), schemas.TopicEntitlements)
	if len(got) != len(want) || len(want) != 4 {
		t.Fatalf("published %d records, the rules decided %d; want 4 (pool period, hoster, two sponsors)", len(got), len(want))
	}
	recipients := map[string]int64{}
	for i, m := range got {
		if string(m.Key) != want[i].Key {
			t.Fatalf("record %d: key %s, want %s", i, m.Key, want[i].Key)
		}
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if env.Provenance.ContentSHA256 != want[i].Envelope.Provenance.ContentSHA256 {
			t.Fatalf("record %s differs from the rules' decision", m.Key)
		}
		switch env.Type {
		case schemas.TypePoolPeriod:
			var pp schemas.PoolPeriod
			if err := env.DecodePayload(schemas.TypePoolPeriod, &pp); err != nil {
				t.Fatal(err)
			}
			if pp.PoolID != "cf" || pp.GrossE8s != r.AmountE8s || pp.Whale != "" {
				t.Fatalf("pool period %s: gross %d, whale %q; want cf with the whole reward, no premium (60%% > 35%%)", pp.PoolID, pp.GrossE8s, pp.Whale)
			}
		case schemas.TypeEntitlement:
			var e schemas.Entitlement
			if err := env.DecodePayload(schemas.TypeEntitlement, &e); err != nil {
				t.Fatal(err)
			}
			if e.Role == entitle.RoleSponsor {
				recipients[e.Recipient] = e.StakeE8s
			}
		}
	}
	if len(recipients) != 2 || recipients[whale] != 60_00000000 || recipients[small] != 40_00000000 {
		t.Fatalf("sponsors %v: want the two stake accounts with their accepted totals, and not the typed contribution", recipients)
	}
	if n := len(l.keys(schemas.TopicPoolLifecycle)); n != lifecycleBefore {
		t.Fatalf("the processor wrote to the lifecycle topic: %d records, had %d", n, lifecycleBefore)
	}
	if n := len(l.keys("test.dlq")); n != 1 {
		t.Fatalf("%d dead letters after the state arrived, want still the first one only", n)
	}
}
