package sink

import (
	"context"

	"github.com/nodeshare/nodeshare/schemas"
)

// Store is the audit trail as the sink writes it
// (connectors/clickhouse.Store in production, an in-memory store in the
// tests). Every Insert* is idempotent by its token: called again with the
// same token and rows, it stores nothing more.
type Store interface {
	// InsertRaw stores raw rows (events_raw), hash chain included.
	InsertRaw(ctx context.Context, token string, rows []schemas.RawEvent) error
	// ChainTip returns the row hash of the last stored raw row of (topic,
	// partition) below offset, or schemas.ChainGenesis when there is none.
	ChainTip(ctx context.Context, topic string, partition int, below int64) (string, error)
	InsertEntitlements(ctx context.Context, token string, rows []schemas.EntitlementRow) error
	InsertPoolPeriods(ctx context.Context, token string, rows []schemas.PoolPeriodRow) error
	InsertIntents(ctx context.Context, token string, rows []schemas.PayoutIntent) error
	InsertResults(ctx context.Context, token string, rows []schemas.ResultRow) error
	InsertDeadLetters(ctx context.Context, token string, rows []schemas.DeadLetter) error
}
