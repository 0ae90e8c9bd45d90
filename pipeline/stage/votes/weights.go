package votes

import (
	"context"
	"fmt"

	rules "github.com/nodeshare/nodeshare/pipeline/lifecycle"
)

// WeightStore reads a pool's weight report input from the audit trail
// (connectors/clickhouse.Store).
type WeightStore interface {
	PoolWeightInput(ctx context.Context, dao, pool string) (rules.WeightInput, bool, error)
}

// WeightReport is a pool's weight report (docs/governance.md): each
// sponsor's weight in a vote opened now, the cap, and sockpuppet hints
// from the ledger (deposits of different identities at most windowBlocks
// apart; 0: none).
func WeightReport(ctx context.Context, st WeightStore, dao, pool string, windowBlocks uint64) (rules.WeightReport, error) {
	in, found, err := st.PoolWeightInput(ctx, dao, pool)
	if err != nil {
		return rules.WeightReport{}, err
	}
	if !found {
		return rules.WeightReport{}, &Refused{Reason: fmt.Sprintf("pool %s/%s: no lifecycle state in the audit trail yet (is it a crowdfunded pool, and are process and sink running?)", dao, pool)}
	}
	in.WindowBlocks = windowBlocks
	return rules.Weights(in), nil
}
