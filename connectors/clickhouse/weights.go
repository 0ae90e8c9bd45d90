package clickhouse

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/schemas"
)

// PoolWeightInput reads what a pool's weight report needs from the audit
// trail: its latest terms (max_voting_bps, deposit account), its latest
// lifecycle state's sponsors, and the ledger blocks that moved ICP into a
// sponsor's account or from a sponsor to the pool's deposit account. It
// reports found false when the pool has no lifecycle state yet.
func (s *Store) PoolWeightInput(ctx context.Context, dao, pool string) (in lifecycle.WeightInput, found bool, err error) {
	pools, err := queryPayloads[schemas.Pool](ctx, s, schemas.TypePool, `SELECT payload FROM events_raw FINAL
		WHERE event_type = 'pool' AND JSONExtractString(payload, 'dao') = ? AND JSONExtractString(payload, 'pool_id') = ?
		ORDER BY kafka_time DESC, offset DESC LIMIT 1`, dao, pool)
	if err != nil {
		return in, false, fmt.Errorf("clickhouse: pool %s/%s: %w", dao, pool, err)
	}
	if len(pools) == 0 || pools[0].Terms == nil {
		return in, false, nil
	}
	terms := pools[0].Terms
	in.MaxVotingBps, in.DepositAccount = money.Bps(terms.MaxVotingBps), terms.DepositAccount

	var output string
	row := s.conn.QueryRow(ctx, `SELECT output FROM raw_pool_states_v1 WHERE dao = ? AND pool_id = ?
		ORDER BY kafka_time DESC, offset DESC LIMIT 1`, dao, pool)
	if err := row.Scan(&output); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return in, false, nil
		}
		return in, false, fmt.Errorf("clickhouse: pool %s/%s: latest state: %w", dao, pool, err)
	}
	var o struct {
		Sponsors []struct {
			Sponsor     string `json:"sponsor"`
			Identity    string `json:"identity"`
			AcceptedE8s int64  `json:"accepted_e8s"`
		} `json:"sponsors"`
	}
	if err := json.Unmarshal([]byte(output), &o); err != nil {
		return in, false, fmt.Errorf("clickhouse: pool %s/%s: state output: %w", dao, pool, err)
	}
	accounts := make([]string, 0, len(o.Sponsors))
	for _, sp := range o.Sponsors {
		in.Sponsors = append(in.Sponsors, lifecycle.Sponsor{Sponsor: sp.Sponsor, Identity: sp.Identity, AcceptedE8s: money.E8s(sp.AcceptedE8s)})
		accounts = append(accounts, sp.Sponsor)
	}
	if len(accounts) == 0 {
		return in, true, nil
	}
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT block_index, from_account, to_account, amount_e8s FROM raw_ledger_blocks_v1
		WHERE op = 'transfer' AND (to_account IN ? OR (to_account = ? AND from_account IN ?)) ORDER BY block_index`,
		accounts, in.DepositAccount, accounts)
	if err != nil {
		return in, false, fmt.Errorf("clickhouse: pool %s/%s: funding blocks: %w", dao, pool, err)
	}
	defer rows.Close()
	for rows.Next() {
		var b lifecycle.FundingBlock
		var amount uint64
		if err := rows.Scan(&b.Index, &b.From, &b.To, &amount); err != nil {
			return in, false, fmt.Errorf("clickhouse: scan block: %w", err)
		}
		b.AmountE8s = money.E8s(amount)
		in.Blocks = append(in.Blocks, b)
	}
	return in, true, rows.Err()
}
