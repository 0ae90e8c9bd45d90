package lifecycle

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal"

	"github.com/nodeshare/nodeshare/schemas"
)

// voter is a sponsor's own key and its default account.
type voter struct {
	id      identity.Identity
	account string
}

func newVoter(t *testing.T, secp bool) voter {
	t.Helper()
	var id identity.Identity
	var err error
	if secp {
		id, err = identity.NewRandomSecp256k1Identity()
	} else {
		id, err = identity.NewRandomEd25519Identity()
	}
	if err != nil {
		t.Fatal(err)
	}
	acc := principal.NewAccountID(id.Sender(), [32]byte{})
	return voter{id: id, account: hex.EncodeToString(acc.Bytes())}
}

// ballot is v's ballot for choice, signed by signer's key (v's own unless
// another is given).
func (v voter) ballot(t *testing.T, at, vote, choice string, nonce uint64, signer ...identity.Identity) event {
	t.Helper()
	b := schemas.SignedBallot{VoteID: vote, Voter: v.account, Choice: choice, Nonce: nonce, PublicKeyDER: hex.EncodeToString(v.id.PublicKey())}
	key := v.id
	if len(signer) > 0 {
		key = signer[0]
	}
	sig, err := key.Sign(b.Message("d", "p1"))
	if err != nil {
		t.Fatal(err)
	}
	b.Signature = hex.EncodeToString(sig)
	return event{fact: &schemas.PoolFact{DAO: "d", PoolID: "p1", Type: "ballot", At: at, Ballot: &b}}
}

func voteOpened(at, id, closes string, thresholdBps int64) event {
	return event{fact: &schemas.PoolFact{DAO: "d", PoolID: "p1", Type: "vote_opened", At: at, VoteID: id, Kind: "terminate_hoster",
		Subject: "hoster h", ClosesAt: closes, ThresholdBps: &thresholdBps}}
}

type voteTally struct {
	VoteID  string `json:"vote_id"`
	Status  string `json:"status"`
	Yes     int64  `json:"yes_e8s"`
	No      int64  `json:"no_e8s"`
	Abstain int64  `json:"abstain_e8s"`
	Total   int64  `json:"weight_total_e8s"`
}

func votesOf(t *testing.T, st schemas.PoolState) []voteTally {
	t.Helper()
	var o struct {
		Votes []voteTally `json:"votes"`
	}
	if err := json.Unmarshal([]byte(st.Output), &o); err != nil {
		t.Fatal(err)
	}
	return o.Votes
}

// Ballots are signed by the key that owns the sponsor's account: the
// processor counts a good ballot and dead-letters, each with its reason,
// an unsigned, a mis-signed, a replayed, a late ballot, one whose key does
// not own the voter account, and one from an account without weight.
// One identity holding two accounts votes once with the weight of both.
func TestSignedBallots(t *testing.T) {
	alice, bob, carol, dave, erin := newVoter(t, false), newVoter(t, true), newVoter(t, false), newVoter(t, true), newVoter(t, false)
	terms := poolTerms(1)
	// carol and erin are one attested identity.
	terms.Identities = map[string]string{carol.account: "kyc:ce", erin.account: "kyc:ce"}
	p := poolNamed("p1", terms)
	funding := []event{
		poolEv(p),
		deposit(1, day(2), alice.account, depositAcct(1), 40*icp),
		deposit(2, day(2), bob.account, depositAcct(1), 35*icp),
		deposit(3, day(2), carol.account, depositAcct(1), 15*icp),
		deposit(4, day(2), erin.account, depositAcct(1), 10*icp),
		voteOpened(day(3), "v1", day(10), 5000),
	}
	unsigned := bob.ballot(t, day(4), "v1", "no", 1)
	unsigned.fact.Ballot.Signature = ""
	cases := []struct {
		name   string
		ev     event
		reason string
	}{
		{"unsigned", unsigned, "ballot.signature: the ballot is unsigned"},
		{"mis-signed", bob.ballot(t, day(4), "v1", "no", 1, dave.id), "ballot.signature: mis-signed"},
		{"a key that does not own the voter account", func() event {
			e := alice.ballot(t, day(4), "v1", "no", 2)
			e.fact.Ballot.PublicKeyDER = hex.EncodeToString(dave.id.PublicKey())
			sig, _ := dave.id.Sign(e.fact.Ballot.Message("d", "p1"))
			e.fact.Ballot.Signature = hex.EncodeToString(sig)
			return e
		}(), "ballot.voter"},
		{"replayed", alice.ballot(t, day(5), "v1", "no", 1), "nonce: ballot replayed"},
		{"late", bob.ballot(t, day(11), "v1", "no", 5), "is after vote \"v1\" closed"},
		{"not a sponsor", dave.ballot(t, day(4), "v1", "yes", 1), "holds no voting weight"},
		{"another pool's signature", func() event {
			e := bob.ballot(t, day(4), "v1", "no", 3)
			sig, _ := bob.id.Sign(e.fact.Ballot.Message("d", "p2"))
			e.fact.Ballot.Signature = hex.EncodeToString(sig)
			return e
		}(), "ballot.signature: mis-signed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newMemLog()
			good := []event{alice.ballot(t, day(4), "v1", "yes", 1), carol.ballot(t, day(4), "v1", "no", 1), erin.ballot(t, day(5), "v1", "yes", 9)}
			batch := publish(t, l, append(append([]event{}, funding...), good...)...)
			bad := l.add(c.ev.record(t))
			mustHandle(t, newHandler(t, l), append(batch, bad...))
			o := readOutputs(t, l)
			if len(o.dead) != 1 || !strings.Contains(o.dead[0].Reason, c.reason) {
				t.Fatalf("dead letters %+v, want one saying %q", o.dead, c.reason)
			}
			if o.dead[0].Offset != bad[0].Offset {
				t.Fatalf("dead letter of offset %d, want the ballot's %d", o.dead[0].Offset, bad[0].Offset)
			}
			// alice 40 yes; carol and erin (one identity, 25) last said yes;
			// bob 35 did not vote (his ballots are all refused here).
			v := votesOf(t, o.states["d/p1"])
			if len(v) != 1 || v[0].Yes != 65*icp || v[0].No != 0 || v[0].Total != 100*icp {
				t.Fatalf("tally %+v, want yes 65 ICP of 100", v)
			}
		})
	}
}

// The pool's state names each vote's kind, subject and close beside the
// tallies, and its status once a later fact (a tick) fires the close: the
// entitlement processor reads them to apply a passed vote.
func TestStateCarriesVoteTerms(t *testing.T) {
	alice, bob, carol := newVoter(t, false), newVoter(t, true), newVoter(t, false)
	l := newMemLog()
	batch := publish(t, l, poolEv(poolNamed("p1", poolTerms(1))),
		deposit(1, day(2), alice.account, depositAcct(1), 40*icp),
		deposit(2, day(2), bob.account, depositAcct(1), 35*icp),
		deposit(3, day(2), carol.account, depositAcct(1), 25*icp),
		voteOpened(day(3), "v1", day(10), 5000))
	batch = append(batch, l.add(alice.ballot(t, day(4), "v1", "yes", 1).record(t), bob.ballot(t, day(4), "v1", "yes", 1).record(t))...)
	mustHandle(t, newHandler(t, l), batch)
	want := schemas.PoolVote{VoteID: "v1", Kind: "terminate_hoster", Subject: "hoster h", OpenedAt: day(3), ClosesAt: day(10), Status: "open"}
	if got := readOutputs(t, l).states["d/p1"].Votes; len(got) != 1 || got[0] != want {
		t.Fatalf("votes %+v, want %+v", got, want)
	}
	tick := event{fact: &schemas.PoolFact{DAO: "d", PoolID: "p1", Type: "tick", At: "2026-01-10T00:00:01Z"}}
	mustHandle(t, newHandler(t, l), l.add(tick.record(t)))
	want.Status = "passed"
	if got := readOutputs(t, l).states["d/p1"].Votes; len(got) != 1 || got[0] != want {
		t.Fatalf("after the close: votes %+v, want %+v", got, want)
	}
}
