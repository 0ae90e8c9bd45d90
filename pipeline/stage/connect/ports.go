package connect

import (
	"context"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/rates"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// The ports the connect stage reads its sources and writes its facts
// through. Each speaks schemas types; connectors/ic.ConnectSource
// (Governance, CMC, NRC), connectors/dashboard.ConnectSource (Dashboard)
// and connectors/kafka.Log (Log) fill them in production, in-memory fakes
// in the tests. A port returns the source's own error: the stage retries
// those that retry.Classify calls transient.

// Governance reads NNS Governance's node-provider reward events.
type Governance interface {
	// RewardEvents is one page of list_node_provider_rewards: the events
	// with a timestamp in [startSeconds, endSeconds] (nil end: open),
	// newest first. full reports a page as long as Governance returns, so
	// older events may follow below the page's oldest one.
	RewardEvents(ctx context.Context, startSeconds uint64, endSeconds *uint64) (page []schemas.RewardEvent, full bool, err error)
	// MostRecentRewardEvent is the newest reward event, nil when there is
	// none.
	MostRecentRewardEvent(ctx context.Context) (*schemas.RewardEvent, error)
}

// CMC reads the Cycles Minting Canister's certified ICP/XDR rates.
type CMC interface {
	// SpotRate is the latest rate (get_icp_xdr_conversion_rate).
	SpotRate(ctx context.Context) (schemas.CertifiedRate, error)
	// AverageRate is the 30-day average Governance pays with
	// (get_average_icp_xdr_conversion_rate).
	AverageRate(ctx context.Context) (schemas.CertifiedRate, error)
}

// NRC reads the Node Rewards Canister's per-node results.
type NRC interface {
	// NodeRewards is every node's result for one UTC day; a day the
	// canister has no results for comes back with Missing set, not as an
	// error.
	NodeRewards(ctx context.Context, day schemas.Date) (schemas.NodeRewardsDay, error)
}

// Dashboard reads the public dashboard's uncertified rate series, the
// second source the CMC's rates are cross-checked against.
type Dashboard interface {
	// SpotRates and AverageRates return the series within [start, end]
	// (zero times: the API's own window) and the provenance of the read.
	// They retry transient failures themselves.
	SpotRates(ctx context.Context, start, end time.Time) ([]rates.Point, schemas.Provenance, error)
	AverageRates(ctx context.Context, start, end time.Time) ([]rates.Point, schemas.Provenance, error)
}

// Ledger reads the ICP ledger's blocks, each proven against the ledger's
// certified tip (connectors/ic.LedgerSource).
type Ledger interface {
	// Canister is the ledger's canister id: the <ledger> of the keys on
	// ic.ledger-blocks.v1.
	Canister() string
	// ChainLength is the number of blocks as the ledger reports it (not
	// certified: a place to start reading, nothing more).
	ChainLength(ctx context.Context) (uint64, error)
	// ReadBlocks returns blocks [start, end) clipped to the chain, in index
	// order, and the length of the certified chain they were proven
	// against; prov names the ledger, query_blocks and the certificate's
	// time. A block that does not chain to the certified tip fails the
	// whole read: no block is returned.
	ReadBlocks(ctx context.Context, start, end uint64) (blocks []schemas.LedgerBlock, chainLength uint64, prov schemas.Provenance, err error)
}

// Proposals reads NNS Governance's proposals (get_proposal_info).
type Proposals interface {
	// ProposalDecision is proposal id's final outcome as a proposal_decided
	// fact (Type, ProposalID, Status adopted|rejected|failed, At; the stage
	// fills DAO and PoolID), or nil while the outcome may still change
	// (open, or adopted and not yet executed). A proposal Governance does
	// not know is an error.
	ProposalDecision(ctx context.Context, id uint64) (*schemas.PoolFact, schemas.Provenance, error)
}

// Prices reads ICP's price in a fiat currency from a public price API
// (connectors/prices.ConnectSource): uncertified, for the fiat value of
// transfers in reports, never for money.
type Prices interface {
	// Series is the source and currency of every price Prices returns:
	// the <source>/<currency> of their keys on ext.icp-fiat-prices.v1.
	Series() (source, currency string)
	// Prices returns the prices with a timestamp within [from, to]
	// (whole seconds), oldest first, and the provenance of the read. An
	// answer with a bad price is an error, not a partial list. It retries
	// transient failures itself.
	Prices(ctx context.Context, from, to time.Time) ([]schemas.FiatPrice, schemas.Provenance, error)
}

// Log is the event log: the facts are published through it once per key,
// and the stage reads back what is already there (the newest reward, the
// period weights already published).
type Log interface {
	stage.Publisher
	// ReadAll returns every record of topic from its first offset to its
	// end as the call starts, in (partition, offset) order.
	ReadAll(ctx context.Context, topic string) ([]schemas.Message, error)
}

// Ports are the stage's outside world. Governance, CMC and Log are
// required; a nil NRC, Dashboard, Ledger, Proposals or Prices is not
// polled. The
// pools' node facts need both NRC and Proposals (a node is watched from
// its pool's adoption on).
type Ports struct {
	Governance Governance
	CMC        CMC
	NRC        NRC
	Dashboard  Dashboard
	Ledger     Ledger
	Proposals  Proposals
	Prices     Prices
	Log        Log
	// Clock stamps fetch times and decides which days are complete (nil:
	// stage.SystemClock).
	Clock stage.Clock
}
