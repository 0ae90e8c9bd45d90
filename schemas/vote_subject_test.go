package schemas

import (
	"reflect"
	"strings"
	"testing"
)

func TestDecodeVoteSubject(t *testing.T) {
	good := []struct {
		kind, subject string
		want          any
	}{
		{VoteKindTerminateHoster, `{"hoster":"h"}`, &TerminateHosterSubject{Hoster: "h"}},
		{VoteKindChangeHosterTerms, `{"account":"h2","fixed_xdr_permyriad":0,"bps":500}`, &ChangeHosterTermsSubject{Account: "h2", Bps: 500}},
		{VoteKindAdoptRulesVersion, `{"rules_version":"v2"}`, &AdoptRulesVersionSubject{RulesVersion: "v2"}},
		{VoteKindApproveManifest, `{"period":"2026-11-01","manifest_sha256":"` + strings.Repeat("ab", 32) + `"}`,
			&ApproveManifestSubject{Period: "2026-11-01", ManifestSHA256: strings.Repeat("ab", 32)}},
		{VoteKindGrantHosterAccess, `{"grantee":"ops-anna","node_id":"n1","until":"2027-01-01T00:00:00Z"}`,
			&GrantHosterAccessSubject{Grantee: "ops-anna", NodeID: "n1", Until: "2027-01-01T00:00:00Z"}},
		{VoteKindGrantHosterAccess, `{"grantee":"ops-anna","node_id":"n1","revoke":true}`,
			&GrantHosterAccessSubject{Grantee: "ops-anna", NodeID: "n1", Revoke: true}},
	}
	for _, c := range good {
		got, err := DecodeVoteSubject(c.kind, c.subject)
		if err != nil {
			t.Fatalf("%s %s: %v", c.kind, c.subject, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Fatalf("%s: got %+v, want %+v", c.kind, got, c.want)
		}
	}
	bad := []struct{ kind, subject, want string }{
		{VoteKindTerminateHoster, `hoster h: unauthorized access`, "must be a JSON object with hoster"},
		{VoteKindTerminateHoster, `{"hoster":"h","why":"x"}`, `subject: "why" is not a field of a terminate_hoster vote`},
		{VoteKindTerminateHoster, `{}`, "subject.hoster is required"},
		{VoteKindTerminateHoster, `{"hoster":"h","hoster":"g"}`, "subject.hoster appears twice"},
		{VoteKindTerminateHoster, `{"hoster":"h"} {}`, "must be a JSON object"},
		{VoteKindChangeHosterTerms, `{"account":"h","fixed_xdr_permyriad":0,"bps":12000}`, "subject.bps must be in 0..10000, got 12000"},
		{VoteKindChangeHosterTerms, `{"account":"h","fixed_xdr_permyriad":-1,"bps":0}`, "subject.fixed_xdr_permyriad must be >= 0, got -1"},
		{VoteKindChangeHosterTerms, `{"account":"h","fixed_xdr_permyriad":"5","bps":0}`, "subject.fixed_xdr_permyriad must be a JSON int64, got string"},
		{VoteKindChangeHosterTerms, `{"account":"h","bps":0}`, "subject.fixed_xdr_permyriad is required"},
		{VoteKindApproveManifest, `{"period":"p","manifest_sha256":"ABCD"}`, "subject.manifest_sha256 must be 64 lowercase hex"},
		{VoteKindGrantHosterAccess, `{"grantee":"g","node_id":"n","until":"tomorrow"}`, "subject.until must be an RFC 3339 time"},
		{VoteKindGrantHosterAccess, `{"grantee":"g","node_id":"n","revoke":true,"until":"2027-01-01T00:00:00Z"}`, "subject.until must be empty when revoke is true"},
		{"fire_everyone", `{}`, "kind must be one of"},
	}
	for _, c := range bad {
		_, err := DecodeVoteSubject(c.kind, c.subject)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s %s: error %v, want one saying %q", c.kind, c.subject, err, c.want)
		}
	}
}
