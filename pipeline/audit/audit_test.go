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
