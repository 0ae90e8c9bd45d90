package clickhouse

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// PoolVotes reads the votes of the pool's latest state only: an earlier
// state, another pool's state and a pool without a state do not leak in.
func TestPoolVotesReadsTheLatestState(t *testing.T) {
	s, ctx := freshStore(t)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	vote := func(id, status string) schemas.PoolVote {
		return schemas.PoolVote{VoteID: id, Kind: schemas.VoteKindApproveManifest, Subject: `{"period":"p","manifest_sha256":"ab"}`,
			OpenedAt: "2026-01-01T00:00:00Z", ClosesAt: "2026-01-08T00:00:00Z", Status: status}
	}
	t0 := time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)
	raw := func(off int64, at time.Time, st schemas.PoolState) RawEvent {
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		return RawEvent{Coord: Coord{Topic: schemas.TopicPoolLifecycle, Partition: 0, Offset: off, Time: at}, Key: schemas.PoolStateKey(st.DAO, st.PoolID),
			EventID: st.PoolID + "-" + at.Format(time.RFC3339), EventType: schemas.TypePoolState, SchemaVersion: schemas.SchemaVersion,
			Provenance: `{}`, Payload: string(b)}
	}
	state := func(pool string, votes ...schemas.PoolVote) schemas.PoolState {
		return schemas.PoolState{DAO: "d", PoolID: pool, TermsVersion: 1, AsOf: "2026-01-08T00:00:00Z", State: "active", Output: "{}", Votes: votes}
	}
	evs := []RawEvent{
		raw(1, t0, state("a", vote("v1", "open"))),
		raw(2, t0.Add(time.Second), state("a", vote("v1", "passed"), vote("v2", "open"))),
		raw(3, t0.Add(2*time.Second), state("b", vote("w1", "failed"))),
	}
	if err := s.InsertRaw(ctx, "pool-votes-test", evs); err != nil {
		t.Fatal(err)
	}
	got, err := s.PoolVotes(ctx, "d", "a")
	if err != nil || len(got) != 2 || got[0] != vote("v1", "passed") || got[1] != vote("v2", "open") {
		t.Fatalf("votes of pool a: %+v (%v), want the latest state's v1 passed and v2 open", got, err)
	}
	if got, err := s.PoolVotes(ctx, "d", "none"); err != nil || got != nil {
		t.Fatalf("a pool without a state: %+v (%v), want none", got, err)
	}
}
