package lifecycle

import (
	"math"
	"strconv"
)

// check decides whether f may be applied now, without changing anything
// (docs/pool-rules.md "Invalid input"): its fields, its time order, and whether the
// state the pool will be in once the due timed rules have fired allows it.
// Places are relative to the fact.
func (p *Pool) check(f *Fact) error {
	if err := checkFactType(f.Type); err != nil {
		return inputErr("type", "%s", err)
	}
	if f.At.IsZero() {
		return inputErr("at", "is required")
	}
	if p.applied > 0 && f.At.Before(p.lastAt) {
		return inputErr("at", "%s is before the previous fact's at %s (facts must be in time order)", quote(f.At.String()), quote(p.lastAt.String()))
	}
	st := p.stateAt(f.At)
	switch f.Type {
	case FactDeposit:
		return p.checkDeposit(f)
	case FactProposalSubmitted:
		if st != StateFunded {
			return notNow(f.Type, st, "only in funded")
		}
	case FactProposalDecided:
		if err := checkProposalStatus(f.Status); err != nil {
			return inputErr("status", "%s", err)
		}
		if st != StateProposed {
			return notNow(f.Type, st, "only in proposed")
		}
		if f.ProposalID != p.proposalID {
			return inputErr("proposal_id", "must be the submitted proposal %d, got %d", p.proposalID, f.ProposalID)
		}
	case FactNodeUp:
		if err := checkID(f.NodeID); err != nil {
			return inputErr("node_id", "%s", err)
		}
		if st != StateAdopted {
			return notNow(f.Type, st, "only in adopted")
		}
	case FactNodeDown:
		if err := checkID(f.NodeID); err != nil {
			return inputErr("node_id", "%s", err)
		}
		if st != StateActive {
			return notNow(f.Type, st, "only in active")
		}
		if f.NodeID != p.nodeID {
			return inputErr("node_id", "must name the node that came up, %s, got %s", quote(p.nodeID), quote(f.NodeID))
		}
	case FactVoteOpened:
		return p.checkVoteOpened(f, st)
	case FactBallot:
		return p.checkBallot(f)
	}
	return nil
}

func notNow(t FactType, st State, allowed string) error {
	return inputErr("type", "%s is not allowed in state %s (%s)", t, st, allowed)
}

func (p *Pool) checkDeposit(f *Fact) error {
	if p.blocks.has(f.BlockIndex) {
		return inputErr("block_index", "%d repeats an earlier deposit's block_index (one ledger: block indices are unique across the deposit and bond accounts)", f.BlockIndex)
	}
	if f.To != p.terms.DepositAccount && f.To != p.terms.BondAccount {
		if err := ValidateAccount(f.To); err != nil {
			return inputErr("to", "%s", err)
		}
		return inputErr("to", "must be the pool's deposit_account or bond_account, got %s", quote(f.To))
	}
	// An account already holding stake, or the purchaser, was validated before.
	if _, known := p.sponsors[f.From]; !known && f.From != p.terms.Purchaser {
		if err := ValidateAccount(f.From); err != nil {
			return inputErr("from", "%s", err)
		}
	}
	if f.AmountE8s < 0 {
		return inputErr("amount_e8s", "must be >= 0, got %d", f.AmountE8s)
	}
	if uint64(f.AmountE8s) > math.MaxUint64-p.depositedE8s {
		return inputErr("amount_e8s", "takes the pool's deposits beyond %d e8s in total (far more ICP than exists): %d after %d", uint64(math.MaxUint64), f.AmountE8s, p.depositedE8s)
	}
	return nil
}

func (p *Pool) checkVoteOpened(f *Fact, st State) error {
	if err := checkID(f.VoteID); err != nil {
		return inputErr("vote_id", "%s", err)
	}
	if err := checkVoteKind(f.Kind); err != nil {
		return inputErr("kind", "%s", err)
	}
	if f.ClosesAt.IsZero() {
		return inputErr("closes_at", "is required")
	}
	// closes_at may be earlier than at: the rules do not list it as invalid
	// input, and the close is then a timed rule due strictly before the next
	// fact, so it fires before that fact like any other (docs/pool-rules.md
	// "Choices where the rules are silent").
	if err := checkBps(f.ThresholdBps, 1); err != nil {
		return inputErr("threshold_bps", "%s", err)
	}
	if !inRange(st, StateFunded, StateActive) {
		return notNow(f.Type, st, "only in funded, proposed, adopted or active")
	}
	if _, dup := p.votes[f.VoteID]; dup {
		return inputErr("vote_id", "%s repeats an earlier vote's vote_id", quote(f.VoteID))
	}
	return nil
}

func (p *Pool) checkBallot(f *Fact) error {
	if err := checkID(f.VoteID); err != nil {
		return inputErr("vote_id", "%s", err)
	}
	if err := ValidateAccount(f.Voter); err != nil {
		return inputErr("voter", "%s", err)
	}
	if err := checkChoice(f.Choice); err != nil {
		return inputErr("choice", "%s", err)
	}
	v, ok := p.votes[f.VoteID]
	if !ok {
		return inputErr("vote_id", "names no opened vote, got %s", quote(f.VoteID))
	}
	if v.closesAt.Before(f.At) {
		return inputErr("at", "%s is after vote %s closed at %s", quote(f.At.String()), quote(v.id), quote(v.closesAt.String()))
	}
	if id := p.identityOf(f.Voter); v.weights[id] <= 0 {
		return inputErr("voter", "%s (identity %s) holds no voting weight in vote %s", quote(f.Voter), quote(id), quote(v.id))
	}
	if last := v.nonces[f.Voter]; f.Nonce != 0 && f.Nonce <= last {
		return inputErr("nonce", "ballot replayed: nonce %d of %s is not above its last accepted nonce %d in vote %s", f.Nonce, quote(f.Voter), last, quote(v.id))
	}
	return nil
}

func checkFactType(t FactType) error {
	switch t {
	case FactDeposit, FactProposalSubmitted, FactProposalDecided, FactNodeUp, FactNodeDown, FactVoteOpened, FactBallot, FactTick:
		return nil
	}
	return errorf("must be one of deposit, proposal_submitted, proposal_decided, node_up, node_down, vote_opened, ballot, tick, got %s", quote(string(t)))
}

func checkProposalStatus(s ProposalStatus) error {
	switch s {
	case ProposalAdopted, ProposalRejected, ProposalFailed:
		return nil
	}
	return errorf("must be one of adopted, rejected, failed, got %s", quote(string(s)))
}

func checkVoteKind(k VoteKind) error {
	switch k {
	case VoteGrantHosterAccess, VoteTerminateHoster, VoteChangeHosterTerms, VoteAdoptRulesVersion, VoteApproveManifest:
		return nil
	}
	return errorf("must be one of grant_hoster_access, terminate_hoster, change_hoster_terms, adopt_rules_version, approve_manifest, got %s", quote(string(k)))
}

func checkChoice(c Choice) error {
	switch c {
	case ChoiceYes, ChoiceNo, ChoiceAbstain:
		return nil
	}
	return errorf("must be one of yes, no, abstain, got %s", quote(string(c)))
}

// decimal is how a block index or proposal id is written as a cause.
func decimal(v uint64) string { return strconv.FormatUint(v, 10) }
