package entitle

import (
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/schemas"
)

// Ids become parts of record keys: the key separator "/" is refused at the
// door, naming the field and the value.
func TestIDsMustNotContainTheKeySeparator(t *testing.T) {
	p := schemas.Pool{DAO: "d", PoolID: "pool/a", NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n", WeightXDRPermyriad: 1}},
		RulesVersion: "v1", Hoster: schemas.HosterTerms{Account: "h"}, ProposalStatus: ProposalAdopted}
	if err := ValidatePool(p); err == nil || !strings.Contains(err.Error(), `pool_id must not contain '/' (the key separator), got "pool/a"`) {
		t.Fatalf("pool: %v", err)
	}
	c := schemas.Contribution{DAO: "d", PoolID: "p", ContributionID: "c/1", Sponsor: "s", AmountE8s: 1, At: "2026-01-01T00:00:00Z"}
	if err := ValidateContribution(c); err == nil || !strings.Contains(err.Error(), `contribution_id must not contain '/'`) {
		t.Fatalf("contribution: %v", err)
	}
	c.ContributionID = "c1"
	if err := ValidateContribution(c); err != nil {
		t.Fatal(err)
	}
}
