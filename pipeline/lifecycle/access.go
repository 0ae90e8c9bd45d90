package lifecycle

import (
	"fmt"
	"sort"

	"github.com/nodeshare/nodeshare/schemas"
)

// The access register (docs/governance.md "What a passed vote changes"):
// "a hoster's access must be sanctioned by a majority of node sponsors".
// It is a pure function of a pool's votes as its state lists them
// (schemas.PoolVote): who has access to which node, granted by which vote,
// from when until when, and which vote revoked it. The hoster and
// auditors read it (`nodeshare vote access`, `GET /api/access`); nodeshare
// does not enforce access itself.
//
// Only passed grant_hoster_access votes count, in the order they closed
// (ties by vote id):
//
//   - a grant {"grantee": G, "node_id": N, "until": U} is an entry: G may
//     access N from the vote's close until U. Grants are independent: two
//     grants of one grantee and node are two entries, and access is in
//     force while any entry is;
//   - a revocation {"grantee": G, "node_id": N, "revoke": true} ends, at
//     its close, every entry of G and N that is in force then (its from at
//     or before the close, its until after it, not revoked yet). A
//     revocation that ends nothing is listed in Ignored;
//   - a passed vote whose subject is not the kind's JSON object (from
//     before subjects were structured) changes nothing and is listed in
//     Ignored with the reason.
//
// Open and failed votes are not in the register.

// AccessEntry is one grant of access.
type AccessEntry struct {
	Grantee string `json:"grantee"`
	NodeID  string `json:"node_id"`
	// From is the granting vote's close; Until the subject's until.
	From      string `json:"from"`
	Until     string `json:"until"`
	GrantedBy string `json:"granted_by"`
	// RevokedBy and RevokedAt (the revoking vote's close) are set when a
	// revocation ended the entry before Until.
	RevokedBy string `json:"revoked_by,omitempty"`
	RevokedAt string `json:"revoked_at,omitempty"`
}

// AccessIgnored is a passed grant_hoster_access vote that changed
// nothing, with the reason.
type AccessIgnored struct {
	VoteID string `json:"vote_id"`
	Reason string `json:"reason"`
}

// AccessRegister is a pool's access register: entries in the order the
// granting votes closed.
type AccessRegister struct {
	Entries []AccessEntry   `json:"entries"`
	Ignored []AccessIgnored `json:"ignored,omitempty"`
}

// Access builds the access register of a pool from its votes. A vote whose
// closes_at does not parse is an error naming it (the state is the
// processor's: it never writes one).
func Access(votes []schemas.PoolVote) (AccessRegister, error) {
	type closed struct {
		v  schemas.PoolVote
		at Time
	}
	var list []closed
	for _, v := range votes {
		if v.Kind != schemas.VoteKindGrantHosterAccess || v.Status != string(VotePassed) {
			continue
		}
		at, err := ParseTime(v.ClosesAt)
		if err != nil {
			return AccessRegister{}, fmt.Errorf("vote %s: closes_at %w", v.VoteID, err)
		}
		list = append(list, closed{v, at})
	}
	sort.SliceStable(list, func(i, j int) bool {
		if c := list[i].at.Compare(list[j].at); c != 0 {
			return c < 0
		}
		return list[i].v.VoteID < list[j].v.VoteID
	})
	reg := AccessRegister{Entries: []AccessEntry{}}
	var untils []Time // parsed Until of each entry
	var froms []Time
	for _, c := range list {
		subj, err := schemas.DecodeVoteSubject(c.v.Kind, c.v.Subject)
		s, _ := subj.(*schemas.GrantHosterAccessSubject)
		if s == nil {
			reg.Ignored = append(reg.Ignored, AccessIgnored{VoteID: c.v.VoteID, Reason: "the subject is not its kind's JSON object (" + err.Error() + ")"})
			continue
		}
		if !s.Revoke {
			until, err := ParseTime(s.Until)
			if err != nil {
				reg.Ignored = append(reg.Ignored, AccessIgnored{VoteID: c.v.VoteID, Reason: "subject.until " + err.Error()})
				continue
			}
			if !c.at.Before(until) {
				reg.Ignored = append(reg.Ignored, AccessIgnored{VoteID: c.v.VoteID,
					Reason: fmt.Sprintf("until %s is not after the vote's close %s: the access would never be in force", s.Until, c.v.ClosesAt)})
				continue
			}
			reg.Entries = append(reg.Entries, AccessEntry{Grantee: s.Grantee, NodeID: s.NodeID, From: c.v.ClosesAt, Until: s.Until, GrantedBy: c.v.VoteID})
			froms, untils = append(froms, c.at), append(untils, until)
			continue
		}
		ended := 0
		for i := range reg.Entries {
			e := &reg.Entries[i]
			if e.Grantee != s.Grantee || e.NodeID != s.NodeID || e.RevokedBy != "" || c.at.Before(froms[i]) || !c.at.Before(untils[i]) {
				continue
			}
			e.RevokedBy, e.RevokedAt = c.v.VoteID, c.v.ClosesAt
			ended++
		}
		if ended == 0 {
			reg.Ignored = append(reg.Ignored, AccessIgnored{VoteID: c.v.VoteID,
				Reason: fmt.Sprintf("%s held no access to %s in force at the close %s", s.Grantee, s.NodeID, c.v.ClosesAt)})
		}
	}
	return reg, nil
}

// InForceAt reports whether e grants access at t: from at or before t,
// t before until, and not revoked at or before t.
func (e AccessEntry) InForceAt(t Time) (bool, error) {
	from, err := ParseTime(e.From)
	if err != nil {
		return false, fmt.Errorf("access entry of vote %s: from %w", e.GrantedBy, err)
	}
	until, err := ParseTime(e.Until)
	if err != nil {
		return false, fmt.Errorf("access entry of vote %s: until %w", e.GrantedBy, err)
	}
	if t.Before(from) || !t.Before(until) {
		return false, nil
	}
	if e.RevokedAt != "" {
		rev, err := ParseTime(e.RevokedAt)
		if err != nil {
			return false, fmt.Errorf("access entry of vote %s: revoked_at %w", e.GrantedBy, err)
		}
		if !t.Before(rev) {
			return false, nil
		}
	}
	return true, nil
}
