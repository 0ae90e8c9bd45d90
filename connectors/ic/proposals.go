package ic

import (
	"context"
	"errors"
	"fmt"

	"github.com/aviate-labs/agent-go/candid"

	"github.com/nodeshare/nodeshare/schemas/didl"
)

// ProposalStatus is where an NNS proposal stands.
type ProposalStatus string

// Governance's ProposalStatus values (governance.proto: 1 Open, 2 Rejected,
// 3 Adopted, 4 Executed, 5 Failed).
const (
	ProposalOpen     ProposalStatus = "open"
	ProposalRejected ProposalStatus = "rejected"
	ProposalAdopted  ProposalStatus = "adopted"
	ProposalExecuted ProposalStatus = "executed"
	ProposalFailed   ProposalStatus = "failed"
)

var proposalStatuses = map[int32]ProposalStatus{1: ProposalOpen, 2: ProposalRejected, 3: ProposalAdopted, 4: ProposalExecuted, 5: ProposalFailed}

// Decided reports whether the vote is over (everything but open).
func (s ProposalStatus) Decided() bool { return s != ProposalOpen }

// ProposalInfo is what nodeshare needs of an NNS proposal: whether it
// passed, and when.
type ProposalInfo struct {
	ID     uint64
	Status ProposalStatus
	Topic  int32
	// SubmittedSeconds is proposal_timestamp_seconds.
	SubmittedSeconds uint64
	// DecidedSeconds is decided_timestamp_seconds, 0 while open.
	DecidedSeconds uint64
	// ExecutedSeconds and FailedSeconds are set once an adopted proposal
	// was executed or failed to execute; FailureReason says why.
	ExecutedSeconds uint64
	FailedSeconds   uint64
	FailureReason   string
}

// govProposalInfo declares the fields of governance.did ProposalInfo read
// here; the others (the proposal itself, ballots, tallies) are skipped.
type govProposalInfo struct {
	ID *struct {
		ID uint64 `ic:"id"`
	} `ic:"id"`
	Status        int32 `ic:"status"`
	Topic         int32 `ic:"topic"`
	FailureReason *struct {
		ErrorMessage string `ic:"error_message"`
		ErrorType    int32  `ic:"error_type"`
	} `ic:"failure_reason"`
	ProposalTimestampSeconds uint64 `ic:"proposal_timestamp_seconds"`
	DecidedTimestampSeconds  uint64 `ic:"decided_timestamp_seconds"`
	ExecutedTimestampSeconds uint64 `ic:"executed_timestamp_seconds"`
	FailedTimestampSeconds   uint64 `ic:"failed_timestamp_seconds"`
}

// ProposalInfo reads Governance's get_proposal_info for id; nil when
// Governance has no such proposal. The method is a query, but it is sent
// as an update call (Governance executes it replicated) so that the answer
// comes from a verified certificate like a transfer's: a proposal's outcome
// can release money. The status must agree with the timestamps the way
// Governance derives it (open iff not decided; executed/failed only with
// their timestamps), else the answer is refused.
func (c *Client) ProposalInfo(ctx context.Context, id uint64) (*ProposalInfo, error) {
	const op = "get_proposal_info"
	arg, err := didl.Marshal(id)
	if err != nil {
		return nil, &Error{Op: op, Err: fmt.Errorf("encode arguments: %w", err)}
	}
	reply, err := c.update(ctx, GovernanceCanisterID, op, arg)
	if err != nil {
		return nil, err
	}
	var res *govProposalInfo
	if err := candid.Unmarshal(reply, []any{&res}); err != nil {
		return nil, &Error{Op: op, Err: fmt.Errorf("decode certified reply: %w", err)}
	}
	if res == nil {
		return nil, nil
	}
	p, err := fromGovProposalInfo(id, *res)
	if err != nil {
		return nil, &Error{Op: op, Err: err}
	}
	return p, nil
}

func fromGovProposalInfo(id uint64, r govProposalInfo) (*ProposalInfo, error) {
	if r.ID == nil || r.ID.ID != id {
		return nil, fmt.Errorf("asked for proposal %d, got %+v", id, r.ID)
	}
	st, ok := proposalStatuses[r.Status]
	if !ok {
		return nil, fmt.Errorf("proposal %d: unknown status %d", id, r.Status)
	}
	p := &ProposalInfo{ID: id, Status: st, Topic: r.Topic, SubmittedSeconds: r.ProposalTimestampSeconds, DecidedSeconds: r.DecidedTimestampSeconds,
		ExecutedSeconds: r.ExecutedTimestampSeconds, FailedSeconds: r.FailedTimestampSeconds}
	if r.FailureReason != nil {
		p.FailureReason = r.FailureReason.ErrorMessage
	}
	var bad error
	switch {
	case (st == ProposalOpen) != (p.DecidedSeconds == 0):
		bad = errors.New("open exactly when decided_timestamp_seconds is 0")
	case st == ProposalExecuted && p.ExecutedSeconds == 0:
		bad = errors.New("executed without executed_timestamp_seconds")
	case st == ProposalFailed && p.FailedSeconds == 0:
		bad = errors.New("failed without failed_timestamp_seconds")
	case (st == ProposalAdopted || st == ProposalRejected || st == ProposalOpen) && (p.ExecutedSeconds != 0 || p.FailedSeconds != 0):
		bad = errors.New("an execution time on a proposal that was not executed")
	}
	if bad != nil {
		return nil, fmt.Errorf("proposal %d: status %s contradicts its timestamps (decided %d, executed %d, failed %d): %v",
			id, st, p.DecidedSeconds, p.ExecutedSeconds, p.FailedSeconds, bad)
	}
	return p, nil
}
