package payout

import (
	"fmt"

	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/schemas"
)

// CheckConservation re-checks, from the stored rows of a period, that every
// pool period conserves its gross (gross = hoster fee + DAO fee + sponsor
// shares, the hoster's entitlement is the hoster fee) and every recipient's
// owed amount (owed = share + carry-in = transfer + fee + carry-out).
func CheckConservation(pools []schemas.PoolPeriod, ents []schemas.Entitlement) error {
	byPool := map[string]*[2]int64{} // shares, hoster
	for _, e := range ents {
		if e.TransferE8s+e.FeeE8s+e.CarryOutE8s != e.OwedE8s || e.ShareE8s+e.CarryInE8s != e.OwedE8s {
			return fmt.Errorf("conservation: %s %s %s %s: owed %d != share %d + carry-in %d or != transfer %d + fee %d + carry-out %d",
				e.Period, e.PoolID, e.Role, e.Recipient, e.OwedE8s, e.ShareE8s, e.CarryInE8s, e.TransferE8s, e.FeeE8s, e.CarryOutE8s)
		}
		t := byPool[e.PoolID]
		if t == nil {
			t = &[2]int64{}
			byPool[e.PoolID] = t
		}
		if entitle.IsHosterRole(e.Role) {
			t[1] += e.ShareE8s
		} else {
			t[0] += e.ShareE8s
		}
	}
	if len(pools) != len(byPool) {
		return fmt.Errorf("conservation: %d pool periods but entitlements for %d pools", len(pools), len(byPool))
	}
	for _, p := range pools {
		t := byPool[p.PoolID]
		if t == nil {
			return fmt.Errorf("conservation: pool %s has no entitlements", p.PoolID)
		}
		if t[1] != p.HosterFeeE8s || p.GrossE8s != p.HosterFeeE8s+p.DAOFeeE8s+t[0] {
			return fmt.Errorf("conservation: pool %s %s: gross %d != hoster %d + dao %d + shares %d (hoster entitlement %d)",
				p.PoolID, p.Period, p.GrossE8s, p.HosterFeeE8s, p.DAOFeeE8s, t[0], t[1])
		}
	}
	return nil
}
