package lifecycle

import (
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/schemas"
)

func accessVote(id, status, closes, subject string) schemas.PoolVote {
	return schemas.PoolVote{VoteID: id, Kind: schemas.VoteKindGrantHosterAccess, Subject: subject, OpenedAt: "2026-01-01T00:00:00Z", ClosesAt: closes, Status: status}
}

// The register from a pool's votes: grants in close order whatever the
// list's order, a revocation ends the grantee's entries in force at its
// close (and only those), open and failed votes and other kinds are not in
// it, and a vote that changed nothing says why.
func TestAccessRegister(t *testing.T) {
	votes := []schemas.PoolVote{
		accessVote("g2", "passed", "2026-02-01T00:00:00Z", `{"grantee":"alice","node_id":"n1","until":"2026-12-31T00:00:00Z"}`),
		accessVote("g1", "passed", "2026-01-10T00:00:00Z", `{"grantee":"alice","node_id":"n1","until":"2026-01-20T00:00:00Z"}`),
		accessVote("g3", "passed", "2026-02-01T00:00:00Z", `{"grantee":"bob","node_id":"n1","until":"2026-06-01T00:00:00Z"}`),
		accessVote("r1", "passed", "2026-03-01T00:00:00+01:00", `{"grantee":"alice","node_id":"n1","revoke":true}`),
		accessVote("r2", "passed", "2026-03-05T00:00:00Z", `{"grantee":"carol","node_id":"n1","revoke":true}`),
		accessVote("g4", "failed", "2026-02-02T00:00:00Z", `{"grantee":"mallory","node_id":"n1","until":"2027-01-01T00:00:00Z"}`),
		accessVote("g5", "open", "2026-02-03T00:00:00Z", `{"grantee":"mallory","node_id":"n1","until":"2027-01-01T00:00:00Z"}`),
		accessVote("g6", "passed", "2026-02-04T00:00:00Z", "let the hoster in"),
		accessVote("g7", "passed", "2026-02-05T00:00:00Z", `{"grantee":"dave","node_id":"n1","until":"2026-02-05T00:00:00Z"}`),
		{VoteID: "t1", Kind: schemas.VoteKindTerminateHoster, Subject: `{"hoster":"h"}`, ClosesAt: "2026-02-01T00:00:00Z", Status: "passed"},
	}
	reg, err := Access(votes)
	if err != nil {
		t.Fatal(err)
	}
	want := []AccessEntry{
		// g1 expired before r1's close: not revoked.
		{Grantee: "alice", NodeID: "n1", From: "2026-01-10T00:00:00Z", Until: "2026-01-20T00:00:00Z", GrantedBy: "g1"},
		{Grantee: "alice", NodeID: "n1", From: "2026-02-01T00:00:00Z", Until: "2026-12-31T00:00:00Z", GrantedBy: "g2", RevokedBy: "r1", RevokedAt: "2026-03-01T00:00:00+01:00"},
		{Grantee: "bob", NodeID: "n1", From: "2026-02-01T00:00:00Z", Until: "2026-06-01T00:00:00Z", GrantedBy: "g3"},
	}
	if len(reg.Entries) != len(want) {
		t.Fatalf("entries %+v, want %+v", reg.Entries, want)
	}
	for i := range want {
		if reg.Entries[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, reg.Entries[i], want[i])
		}
	}
	var ignored []string
	for _, ig := range reg.Ignored {
		ignored = append(ignored, ig.VoteID+": "+ig.Reason)
	}
	got := strings.Join(ignored, "\n")
	for _, w := range []string{"g6: the subject is not its kind's JSON object", "g7: until 2026-02-05T00:00:00Z is not after the vote's close",
		"r2: carol held no access to n1 in force at the close 2026-03-05T00:00:00Z"} {
		if !strings.Contains(got, w) {
			t.Errorf("ignored:\n%s\nwant %q", got, w)
		}
	}
	if len(reg.Ignored) != 3 {
		t.Errorf("ignored %d votes, want 3: %s", len(reg.Ignored), got)
	}

	at := func(s string) Time {
		tm, err := ParseTime(s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, c := range []struct {
		entry int
		at    string
		want  bool
	}{
		{1, "2026-01-31T23:59:59Z", false}, // before the close
		{1, "2026-02-01T00:00:00Z", true},  // from the close
		{1, "2026-02-28T22:59:59Z", true},  // the second before the revocation
		{1, "2026-02-28T23:00:00Z", false}, // the revocation's close, +01:00
		{0, "2026-01-20T00:00:00Z", false}, // until is exclusive
		{2, "2026-05-31T23:59:59Z", true},
	} {
		ok, err := reg.Entries[c.entry].InForceAt(at(c.at))
		if err != nil || ok != c.want {
			t.Errorf("entry %d at %s: in force %v (%v), want %v", c.entry, c.at, ok, err, c.want)
		}
	}
}
