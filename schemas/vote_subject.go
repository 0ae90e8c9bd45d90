package schemas

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// What a vote decides is its subject: one JSON object per kind
// (docs/governance.md "What a passed vote changes"). The lifecycle rules
// keep the subject opaque (they tally, they do not act); the processors
// that apply a passed vote decode it here, and `vote open` refuses a
// subject that does not decode, naming the field. A vote opened with a
// subject that is not its kind's JSON (free text, from before subjects
// were structured) changes nothing when it passes; the processors say so
// where they would have used it.

// Vote kinds (POOL_RULES "Votes"), as the pool facts spell them.
const (
	VoteKindGrantHosterAccess = "grant_hoster_access"
	VoteKindTerminateHoster   = "terminate_hoster"
	VoteKindChangeHosterTerms = "change_hoster_terms"
	VoteKindAdoptRulesVersion = "adopt_rules_version"
	VoteKindApproveManifest   = "approve_manifest"
)

// TerminateHosterSubject ends the engagement of the pool's hoster Hoster
// (its account as the pool's terms name it) at the vote's close.
type TerminateHosterSubject struct {
	Hoster string `json:"hoster"`
}

// ChangeHosterTermsSubject ends the current hoster engagement at the
// vote's close and starts one of Account on these terms (ALLOCATION_RULES
// step 2): the same hoster on new terms, or a new hoster.
type ChangeHosterTermsSubject struct {
	Account           string `json:"account"`
	FixedXDRPermyriad int64  `json:"fixed_xdr_permyriad"`
	Bps               int64  `json:"bps"`
}

// AdoptRulesVersionSubject makes RulesVersion the pool's allocation rules
// for the reward periods that start after the vote's close.
type AdoptRulesVersionSubject struct {
	RulesVersion string `json:"rules_version"`
}

// ApproveManifestSubject approves the payout manifest of Period whose
// hash is ManifestSHA256 (the hash `payout plan` prints).
type ApproveManifestSubject struct {
	Period         string `json:"period"`
	ManifestSHA256 string `json:"manifest_sha256"`
}

// GrantHosterAccessSubject grants Grantee access to node NodeID from the
// vote's close until Until (RFC 3339), or, with Revoke, ends the access
// Grantee holds to NodeID at the vote's close (Until is then not used).
type GrantHosterAccessSubject struct {
	Grantee string `json:"grantee"`
	NodeID  string `json:"node_id"`
	Until   string `json:"until,omitempty"`
	Revoke  bool   `json:"revoke,omitempty"`
}

// required lists each kind's required fields, in the order errors name
// them.
var subjectRequired = map[string][]string{
	VoteKindTerminateHoster:   {"hoster"},
	VoteKindChangeHosterTerms: {"account", "fixed_xdr_permyriad", "bps"},
	VoteKindAdoptRulesVersion: {"rules_version"},
	VoteKindApproveManifest:   {"period", "manifest_sha256"},
	VoteKindGrantHosterAccess: {"grantee", "node_id"},
}

// DecodeVoteSubject reads the subject of a vote of kind strictly: one JSON
// object, no unknown or repeated field, every required field present, and
// values in range. It returns a pointer to the kind's subject type. Errors
// name the field and the value: `subject.bps must be in 0..10000, got
// 12000`.
func DecodeVoteSubject(kind, subject string) (any, error) {
	var v any
	switch kind {
	case VoteKindTerminateHoster:
		v = &TerminateHosterSubject{}
	case VoteKindChangeHosterTerms:
		v = &ChangeHosterTermsSubject{}
	case VoteKindAdoptRulesVersion:
		v = &AdoptRulesVersionSubject{}
	case VoteKindApproveManifest:
		v = &ApproveManifestSubject{}
	case VoteKindGrantHosterAccess:
		v = &GrantHosterAccessSubject{}
	default:
		return nil, fmt.Errorf("kind must be one of %s, %s, %s, %s, %s, got %q", VoteKindGrantHosterAccess, VoteKindTerminateHoster,
			VoteKindChangeHosterTerms, VoteKindAdoptRulesVersion, VoteKindApproveManifest, kind)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(subject), &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("subject of a %s vote must be a JSON object with %s, got %s", kind, strings.Join(subjectRequired[kind], ", "), quoteShort(subject))
	}
	if err := checkDuplicateSubjectKeys(subject); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(subject))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			return nil, fmt.Errorf("subject.%s must be a JSON %s, got %s", ute.Field, ute.Type, ute.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return nil, fmt.Errorf("subject: %s is not a field of a %s vote (its fields: %s)", strings.TrimPrefix(err.Error(), "json: unknown field "), kind, strings.Join(subjectRequired[kind], ", "))
		}
		return nil, fmt.Errorf("subject: %v", err)
	}
	for _, f := range subjectRequired[kind] {
		if _, ok := fields[f]; !ok {
			return nil, fmt.Errorf("subject.%s is required in a %s vote", f, kind)
		}
	}
	return v, checkSubject(v)
}

func checkSubject(v any) error {
	switch s := v.(type) {
	case *TerminateHosterSubject:
		if s.Hoster == "" {
			return fmt.Errorf("subject.hoster must be the hoster's account, got \"\"")
		}
	case *ChangeHosterTermsSubject:
		switch {
		case s.Account == "":
			return fmt.Errorf("subject.account must be the hoster's account, got \"\"")
		case s.FixedXDRPermyriad < 0:
			return fmt.Errorf("subject.fixed_xdr_permyriad must be >= 0, got %d", s.FixedXDRPermyriad)
		case s.Bps < 0 || s.Bps > 10_000:
			return fmt.Errorf("subject.bps must be in 0..10000, got %d", s.Bps)
		}
	case *AdoptRulesVersionSubject:
		if s.RulesVersion == "" {
			return fmt.Errorf("subject.rules_version must name a rules version such as \"v2\", got \"\"")
		}
	case *ApproveManifestSubject:
		if s.Period == "" {
			return fmt.Errorf("subject.period must be the manifest's period, got \"\"")
		}
		if b, err := hex.DecodeString(s.ManifestSHA256); err != nil || len(b) != 32 || strings.ToLower(s.ManifestSHA256) != s.ManifestSHA256 {
			return fmt.Errorf("subject.manifest_sha256 must be 64 lowercase hex characters, got %s", quoteShort(s.ManifestSHA256))
		}
	case *GrantHosterAccessSubject:
		switch {
		case s.Grantee == "":
			return fmt.Errorf("subject.grantee must name who gets access, got \"\"")
		case s.NodeID == "":
			return fmt.Errorf("subject.node_id must name the node, got \"\"")
		case s.Revoke && s.Until != "":
			return fmt.Errorf("subject.until must be empty when revoke is true (a revocation ends the access at the close), got %q", s.Until)
		case !s.Revoke:
			if _, err := time.Parse(time.RFC3339, s.Until); err != nil {
				return fmt.Errorf("subject.until must be an RFC 3339 time when access is granted, got %s", quoteShort(s.Until))
			}
		}
	}
	return nil
}

// checkDuplicateSubjectKeys refuses an object that names a field twice
// (encoding/json would keep the last silently).
func checkDuplicateSubjectKeys(subject string) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(subject)))
	if _, err := dec.Token(); err != nil { // {
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil // the decoder reports it
		}
		k, _ := t.(string)
		if seen[k] {
			return fmt.Errorf("subject.%s appears twice", k)
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}
