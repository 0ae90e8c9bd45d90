package sink

import (
	"context"
	"fmt"
	"sort"

	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
	"github.com/nodeshare/nodeshare/schemas"
)

// chainTip is the last row this sink stored for a (topic, partition).
type chainTip struct {
	offset int64
	hash   string
}

type chainKey struct {
	topic     string
	partition int
}

type chainTips map[chainKey]chainTip

// chain fills prev_hash and row_hash of raw rows: per (topic, partition)
// in offset order, starting from the last stored row below the rows (the
// sink's own last row when the rows follow it directly, else asked of the
// store). The hashes depend only on the rows, so a redelivered batch gets
// the same ones. It returns the new tips, to remember once stored.
func (s *sink) chain(ctx context.Context, tips chainTips, raws []schemas.RawEvent) (chainTips, error) {
	idx := map[chainKey][]int{}
	var order []chainKey
	for i, r := range raws {
		k := chainKey{r.Topic, r.Partition}
		if _, ok := idx[k]; !ok {
			order = append(order, k)
		}
		idx[k] = append(idx[k], i)
	}
	next := chainTips{}
	for _, k := range order {
		is := idx[k]
		byOffset := func(a, b int) bool { return raws[is[a]].Offset < raws[is[b]].Offset }
		if !sort.SliceIsSorted(is, byOffset) { // batches come in offset order
			sort.Slice(is, byOffset)
		}
		first := raws[is[0]].Offset
		var prev string
		if tip, ok := tips[k]; ok && tip.offset == first-1 {
			prev = tip.hash
		} else {
			err := retry.Do(ctx, s.policy, func(ctx context.Context) error {
				var err error
				prev, err = s.store.ChainTip(ctx, k.topic, k.partition, first)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("chain of %s/%d: %w", k.topic, k.partition, err)
			}
		}
		for _, i := range is {
			raws[i].PrevHash = prev
			if !raws[i].HasDigest {
				raws[i].Digest, raws[i].HasDigest = schemas.ChainDigest(raws[i].ChainRow()), true
			}
			raws[i].RowHash = schemas.ChainLink(prev, raws[i].Digest)
			prev = raws[i].RowHash
		}
		last := raws[is[len(is)-1]]
		next[k] = chainTip{offset: last.Offset, hash: last.RowHash}
	}
	return next, nil
}
