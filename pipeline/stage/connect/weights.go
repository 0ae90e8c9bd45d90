package connect

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/nodeshare/nodeshare/schemas"
)

// periodWeights is each node's level-1 weight (docs/allocation.md, level 1;
// docs/connectors.md) for one reward period of one provider: the exact
// decimal sum of the node's NRC adjusted daily XDR permyriad over the
// period's days, truncated to a whole permyriad. days holds the NRC's
// answer for every day of the period. The result is sorted by node id and
// depends on nothing else: no clock, no map order. A value that does not
// parse, or a weight beyond int64, is left out and reported.
func periodWeights(np string, rewardTs uint64, from, to schemas.Date, days []schemas.NodeRewardsDay) ([]schemas.NodePeriodWeight, error) {
	var errs []error
	sums := map[string]decimal.Decimal{}
	count := map[string]int{}
	for _, d := range days {
		for _, n := range d.Nodes {
			if n.NodeProvider != np {
				continue
			}
			v, err := decimal.NewFromString(n.AdjustedXDRPermyriad)
			if err != nil {
				errs = append(errs, fmt.Errorf("nrc %s node %s: %w", d.Day, n.NodeID, err))
				continue
			}
			sums[n.NodeID] = sums[n.NodeID].Add(v)
			count[n.NodeID]++
		}
	}
	ids := make([]string, 0, len(sums))
	for id := range sums {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	rewardID := schemas.NodeRewardKey(np, rewardTs)
	var out []schemas.NodePeriodWeight
	for _, id := range ids {
		w := sums[id].Truncate(0)
		if !w.LessThan(decimal.NewFromInt(math.MaxInt64)) {
			errs = append(errs, fmt.Errorf("nrc weight of node %s overflows int64", id))
			continue
		}
		out = append(out, schemas.NodePeriodWeight{NodeProvider: np, RewardTimestampSeconds: rewardTs, RewardEventID: rewardID, NodeID: id,
			FromDay: from.String(), ToDay: to.String(), Days: len(days), DaysWithNode: count[id], AdjustedSum: sums[id].String(), WeightXDRPermyriad: w.IntPart()})
	}
	return out, errors.Join(errs...)
}
