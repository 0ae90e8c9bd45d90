package lifecycle

import (
	"cmp"
	"fmt"
	"math"
	"strconv"

	rules "github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/schemas"
)

// coord is a record's place in the log: what its dead letter is keyed by,
// and what identifies a fact across batches and restarts.
type coord struct {
	topic     string
	partition int
	offset    int64
}

func coordOf(m *schemas.Message) coord { return coord{m.Topic, m.Partition, m.Offset} }

func (c coord) String() string { return schemas.DeadLetterKey(c.topic, c.partition, c.offset) }

func compareCoords(a, b coord) int {
	if c := cmp.Compare(a.topic, b.topic); c != 0 {
		return c
	}
	if c := cmp.Compare(a.partition, b.partition); c != 0 {
		return c
	}
	return cmp.Compare(a.offset, b.offset)
}

// The two kinds of facts, ranked for one instant: deposits first.
const (
	rankDeposit  = 0
	rankPoolFact = 1
)

// fact is one fact of a pool, as the rules take it, with its source.
type fact struct {
	rules.Fact
	rank int
	src  coord
}

// compareFacts is the order a pool's facts are applied in
// (docs/pipeline.md "The lifecycle processor"): by time (instants, as the
// rules compare them); at one instant the deposits first, by block index,
// then the pool facts in topic order (their coordinates). Deposits first
// because the ledger is the pool's clock for money: the DAO submits its
// proposal once the pool is funded, and a bond that arrives with the
// node's start completes the settlement; governance and node times are
// whole seconds, block times nanoseconds, so a tie is an exact second.
// Coordinates break every remaining tie, so the order is total.
func compareFacts(a, b *fact) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	if a.rank != b.rank {
		return cmp.Compare(a.rank, b.rank)
	}
	if a.rank == rankDeposit {
		if c := cmp.Compare(a.BlockIndex, b.BlockIndex); c != 0 {
			return c
		}
	}
	return compareCoords(a.src, b.src)
}

// what names the fact in a reason or a log line.
func (f *fact) what() string {
	switch f.Type {
	case rules.FactDeposit:
		return "deposit (block " + strconv.FormatUint(f.BlockIndex, 10) + ")"
	case rules.FactProposalSubmitted, rules.FactProposalDecided:
		return string(f.Type) + " (proposal " + strconv.FormatUint(f.ProposalID, 10) + ")"
	case rules.FactTick:
		return "tick"
	case rules.FactVoteOpened:
		return "vote_opened (vote " + strconv.Quote(f.VoteID) + ")"
	case rules.FactBallot:
		return "ballot (vote " + strconv.Quote(f.VoteID) + ", voter " + f.Voter + ", nonce " + strconv.FormatUint(f.Nonce, 10) + ")"
	}
	return string(f.Type) + " (node " + strconv.Quote(f.NodeID) + ")"
}

// depositOf is the deposit fact of a transfer block to one of a pool's
// accounts (docs/pools.md: the blocks on ic.ledger-blocks.v1).
func depositOf(m *schemas.Message, b *schemas.LedgerBlock) (*fact, error) {
	at, err := rules.ParseTime(b.Time)
	if err != nil {
		return nil, fmt.Errorf("time: %w", err)
	}
	if b.AmountE8s > math.MaxInt64 {
		return nil, fmt.Errorf("amount_e8s: must be at most %d, got %d", int64(math.MaxInt64), b.AmountE8s)
	}
	return &fact{Fact: rules.Fact{Type: rules.FactDeposit, At: at, BlockIndex: b.Index, To: b.To, From: b.From, AmountE8s: money.E8s(b.AmountE8s)},
		rank: rankDeposit, src: coordOf(m)}, nil
}

// poolFactOf is the rules' fact of a record of dao.pool-facts.v1. The
// rules check what depends on the pool (its state, the proposal id, the
// node, the vote, the voter's weight, a ballot's nonce against the voter's
// last); this checks what the record itself must hold, a ballot's
// signature and its key's ownership of the voter account included.
func poolFactOf(m *schemas.Message, pf *schemas.PoolFact, v Verifier) (*fact, error) {
	at, err := rules.ParseTime(pf.At)
	if err != nil {
		return nil, fmt.Errorf("at: %w", err)
	}
	f := rules.Fact{Type: rules.FactType(pf.Type), At: at}
	switch f.Type {
	case rules.FactProposalSubmitted, rules.FactProposalDecided:
		if pf.ProposalID == nil {
			return nil, fmt.Errorf("proposal_id: is required for %s", pf.Type)
		}
		f.ProposalID, f.Status = *pf.ProposalID, rules.ProposalStatus(pf.Status)
	case rules.FactNodeUp, rules.FactNodeDown:
		f.NodeID = pf.NodeID
	case rules.FactTick:
	case rules.FactVoteOpened:
		if pf.ThresholdBps == nil {
			return nil, fmt.Errorf("threshold_bps: is required for vote_opened")
		}
		closes, err := rules.ParseTime(pf.ClosesAt)
		if err != nil {
			return nil, fmt.Errorf("closes_at: %w", err)
		}
		f.VoteID, f.Kind, f.Subject, f.ClosesAt, f.ThresholdBps = pf.VoteID, rules.VoteKind(pf.Kind), pf.Subject, closes, money.Bps(*pf.ThresholdBps)
	case rules.FactBallot:
		if pf.Ballot == nil {
			return nil, fmt.Errorf("ballot: is required for a ballot fact (vote_id, voter, choice, nonce, public_key_der, signature)")
		}
		if err := checkBallot(pf, v); err != nil {
			return nil, err
		}
		b := pf.Ballot
		f.VoteID, f.Voter, f.Choice, f.Nonce = b.VoteID, b.Voter, rules.Choice(b.Choice), b.Nonce
	default:
		return nil, fmt.Errorf("type: must be one of proposal_submitted, proposal_decided, node_up, node_down, tick, vote_opened, ballot, got %q", pf.Type)
	}
	return &fact{Fact: f, rank: rankPoolFact, src: coordOf(m)}, nil
}

// termsOf is the rules' terms of a pool record's terms.
func termsOf(p *schemas.Pool) (rules.Terms, error) { return rules.TermsOf(*p) }

// checkBallot checks a signed ballot at the door: it carries a key and a
// signature, the key owns the voter account (its self-authenticating
// principal with the ballot's subaccount hashes to it), the nonce is set,
// and the signature over schemas.BallotMessage verifies. The reasons name
// the field: "signature" for unsigned or mis-signed, "voter" for a key
// that does not own the account.
func checkBallot(pf *schemas.PoolFact, v Verifier) error {
	b := pf.Ballot
	if b.Nonce == 0 {
		return fmt.Errorf("ballot.nonce: must be at least 1")
	}
	der, _, err := b.Owner()
	if err != nil {
		return fmt.Errorf("ballot.%w", err)
	}
	sig, err := b.BallotSignature()
	if err != nil {
		return fmt.Errorf("ballot.%w", err)
	}
	if err := v.Verify(der, b.Message(pf.DAO, pf.PoolID), sig); err != nil {
		return fmt.Errorf("ballot.signature: mis-signed: %v", err)
	}
	return nil
}
