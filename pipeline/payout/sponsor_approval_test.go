package payout

import (
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/schemas"
)

// The pools of a manifest are those of its input hashes and its intents;
// a manifest without a pool is never approved by votes; a subject that is
// not the kind's object does not count.
func TestSponsorsApprovedRule(t *testing.T) {
	sha := strings.Repeat("c", 64)
	m := Manifest{Period: "p", SHA256: sha, InputHashes: map[string]string{"b": "x"},
		Intents: []schemas.PayoutIntent{{PoolID: "a"}, {PoolID: "b"}}}
	pools := ManifestPools(m)
	if strings.Join(pools, ",") != "a,b" {
		t.Fatalf("pools %v, want a,b", pools)
	}
	pass := func(id, subject string) schemas.PoolVote {
		return schemas.PoolVote{VoteID: id, Kind: schemas.VoteKindApproveManifest, Subject: subject, Status: "passed"}
	}
	good := `{"period":"p","manifest_sha256":"` + sha + `"}`
	votes := map[string][]schemas.PoolVote{"a": {pass("v1", good)}, "b": {pass("v2", "approve it"), pass("v3", good)}}
	a := SponsorsApproved("p", sha, pools, votes)
	if !a.Approved || strings.Join(a.Votes, ",") != "a/v1,b/v3" || a.Missing != nil {
		t.Fatalf("%+v, want approved by a/v1 and b/v3", a)
	}
	votes["b"] = votes["b"][:1]
	a = SponsorsApproved("p", sha, pools, votes)
	if a.Approved || len(a.Missing) != 1 || !strings.Contains(a.Missing[0], "vote v2: its subject is not an approve_manifest object") {
		t.Fatalf("%+v, want b missing, its unstructured vote named", a)
	}
	if a := SponsorsApproved("p", sha, nil, votes); a.Approved {
		t.Fatalf("a manifest without pools approved by votes: %+v", a)
	}
}
