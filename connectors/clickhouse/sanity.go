package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// What the payout stage's sanity gate reads (pipeline/stage/payout
// SanityStore): NNS rewards and the 30-day average rate as the sink
// stored them, and the releases.

// Reward returns the NNS reward with this event id (its key,
// <node provider>/<timestamp>), nil when it is not stored.
func (s *Store) Reward(ctx context.Context, eventID string) (*schemas.NodeReward, error) {
	out, err := queryPayloads[schemas.NodeReward](ctx, s, schemas.TypeNodeReward,
		`SELECT any(payload) FROM events_raw FINAL WHERE event_type = 'node_reward' AND key = ? GROUP BY key`, eventID)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return &out[0], nil
}

// PreviousReward returns the node provider's latest reward before
// timestampSeconds, nil when there is none.
func (s *Store) PreviousReward(ctx context.Context, nodeProvider string, timestampSeconds uint64) (*schemas.NodeReward, error) {
	out, err := queryPayloads[schemas.NodeReward](ctx, s, schemas.TypeNodeReward,
		`SELECT any(payload) FROM events_raw FINAL WHERE event_type = 'node_reward'
		   AND JSONExtractString(payload, 'node_provider') = ? AND JSONExtractUInt(payload, 'timestamp_seconds') < ?
		 GROUP BY JSONExtractUInt(payload, 'timestamp_seconds') ORDER BY JSONExtractUInt(payload, 'timestamp_seconds') DESC LIMIT 1`,
		nodeProvider, timestampSeconds)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return &out[0], nil
}

// Avg30Rate is the latest 30-day average ICP/XDR rate (XDR permyriad per
// ICP) at or before timestampSeconds and at most two days older; 0 when
// none is stored.
func (s *Store) Avg30Rate(ctx context.Context, timestampSeconds uint64) (int64, error) {
	var rate int64
	var n uint64
	err := s.conn.QueryRow(ctx, `SELECT argMax(xdr_permyriad_per_icp, timestamp_seconds), count() FROM raw_icp_xdr_rates_v1
		WHERE kind = 'avg30' AND timestamp_seconds <= ? AND timestamp_seconds + 172800 >= ?`, timestampSeconds, timestampSeconds).Scan(&rate, &n)
	if err != nil {
		return 0, fmt.Errorf("clickhouse: the 30-day average rate at %d: %w", timestampSeconds, err)
	}
	if n == 0 {
		return 0, nil
	}
	return rate, nil
}

// Releases returns the releases of a period.
func (s *Store) Releases(ctx context.Context, dao, period string) ([]schemas.PayoutRelease, error) {
	rows, err := s.conn.Query(ctx, `SELECT dao, period, holds_sha256, holds, reason, releaser, released_at
		FROM payout_releases FINAL WHERE dao = ? AND period = ? ORDER BY released_at`, dao, period)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read the releases of %s %s: %w", dao, period, err)
	}
	defer rows.Close()
	var out []schemas.PayoutRelease
	for rows.Next() {
		var r schemas.PayoutRelease
		var at time.Time
		if err := rows.Scan(&r.DAO, &r.Period, &r.HoldsSHA256, &r.Holds, &r.Reason, &r.Releaser, &at); err != nil {
			return nil, err
		}
		r.ReleasedAt = at.UTC().Format(time.RFC3339)
		out = append(out, r)
	}
	return out, rows.Err()
}

// InsertRelease stores a release, de-duplicated by token.
func (s *Store) InsertRelease(ctx context.Context, token string, r schemas.PayoutRelease, recordedAt time.Time) error {
	at, err := time.Parse(time.RFC3339, r.ReleasedAt)
	if err != nil {
		return fmt.Errorf("clickhouse: release of %s %s: released_at %q: %w", r.DAO, r.Period, r.ReleasedAt, err)
	}
	return s.insert(ctx, "payout_releases", token, [][]any{{r.DAO, r.Period, r.HoldsSHA256, r.Holds, r.Reason, r.Releaser, at, recordedAt}})
}
