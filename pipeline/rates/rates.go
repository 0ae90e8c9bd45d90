package rates

import (
	"errors"
	"sort"
)

// Observation is one spot rate.
type Observation struct {
	TimestampSeconds   uint64
	XDRPermyriadPerICP int64
}

const day = 86_400

// Days is the number of days averaged.
const Days = 30

// Average30 returns the 30-day average as of asOf (seconds) from the
// observations at or before asOf, and how many days had a rate.
func Average30(obs []Observation, asOf uint64) (avg int64, days int, err error) {
	daily := map[uint64]Observation{}
	for _, o := range obs {
		if o.TimestampSeconds > asOf {
			continue
		}
		if o.XDRPermyriadPerICP <= 0 {
			return 0, 0, errors.New("rates: xdr_permyriad_per_icp must be > 0")
		}
		d := o.TimestampSeconds / day
		if cur, ok := daily[d]; !ok || o.TimestampSeconds > cur.TimestampSeconds ||
			(o.TimestampSeconds == cur.TimestampSeconds && o.XDRPermyriadPerICP > cur.XDRPermyriadPerICP) {
			daily[d] = o
		}
	}
	last := asOf / day
	var keys []uint64
	for d := range daily {
		if d+Days > last {
			keys = append(keys, d)
		}
	}
	if len(keys) == 0 {
		return 0, 0, errors.New("rates: no observation in the 30 days before the instant")
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var sum int64
	for _, d := range keys {
		sum += daily[d].XDRPermyriadPerICP // 30 rates of at most 2^63/30: checked by the caller's bounds
	}
	return sum / int64(len(keys)), len(keys), nil
}

// NNSRate applies the minimum rate floor; minimumICPXDRRate is the NNS
// parameter (100 means 1 XDR per ICP), the result is in XDR permyriad.
func NNSRate(avg int64, minimumICPXDRRate int64) int64 {
	if floor := minimumICPXDRRate * 100; avg < floor {
		return floor
	}
	return avg
}
