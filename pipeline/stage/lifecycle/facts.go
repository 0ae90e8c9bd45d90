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
// node); this checks what the record itself must hold.
func poolFactOf(m *schemas.Message, pf *schemas.PoolFact) (*fact, error) {
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
	default:
		return nil, fmt.Errorf("type: must be one of proposal_submitted, proposal_decided, node_up, node_down, tick, got %q", pf.Type)
	}
	return &fact{Fact: f, rank: rankPoolFact, src: coordOf(m)}, nil
}

// termsOf is the rules' terms of a pool record's terms.
func termsOf(p *schemas.Pool) (rules.Terms, error) { return rules.TermsOf(*p) }
