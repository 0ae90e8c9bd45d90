package icsim

import (
	"fmt"
	"net/http"
	"sort"
	"time"
)

// NNS proposals as get_proposal_info reports them
// (rs/nns/governance/canister/governance.did ProposalInfo). A proposal's
// status is derived from its timestamps the way Governance derives it
// (ProposalData::status in rs/nns/governance): open while
// decided_timestamp_seconds is 0; once decided, executed when
// executed_timestamp_seconds is set, failed when failed_timestamp_seconds
// is, adopted otherwise; rejected when decided but not adopted. The
// simulator has no neurons: the admin API decides proposals.

// ProposalStatus values of Governance's ProposalStatus enum.
const (
	proposalStatusOpen     int32 = 1
	proposalStatusRejected int32 = 2
	proposalStatusAdopted  int32 = 3
	proposalStatusExecuted int32 = 4
	proposalStatusFailed   int32 = 5
)

// Proposal statuses as the admin API names them.
const (
	ProposalOpen     = "open"
	ProposalRejected = "rejected"
	ProposalAdopted  = "adopted"
	ProposalExecuted = "executed"
	ProposalFailed   = "failed"
)

// votingPeriodSeconds is Governance's initial voting period (4 days).
const votingPeriodSeconds = 4 * 24 * 3600

// rejectCostE8s is NetworkEconomics.reject_cost_e8s on mainnet (25 ICP).
const rejectCostE8s = 2_500_000_000

// Proposal is one simulated NNS proposal.
type Proposal struct {
	ID                       uint64 `json:"id"`
	Title                    string `json:"title,omitempty"`
	Summary                  string `json:"summary,omitempty"`
	URL                      string `json:"url,omitempty"`
	Topic                    int32  `json:"topic,omitempty"`
	ProposerNeuronID         uint64 `json:"proposer_neuron_id,omitempty"`
	Adopted                  bool   `json:"adopted,omitempty"`
	ProposalTimestampSeconds uint64 `json:"proposal_timestamp_seconds"`
	DecidedTimestampSeconds  uint64 `json:"decided_timestamp_seconds"`
	ExecutedTimestampSeconds uint64 `json:"executed_timestamp_seconds"`
	FailedTimestampSeconds   uint64 `json:"failed_timestamp_seconds"`
	FailureReason            string `json:"failure_reason,omitempty"`
}

// status is ProposalData::status.
func (p Proposal) status() int32 {
	switch {
	case p.DecidedTimestampSeconds == 0:
		return proposalStatusOpen
	case !p.Adopted:
		return proposalStatusRejected
	case p.ExecutedTimestampSeconds > 0:
		return proposalStatusExecuted
	case p.FailedTimestampSeconds > 0:
		return proposalStatusFailed
	}
	return proposalStatusAdopted
}

// statusName is the admin API's name of the status.
func (p Proposal) statusName() string {
	return map[int32]string{proposalStatusOpen: ProposalOpen, proposalStatusRejected: ProposalRejected,
		proposalStatusAdopted: ProposalAdopted, proposalStatusExecuted: ProposalExecuted, proposalStatusFailed: ProposalFailed}[p.status()]
}

// ProposalRequest is the body of POST /admin/governance/proposals: without
// an id it submits a proposal (status open, or straight to a later status);
// with the id of a known proposal it moves it to status. AtSeconds, when
// set, is the time of this step (default: the canister clock).
type ProposalRequest struct {
	ID               *uint64 `json:"id,omitempty"`
	Status           string  `json:"status"`
	Title            string  `json:"title,omitempty"`
	Summary          string  `json:"summary,omitempty"`
	URL              string  `json:"url,omitempty"`
	Topic            int32   `json:"topic,omitempty"`
	ProposerNeuronID uint64  `json:"proposer_neuron_id,omitempty"`
	FailureReason    string  `json:"failure_reason,omitempty"`
	AtSeconds        *uint64 `json:"at_seconds,omitempty"`
}

// applyProposal submits or moves a proposal; callers hold s.mu and persist.
// Moves follow Governance: open -> adopted | rejected; adopted ->
// executed | failed; open -> executed | failed decides and executes in one
// step. Nothing leaves rejected, executed or failed.
func (g *governanceState) applyProposal(req ProposalRequest, nowSeconds uint64) (Proposal, error) {
	at := nowSeconds
	if req.AtSeconds != nil {
		at = *req.AtSeconds
	}
	if at == 0 {
		return Proposal{}, fmt.Errorf("at_seconds must be > 0")
	}
	var p *Proposal
	if req.ID != nil {
		for i := range g.Proposals {
			if g.Proposals[i].ID == *req.ID {
				p = &g.Proposals[i]
			}
		}
	}
	if p == nil {
		id := uint64(1)
		for _, q := range g.Proposals {
			id = max(id, q.ID+1)
		}
		if req.ID != nil {
			id = *req.ID
		}
		g.Proposals = append(g.Proposals, Proposal{ID: id, Title: req.Title, Summary: req.Summary, URL: req.URL, Topic: req.Topic,
			ProposerNeuronID: req.ProposerNeuronID, ProposalTimestampSeconds: at})
		sort.Slice(g.Proposals, func(i, j int) bool { return g.Proposals[i].ID < g.Proposals[j].ID })
		for i := range g.Proposals {
			if g.Proposals[i].ID == id {
				p = &g.Proposals[i]
			}
		}
		if req.Status == "" || req.Status == ProposalOpen {
			return *p, nil
		}
	}
	next := *p
	from := p.statusName()
	decide := func(adopted bool) {
		if next.DecidedTimestampSeconds == 0 {
			next.DecidedTimestampSeconds = at
			next.Adopted = adopted
		}
	}
	switch {
	case req.Status == ProposalAdopted && from == ProposalOpen:
		decide(true)
	case req.Status == ProposalRejected && from == ProposalOpen:
		decide(false)
	case req.Status == ProposalExecuted && (from == ProposalOpen || from == ProposalAdopted):
		decide(true)
		next.ExecutedTimestampSeconds = at
	case req.Status == ProposalFailed && (from == ProposalOpen || from == ProposalAdopted):
		decide(true)
		next.FailedTimestampSeconds = at
		next.FailureReason = req.FailureReason
		if next.FailureReason == "" {
			next.FailureReason = "execution failed (simulated)"
		}
	default:
		return *p, fmt.Errorf("proposal %d is %s: cannot move it to %q (open -> adopted|rejected|executed|failed, adopted -> executed|failed)", p.ID, from, req.Status)
	}
	if at < next.ProposalTimestampSeconds {
		return *p, fmt.Errorf("proposal %d: at_seconds %d is before its submission at %d", p.ID, at, next.ProposalTimestampSeconds)
	}
	*p = next
	return next, nil
}

// Candid shapes of ProposalInfo. The proposal's action is left out (null):
// the simulator records no actions, and clients here read the outcome.

type candidProposalID struct {
	ID uint64 `ic:"id"`
}

type candidNeuronID struct {
	ID uint64 `ic:"id"`
}

type candidGovernanceError struct {
	ErrorMessage string `ic:"error_message"`
	ErrorType    int32  `ic:"error_type"`
}

type candidMotion struct {
	MotionText string `ic:"motion_text"`
}

type candidAction struct {
	Motion *candidMotion `ic:"Motion,variant"`
}

type candidProposal struct {
	URL     string        `ic:"url"`
	Title   *string       `ic:"title"`
	Action  *candidAction `ic:"action"`
	Summary string        `ic:"summary"`
}

type candidBallot struct {
	Vote        int32  `ic:"vote"`
	VotingPower uint64 `ic:"voting_power"`
}

type candidNeuronBallot struct {
	Neuron uint64       `ic:"0,tuple"`
	Ballot candidBallot `ic:"1,tuple"`
}

type candidProposalInfo struct {
	ID                        *candidProposalID      `ic:"id"`
	Status                    int32                  `ic:"status"`
	Topic                     int32                  `ic:"topic"`
	FailureReason             *candidGovernanceError `ic:"failure_reason"`
	Ballots                   []candidNeuronBallot   `ic:"ballots"`
	ProposalTimestampSeconds  uint64                 `ic:"proposal_timestamp_seconds"`
	RewardEventRound          uint64                 `ic:"reward_event_round"`
	DeadlineTimestampSeconds  *uint64                `ic:"deadline_timestamp_seconds"`
	FailedTimestampSeconds    uint64                 `ic:"failed_timestamp_seconds"`
	RejectCostE8s             uint64                 `ic:"reject_cost_e8s"`
	RewardStatus              int32                  `ic:"reward_status"`
	DecidedTimestampSeconds   uint64                 `ic:"decided_timestamp_seconds"`
	Proposal                  *candidProposal        `ic:"proposal"`
	Proposer                  *candidNeuronID        `ic:"proposer"`
	ExecutedTimestampSeconds  uint64                 `ic:"executed_timestamp_seconds"`
	TotalPotentialVotingPower *uint64                `ic:"total_potential_voting_power"`
	LatestTally               *candidTally           `ic:"latest_tally"`
}

type candidTally struct {
	No               uint64 `ic:"no"`
	Yes              uint64 `ic:"yes"`
	Total            uint64 `ic:"total"`
	TimestampSeconds uint64 `ic:"timestamp_seconds"`
}

// errorTypeExternal is GovernanceError's ErrorType::External, what a failed
// execution reports.
const errorTypeExternal = 12

func (p Proposal) candid() candidProposalInfo {
	deadline := p.ProposalTimestampSeconds + votingPeriodSeconds
	// ProposalRewardStatus: 1 AcceptVotes while open, 2 ReadyToSettle once
	// decided (the simulator has no reward events to settle it).
	reward := int32(1)
	if p.DecidedTimestampSeconds > 0 {
		reward = 2
	}
	info := candidProposalInfo{
		ID:                       &candidProposalID{p.ID},
		Status:                   p.status(),
		Topic:                    p.Topic,
		Ballots:                  []candidNeuronBallot{},
		ProposalTimestampSeconds: p.ProposalTimestampSeconds,
		DeadlineTimestampSeconds: &deadline,
		FailedTimestampSeconds:   p.FailedTimestampSeconds,
		RejectCostE8s:            rejectCostE8s,
		RewardStatus:             reward,
		DecidedTimestampSeconds:  p.DecidedTimestampSeconds,
		ExecutedTimestampSeconds: p.ExecutedTimestampSeconds,
		Proposal:                 &candidProposal{URL: p.URL, Summary: p.Summary},
	}
	if p.Title != "" {
		title := p.Title
		info.Proposal.Title = &title
	}
	if p.ProposerNeuronID != 0 {
		info.Proposer = &candidNeuronID{p.ProposerNeuronID}
	}
	if p.FailureReason != "" {
		info.FailureReason = &candidGovernanceError{ErrorMessage: p.FailureReason, ErrorType: errorTypeExternal}
	}
	return info
}

// govProposalInfo is get_proposal_info : (nat64) -> (opt ProposalInfo) query.
func govProposalInfo(s *Server, _ callContext, arg []byte) ([]byte, error) {
	var id uint64
	if err := decodeArgs(arg, &id); err != nil {
		return nil, err
	}
	for _, p := range s.gov.Proposals {
		if p.ID == id {
			info := p.candid()
			return encode(&info)
		}
	}
	var none *candidProposalInfo
	return encode(none)
}

func (s *Server) adminProposals(w http.ResponseWriter, r *http.Request) {
	var req ProposalRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := uint64(time.Unix(0, int64(s.canisterNow())).Unix())
	before := append([]Proposal(nil), s.gov.Proposals...)
	p, err := s.gov.applyProposal(req, now)
	if err != nil {
		s.gov.Proposals = before
		adminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if err := s.save(); err != nil {
		s.gov.Proposals = before
		adminError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	s.log.Info("admin proposal", "proposal_id", p.ID, "status", p.statusName())
	writeJSON(w, http.StatusOK, proposalView(p))
}

// ProposalView is a proposal with its derived status, as the admin API
// answers it.
type ProposalView struct {
	Proposal
	Status string `json:"status"`
}

func proposalView(p Proposal) ProposalView { return ProposalView{Proposal: p, Status: p.statusName()} }
