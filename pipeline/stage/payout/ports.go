package payout

import (
	"context"

	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/schemas"
)

// Store is where the payout workflow keeps its durable state and reads
// its inputs. Every Save returns only once the record is durable; a Save
// error means outcome unknown, and every Save is idempotent (same record,
// same effect), so the caller may retry it. connectors/clickhouse's
// PayoutStore writes the event log (Kafka) first, then ClickHouse; the
// deterministic simulation uses an in-memory store behind the same port.
type Store interface {
	Entitlements(ctx context.Context, dao, period string) ([]schemas.Entitlement, error)
	PoolPeriods(ctx context.Context, dao, period string) ([]schemas.PoolPeriod, error)
	// Periods lists the periods of dao that have pool periods (allocated).
	Periods(ctx context.Context, dao string) ([]string, error)
	// PoolTransfers are the lifecycle transfers of a pool
	// (dao.pool-lifecycle.v1), in any order; PoolIntents every intent of
	// the pool, whatever its period (a lifecycle plan leaves out the
	// transfers planned before).
	PoolTransfers(ctx context.Context, dao, pool string) ([]schemas.PoolTransfer, error)
	PoolIntents(ctx context.Context, dao, pool string) ([]schemas.PayoutIntent, error)
	// Manifest returns the stored manifest header, nil if none.
	Manifest(ctx context.Context, dao, period string) (*schemas.PayoutManifest, error)
	Intents(ctx context.Context, dao, period string) ([]schemas.PayoutIntent, error)
	Attempts(ctx context.Context, dao, period string) (map[string][]schemas.PayoutAttempt, error)
	Results(ctx context.Context, dao, period string) (map[string]schemas.PayoutResult, error)
	Approvals(ctx context.Context, manifestSHA256 string) ([]schemas.PayoutApproval, error)
	// PoolVotes are the votes of the pool's latest lifecycle state
	// (schemas.PoolState.Votes), nil when it has none: the sponsors'
	// approve_manifest votes (rules.SponsorsApproved).
	PoolVotes(ctx context.Context, dao, pool string) ([]schemas.PoolVote, error)
	SavePlan(ctx context.Context, h schemas.PayoutManifest, intents []schemas.PayoutIntent) error
	SaveAttempt(ctx context.Context, dao, period string, a schemas.PayoutAttempt) error
	SaveResult(ctx context.Context, r schemas.PayoutResult) error
	SaveApproval(ctx context.Context, a schemas.PayoutApproval) error
}

// Ledger is what a payout run needs from the ICP ledger, in the words of
// pipeline/payout/ledger.go: a failed Transfer is a *rules.Refusal (the
// ledger's certified answer) or a *rules.CallError (transport, signing,
// verification). connectors/ic.PayoutLedger implements it; its Transfer
// result comes only from a verified certificate.
type Ledger interface {
	Fee(ctx context.Context) (uint64, error)
	TreasuryBalance(ctx context.Context) (uint64, error)
	// TreasuryText is the ICRC-1 text of the account transfers come from.
	TreasuryText() string
	// AccountID is the legacy account identifier of an ICRC-1 account
	// text (blocks name accounts by it); an error if the text is invalid.
	AccountID(icrc1Text string) ([32]byte, error)
	Transfer(ctx context.Context, r rules.TransferRequest) (blockIndex uint64, err error)
	// QueryBlocks is one plain query_blocks page: the chain length, the
	// first block the ledger holds, and blocks to probe block times with.
	QueryBlocks(ctx context.Context, start, length uint64) (rules.BlocksPage, error)
	// ReadBlocks is every block in [start, end), each proven by the hash
	// chain up to the ledger's certified tip (archives followed).
	ReadBlocks(ctx context.Context, start, end uint64) ([]rules.Block, error)
}
