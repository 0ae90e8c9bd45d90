package entitle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/allocation"
	"github.com/nodeshare/nodeshare/pipeline/money"
)

// The allocate contract's JSON (ALLOCATION_RULES "The nodeshare allocate
// contract"), kept with each pool period so an auditor can run
// `nodeshare allocate --in` on the stored input and compare the manifest.

type contractHoster struct {
	Account           string `json:"account"`
	FixedXDRPermyriad int64  `json:"fixed_xdr_permyriad"`
	Bps               int64  `json:"bps"`
	CarryInE8s        int64  `json:"carry_in_e8s"`
}

type contractContribution struct {
	ID        string `json:"id"`
	Sponsor   string `json:"sponsor"`
	AmountE8s int64  `json:"amount_e8s"`
	At        string `json:"at"`
}

type contractInput struct {
	PoolID             string                 `json:"pool_id"`
	Period             string                 `json:"period"`
	GrossE8s           int64                  `json:"gross_e8s"`
	XDRPermyriadPerICP int64                  `json:"xdr_permyriad_per_icp"`
	Hoster             contractHoster         `json:"hoster"`
	DAOFeeBps          int64                  `json:"dao_fee_bps"`
	WhalePremiumBps    int64                  `json:"whale_premium_bps"`
	LedgerFeeE8s       int64                  `json:"ledger_fee_e8s"`
	MinPayoutE8s       int64                  `json:"min_payout_e8s"`
	Contributions      []contractContribution `json:"contributions"`
	CarryIn            map[string]int64       `json:"carry_in"`
}

func encodeInput(in allocation.PoolPeriod) ([]byte, error) {
	c := contractInput{
		PoolID: in.PoolID, Period: in.Period, GrossE8s: int64(in.GrossE8s), XDRPermyriadPerICP: int64(in.RateXDRPermyriadPerICP),
		Hoster: contractHoster{Account: in.Hoster.Account, FixedXDRPermyriad: int64(in.Hoster.FixedXDRPermyriad),
			Bps: int64(in.Hoster.FeeBps), CarryInE8s: int64(in.Hoster.CarryInE8s)},
		DAOFeeBps: int64(in.DAOFeeBps), WhalePremiumBps: int64(in.WhalePremiumBps),
		LedgerFeeE8s: int64(in.LedgerFeeE8s), MinPayoutE8s: int64(in.MinPayoutE8s),
		Contributions: []contractContribution{}, CarryIn: map[string]int64{},
	}
	for _, x := range in.Contributions {
		c.Contributions = append(c.Contributions, contractContribution{ID: x.ID, Sponsor: x.Sponsor,
			AmountE8s: int64(x.AmountE8s), At: x.At.UTC().Format(time.RFC3339Nano)})
	}
	sort.Slice(c.Contributions, func(i, j int) bool { return c.Contributions[i].ID < c.Contributions[j].ID })
	for k, v := range in.CarryIn {
		c.CarryIn[k] = int64(v)
	}
	return json.Marshal(c) // encoding/json sorts map keys: deterministic
}

func encodeResult(r allocation.PoolResult) ([]byte, error) {
	var b bytes.Buffer
	if err := allocation.EncodeResultJSON(&b, r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// explain is a one-line statement per recipient, keyed "role:account".
func explain(r allocation.PoolResult) map[string]string {
	out := map[string]string{}
	h := r.Hoster
	out[RoleHoster+":"+h.Account] = fmt.Sprintf("hoster fee %s ICP (fixed %d XDR permyriad at %d permyriad/ICP + %d bps of gross %s ICP), carry-in %s, %s",
		money.FormatICP(r.HosterFeeE8s), r.HosterFixedXDRPermyriad, r.RateXDRPermyriadPerICP, r.HosterFeeBps, money.FormatICP(r.GrossE8s),
		money.FormatICP(h.CarryInE8s), settle(h.Payout))
	for _, s := range r.Shares {
		why := "pro rata share of the distributable " + money.FormatICP(r.DistributableE8s) + " ICP"
		switch {
		case s.Sponsor == r.Whale:
			why = fmt.Sprintf("whale premium %d bps of the distributable (%s ICP, above its pro-rata %s ICP)", r.WhalePremiumBps, money.FormatICP(r.PremiumE8s), money.FormatICP(r.WhaleProRataE8s))
		case r.Whale != "":
			why = "pro rata share of the distributable less the whale premium"
		case s.Sponsor == r.WhaleCandidate && r.WhalePremiumBps > 0:
			why += fmt.Sprintf(" (largest stake, but the premium %s ICP is not above its pro-rata %s ICP)", money.FormatICP(r.PremiumE8s), money.FormatICP(r.WhaleProRataE8s))
		}
		out[RoleSponsor+":"+s.Sponsor] = fmt.Sprintf("stake %s ICP of %s ICP; %s: %s ICP; carry-in %s; %s",
			money.FormatICP(s.StakeE8s), formatE8sU(r.StakeTotalE8s), why, money.FormatICP(s.ShareE8s), money.FormatICP(s.CarryInE8s),
			settle(allocation.Payout{OwedE8s: s.OwedE8s(), TransferE8s: s.TransferE8s, FeeE8s: s.FeeE8s, CarryOutE8s: s.CarryOutE8s}))
	}
	return out
}

func settle(p allocation.Payout) string {
	if p.TransferE8s > 0 {
		return fmt.Sprintf("owed %s ICP: transfer %s ICP, ledger fee %s ICP borne by the recipient", money.FormatICP(p.OwedE8s), money.FormatICP(p.TransferE8s), money.FormatICP(p.FeeE8s))
	}
	return fmt.Sprintf("owed %s ICP is below the minimum payout plus fee: carried forward", money.FormatICP(p.OwedE8s))
}

func formatE8sU(v uint64) string {
	if v <= uint64(money.MaxE8s) {
		return money.FormatICP(money.E8s(v))
	}
	return fmt.Sprintf("%d e8s", v)
}
