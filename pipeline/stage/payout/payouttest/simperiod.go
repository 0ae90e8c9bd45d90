package payouttest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/schemas"
)

// SimPeriod builds n entitlements of one pool (a hoster and n-1 sponsors
// with random opaque principals) with consistent pool-period totals and
// allocation input, each owing more than fee.
func SimPeriod(rng *rand.Rand, dao, period string, n int, fee int64) ([]schemas.Entitlement, []schemas.PoolPeriod) {
	acct := func() string {
		var raw [28]byte
		for i := range raw {
			raw[i] = byte(rng.IntN(256))
		}
		_ = rng.IntN(256) // the class byte's draw: seeds keep their schedules
		return schemas.OpaqueAccountText(raw)
	}
	poolHash := fmt.Sprintf("%064x", rng.Uint64())
	pp := schemas.PoolPeriod{DAO: dao, Period: period, PoolID: "pool-sim", RulesVersion: "v1", ManifestSHA256: poolHash, DAOFeeE8s: 12345}
	var input struct {
		Hoster struct {
			Account string `json:"account"`
		} `json:"hoster"`
		Contributions []map[string]string `json:"contributions"`
	}
	var ents []schemas.Entitlement
	var shares int64
	for i := 0; i < n; i++ {
		owed := fee + 1 + rng.Int64N(50_0000_0000)
		e := schemas.Entitlement{DAO: dao, Period: period, PoolID: pp.PoolID, Recipient: acct(), Role: entitle.RoleSponsor, RulesVersion: "v1",
			ShareE8s: owed, OwedE8s: owed, TransferE8s: owed - fee, FeeE8s: fee, ManifestSHA256: poolHash}
		if i == 0 {
			e.Role = entitle.RoleHoster
			pp.HosterFeeE8s = owed
			input.Hoster.Account = e.Recipient
		} else {
			shares += owed
			input.Contributions = append(input.Contributions, map[string]string{"sponsor": e.Recipient})
		}
		ents = append(ents, e)
	}
	pp.GrossE8s = pp.HosterFeeE8s + pp.DAOFeeE8s + shares
	b, _ := json.Marshal(input)
	pp.InputJSON = string(b)
	return ents, []schemas.PoolPeriod{pp}
}
