package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/schemas"
)

func chain(rows []Row) []Row {
	prev, topic, part := schemas.ChainGenesis, "", -1
	for i := range rows {
		if rows[i].Topic != topic || rows[i].Partition != part {
			prev, topic, part = schemas.ChainGenesis, rows[i].Topic, rows[i].Partition
		}
		rows[i].PrevHash = prev
		rows[i].RowHash = schemas.ChainHash(prev, rows[i].ChainRow)
		prev = rows[i].RowHash
	}
	return rows
}

func row(t *testing.T, topic string, off int64, typ, key string, v any, at time.Time) Row {
	t.Helper()
	env, err := schemas.NewEnvelope(typ, key, schemas.Provenance{Source: "test"}, v)
	if err != nil {
		t.Fatal(err)
	}
	prov := `{"source":"test","content_sha256":"` + env.Provenance.ContentSHA256 + `"}`
	return Row{ChainRow: schemas.ChainRow{Topic: topic, Offset: off, Key: key, EventID: key, EventType: typ, SchemaVersion: 1,
		Provenance: prov, Payload: string(env.Payload)}, KafkaTime: at}
}

func TestVerifyChainFindsTheFirstBrokenRow(t *testing.T) {
	var rows []Row
	for i := 0; i < 5; i++ {
		rows = append(rows, Row{ChainRow: schemas.ChainRow{Topic: "a", Offset: int64(i), Payload: "x"}})
	}
	rows = append(rows, Row{ChainRow: schemas.ChainRow{Topic: "b", Offset: 0, Payload: "y"}})
	rows = chain(rows)
	if n, f := VerifyChain(rows); n != 6 || len(f) != 0 {
		t.Fatalf("clean chain: %d checked, findings %v", n, f)
	}
	rows[2].Payload = "changed"
	_, f := VerifyChain(rows)
	if len(f) != 1 || !strings.Contains(f[0].Where, "a/0@2") || f[0].Expected == f[0].Found {
		t.Fatalf("changed payload: %v", f)
	}
	rows = chain(rows)
	rows = append(rows[:3], rows[4:]...) // a deleted row breaks the link
	_, f = VerifyChain(rows)
	if len(f) != 1 || !strings.Contains(f[0].Where, "a/0@4") {
		t.Fatalf("deleted row: %v", f)
	}
}

func TestRecomputeDetectsAChangedDecision(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pool := schemas.Pool{DAO: "d", PoolID: "p", NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n", WeightXDRPermyriad: 1}},
		Hoster: schemas.HosterTerms{Account: "h", Bps: 1000}, DAOFeeBps: 100, WhalePremiumBps: 3500, RulesVersion: "v1", ProposalStatus: "adopted"}
	rows := []Row{row(t, schemas.TopicPools, 0, schemas.TypePool, "d/p", pool, t0)}
	for i, amt := range []int64{300, 100, 50} {
		c := schemas.Contribution{DAO: "d", PoolID: "p", ContributionID: string(rune('a' + i)), Sponsor: "s" + string(rune('a'+i)), AmountE8s: amt * 1e8, At: "2026-01-01T00:00:00Z"}
		rows = append(rows, row(t, schemas.TopicContributions, int64(i), schemas.TypeContribution, "d/p/"+c.ContributionID, c, t0))
	}
	reward := schemas.NodeReward{NodeProvider: "np", TimestampSeconds: uint64(t0.Add(48 * time.Hour).Unix()), AmountE8s: 1000e8, XDRPermyriadPerICP: 30000}
	rows = append(rows, row(t, schemas.TopicNodeRewards, 0, schemas.TypeNodeReward, entitle.RewardEventID(reward), reward, t0.Add(time.Hour)))
	// What the processor produced.
	st := entitle.NewState()
	for _, r := range rows {
		env, _ := schemas.DecodeEnvelope(envelopeBytes(r))
		_ = st.Apply(env)
	}
	evs, err := st.Reward(reward, entitle.Params{LedgerFeeE8s: 10000})
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range evs {
		r := Row{ChainRow: schemas.ChainRow{Topic: schemas.TopicEntitlements, Offset: int64(i), Key: ev.Key, EventID: ev.Envelope.EventID,
			EventType: ev.Envelope.Type, SchemaVersion: 1, Payload: string(ev.Envelope.Payload)}, KafkaTime: t0.Add(2 * time.Hour)}
		r.Provenance = `{"source":"nodeshare","method":"entitle","content_sha256":"` + ev.Envelope.Provenance.ContentSHA256 + `"}`
		rows = append(rows, r)
	}
	if n, f := Recompute(rows, schemas.TopicEntitlements); n != 1 || len(f) != 0 {
		t.Fatalf("clean trail: %d periods, findings %v", n, f)
	}
	// A contribution changed after the fact: the recomputation disagrees.
	tampered := append([]Row(nil), rows...)
	c := schemas.Contribution{DAO: "d", PoolID: "p", ContributionID: "b", Sponsor: "sb", AmountE8s: 101e8, At: "2026-01-01T00:00:00Z"}
	tampered[2] = row(t, schemas.TopicContributions, 1, schemas.TypeContribution, "d/p/b", c, t0)
	if _, f := Recompute(tampered, schemas.TopicEntitlements); len(f) == 0 {
		t.Fatal("a changed contribution was not detected")
	}
	// A contribution made after the decisions does not count.
	late := schemas.Contribution{DAO: "d", PoolID: "p", ContributionID: "z", Sponsor: "sz", AmountE8s: 1e8, At: "2026-01-01T00:00:00Z"}
	later := append(append([]Row(nil), rows...), row(t, schemas.TopicContributions, 9, schemas.TypeContribution, "d/p/z", late, t0.Add(3*time.Hour)))
	if _, f := Recompute(later, schemas.TopicEntitlements); len(f) != 0 {
		t.Fatalf("a later contribution changed the recomputation: %v", f)
	}
}

// A crowdfunded pool's decisions recompute from its lifecycle state rows
// (dao.pool-lifecycle.v1), as the processor read them; a state published
// after the decisions (the pool retired since) changes nothing.
func TestRecomputeReadsCrowdfundedPoolStates(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	pool := schemas.Pool{DAO: "d", PoolID: "cf", NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n", WeightXDRPermyriad: 1}},
		Hoster: schemas.HosterTerms{Account: "h", Bps: 1000}, WhalePremiumBps: 3500, RulesVersion: "v1",
		Terms: &schemas.PoolTerms{TermsVersion: 1, TargetE8s: 100e8, MaxSponsorBps: 10_000}}
	// Two valid account identifiers: the CRC32 of 28 bytes 0x01 (0x02), then
	// those bytes.
	a1, a2 := "5b116adf01010101010101010101010101010101010101010101010101010101", "edc34bc402020202020202020202020202020202020202020202020202020202"
	state := schemas.PoolState{DAO: "d", PoolID: "cf", TermsVersion: 1, State: "active", Output: "{}", SettledAt: "2026-03-01T00:00:00Z",
		Stakes: []schemas.PoolStake{{Account: a1, Identity: a1, AcceptedE8s: 70e8, FirstAcceptedAt: "2026-02-01T00:00:00Z"},
			{Account: a2, Identity: a2, AcceptedE8s: 30e8, FirstAcceptedAt: "2026-02-02T00:00:00Z"}}}
	rows := []Row{
		row(t, schemas.TopicPools, 0, schemas.TypePool, "d/cf", pool, t0),
		row(t, schemas.TopicPoolLifecycle, 0, schemas.TypePoolState, schemas.PoolStateKey("d", "cf"), state, t0),
	}
	reward := schemas.NodeReward{NodeProvider: "np", TimestampSeconds: uint64(t0.Add(48 * time.Hour).Unix()), AmountE8s: 1000e8, XDRPermyriadPerICP: 30000}
	rows = append(rows, row(t, schemas.TopicNodeRewards, 0, schemas.TypeNodeReward, entitle.RewardEventID(reward), reward, t0.Add(time.Hour)))
	st := entitle.NewState()
	for _, r := range rows {
		env, _ := schemas.DecodeEnvelope(envelopeBytes(r))
		if err := st.Apply(env); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := st.Reward(reward, entitle.Params{LedgerFeeE8s: 10000})
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range evs {
		r := Row{ChainRow: schemas.ChainRow{Topic: schemas.TopicEntitlements, Offset: int64(i), Key: ev.Key, EventID: ev.Envelope.EventID,
			EventType: ev.Envelope.Type, SchemaVersion: 1, Payload: string(ev.Envelope.Payload)}, KafkaTime: t0.Add(2 * time.Hour)}
		r.Provenance = `{"source":"nodeshare","method":"entitle","content_sha256":"` + ev.Envelope.Provenance.ContentSHA256 + `"}`
		rows = append(rows, r)
	}
	if n, f := Recompute(rows, schemas.TopicEntitlements); n != 1 || len(f) != 0 {
		t.Fatalf("clean trail: %d periods, findings %v", n, f)
	}
	retired := state
	retired.State, retired.RetiredAt = "retired", "2026-03-10T00:00:00Z"
	later := append(append([]Row(nil), rows...), row(t, schemas.TopicPoolLifecycle, 1, schemas.TypePoolState, schemas.PoolStateKey("d", "cf"), retired, t0.Add(240*time.Hour)))
	if _, f := Recompute(later, schemas.TopicEntitlements); len(f) != 0 {
		t.Fatalf("a later lifecycle state changed the recomputation: %v", f)
	}
	// Without the state row the pool earns nothing: the finding says so.
	without := append([]Row{rows[0]}, rows[2:]...)
	if _, f := Recompute(without, schemas.TopicEntitlements); len(f) != 1 || !strings.Contains(f[0].Detail, "no longer allocates") {
		t.Fatalf("no state row: findings %v, want the reward no longer allocating", f)
	}
}
