package ic

import (
	"context"
	"fmt"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// The lifecycle's proposal outcomes (docs/pool-rules.md "Proposal, node and
// settlement"): what a proposal_decided fact says.
const (
	decisionAdopted  = "adopted"
	decisionRejected = "rejected"
	decisionFailed   = "failed"
)

const portOpProposalInfo = "get_proposal_info"

// ProposalDecision is proposal id's final outcome in the words of the pool
// lifecycle, as the connect stage's Proposals port asks: a
// schemas.PoolFact of type proposal_decided with ProposalID, Status and At
// set (the stage adds the DAO and the pool), or nil while there is no
// final outcome yet.
//
// Governance's statuses map as follows: rejected is "rejected" at its
// decided_timestamp_seconds; executed is "adopted" at its
// decided_timestamp_seconds (the vote's outcome; the execution made it
// final); failed is "failed" at its failed_timestamp_seconds. Open is not
// decided, and neither is adopted: an adopted proposal may still fail to
// execute, and the lifecycle takes one decision per proposal, so the
// outcome is reported only once it can no longer change.
//
// The read is Client.ProposalInfo: an update call whose reply comes with a
// verified certificate (the certificate's time is not exposed, so
// CertTimeNanos stays 0). A proposal Governance does not know is an error.
func (s ConnectSource) ProposalDecision(ctx context.Context, id uint64) (*schemas.PoolFact, schemas.Provenance, error) {
	prov := schemas.Provenance{Source: "ic", Canister: GovernanceCanisterID.String(), Method: portOpProposalInfo}
	p, err := s.Client.ProposalInfo(ctx, id)
	if err != nil {
		return nil, prov, err
	}
	if p == nil {
		return nil, prov, &Error{Op: portOpProposalInfo, Err: fmt.Errorf("governance has no proposal %d", id)}
	}
	var status string
	var at uint64
	switch p.Status {
	case ProposalRejected:
		status, at = decisionRejected, p.DecidedSeconds
	case ProposalExecuted:
		status, at = decisionAdopted, p.DecidedSeconds
	case ProposalFailed:
		status, at = decisionFailed, p.FailedSeconds
	default: // open, or adopted and not yet executed
		return nil, prov, nil
	}
	pid := id
	return &schemas.PoolFact{Type: "proposal_decided", ProposalID: &pid, Status: status,
		At: time.Unix(int64(at), 0).UTC().Format(time.RFC3339)}, prov, nil
}
