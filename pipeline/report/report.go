// Package report builds finance's report of payout manifests, pure: one
// line per transfer with everything that explains its amount (owed, carry,
// stake, share, rules version), its ledger evidence (block, block time,
// attempts, who verified it) and its value in XDR and in a fiat currency
// at the block time; a line per pool; and a walk of the paying account's
// balance through the period. It never guesses a value: where no rate or
// price is known close enough before the block time, the value is empty
// and the line says why (docs/finance.md). No I/O: the report stage
// (pipeline/stage/report) reads the inputs.
package report

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/money"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/reconcile"
	"github.com/nodeshare/nodeshare/schemas"
)

// Account is an account in both written forms ("" ICRC1 when it is known
// only by its account identifier).
type Account struct {
	ICRC1 string `json:"icrc1"`
	ID    string `json:"account_id"`
}

// Line is one transfer of a manifest.
type Line struct {
	DAO          string  `json:"dao"`
	Period       string  `json:"period"`
	PoolID       string  `json:"pool_id"`
	Role         string  `json:"role"`
	Recipient    Account `json:"recipient"`
	Treasury     Account `json:"treasury"`
	OwedE8s      int64   `json:"owed_e8s"`
	TransferE8s  int64   `json:"transfer_e8s"`
	FeeE8s       int64   `json:"fee_e8s"`
	DebitE8s     int64   `json:"debit_e8s"`
	CarryInE8s   int64   `json:"carry_in_e8s"`
	CarryOutE8s  int64   `json:"carry_out_e8s"`
	StakeE8s     int64   `json:"stake_e8s"`
	ShareE8s     int64   `json:"share_e8s"`
	RulesVersion string  `json:"rules_version"`
	IntentID     string  `json:"intent_id"`
	MemoHex      string  `json:"memo_hex"`
	// CreatedAtNanos is the created_at_time of the attempt that was paid
	// (the last one).
	CreatedAtNanos uint64  `json:"created_at_nanos"`
	Attempts       int     `json:"attempts"`
	Status         string  `json:"status"`
	VerifiedBy     string  `json:"verified_by"`
	BlockIndex     *uint64 `json:"block_index"`
	BlockTime      string  `json:"block_time"`
	// XDRPermyriadPerICP is the CMC rate in force at the block time (the
	// latest at or before it), RateTime its time.
	XDRPermyriadPerICP *int64 `json:"xdr_permyriad_per_icp"`
	RateTime           string `json:"rate_time"`
	// ValueXDR and ValueFiat are the transfer's value at the block time
	// (8 and 6 decimals, truncated); empty with a Note when not known.
	ValueXDR        string `json:"value_xdr"`
	FiatCurrency    string `json:"fiat_currency"`
	FiatPriceMicros *int64 `json:"fiat_price_micros"`
	PriceTime       string `json:"price_time"`
	ValueFiat       string `json:"value_fiat"`
	Note            string `json:"note"`
}

// PoolLine is one pool's period: what the NNS minted for it and where it
// went.
type PoolLine struct {
	PoolID           string `json:"pool_id"`
	RewardEventID    string `json:"reward_event_id"`
	RulesVersion     string `json:"rules_version"`
	GrossE8s         int64  `json:"gross_e8s"`
	HosterFeeE8s     int64  `json:"hoster_fee_e8s"`
	DAOFeeE8s        int64  `json:"dao_fee_e8s"`
	DistributableE8s int64  `json:"distributable_e8s"`
	TransfersE8s     int64  `json:"transfers_e8s"`
	FeesE8s          int64  `json:"fees_e8s"`
	CarriedE8s       int64  `json:"carried_e8s"`
	Whale            string `json:"whale"`
}

// Walk is the paying account's balance through the period's blocks:
// Opening + MintIn + OtherIn - TransfersOut - FeesOut - OtherOut = Closing,
// from the block before FromBlock to ToBlock. What the period leaves in
// the account (the DAO fee, amounts carried) is listed beside it.
type Walk struct {
	Account         Account `json:"account"`
	FromBlock       *uint64 `json:"from_block"`
	ToBlock         *uint64 `json:"to_block"`
	OpeningE8s      uint64  `json:"opening_e8s"`
	MintInE8s       uint64  `json:"mint_in_e8s"`
	OtherInE8s      uint64  `json:"other_in_e8s"`
	TransfersOutE8s uint64  `json:"transfers_out_e8s"`
	FeesOutE8s      uint64  `json:"fees_out_e8s"`
	OtherOutE8s     uint64  `json:"other_out_e8s"`
	ClosingE8s      uint64  `json:"closing_e8s"`
	DAOFeeKeptE8s   int64   `json:"dao_fee_kept_e8s"`
	CarriedE8s      int64   `json:"carried_e8s"`
}

// Period is one manifest's report.
type Period struct {
	Period         string                 `json:"period"`
	ManifestSHA256 string                 `json:"manifest_sha256"`
	RulesVersion   string                 `json:"rules_version"`
	Reconciliation reconcile.State        `json:"reconciliation"`
	Differences    []reconcile.Difference `json:"differences"`
	Lines          []Line                 `json:"lines"`
	Pools          []PoolLine             `json:"pools"`
	Walk           Walk                   `json:"treasury_walk"`
}

// Report is the report of a DAO's manifests.
type Report struct {
	DAO      string   `json:"dao"`
	Currency string   `json:"fiat_currency"`
	Periods  []Period `json:"periods"`
}

// PeriodInput is one manifest and its evidence.
type PeriodInput struct {
	Manifest     schemas.PayoutManifest
	Intents      []schemas.PayoutIntent
	Results      map[string]schemas.PayoutResult
	Attempts     map[string][]schemas.PayoutAttempt
	Entitlements []schemas.Entitlement  // a reward period
	Transfers    []schemas.PoolTransfer // a lifecycle period
	Pools        []schemas.PoolPeriod
	Source       Account
	// Recon is the manifest's reconciliation (its Matches give each
	// intent's block).
	Recon reconcile.Result
	// Blocks are the paying account's known blocks, in index order.
	Blocks []schemas.LedgerBlock
}

// Prices are the series a report values transfers with.
type Prices struct {
	Rates    []schemas.Rate      // CMC rates (spot)
	Fiat     []schemas.FiatPrice // of Currency
	Currency string
	// RateMaxAge and PriceMaxAge bound how old the latest rate or price
	// before a block may be (defaults 24 h and 1 h).
	RateMaxAge, PriceMaxAge time.Duration
}

// Build reports the periods, in the order given. recipientID maps an
// ICRC-1 recipient to its account identifier.
func Build(dao string, periods []PeriodInput, prices Prices, recipientID func(string) (string, error)) (Report, error) {
	if prices.RateMaxAge == 0 {
		prices.RateMaxAge = 24 * time.Hour
	}
	if prices.PriceMaxAge == 0 {
		prices.PriceMaxAge = time.Hour
	}
	rates := append([]schemas.Rate(nil), prices.Rates...)
	sort.Slice(rates, func(i, j int) bool { return rates[i].TimestampSeconds < rates[j].TimestampSeconds })
	fiat := append([]schemas.FiatPrice(nil), prices.Fiat...)
	sort.Slice(fiat, func(i, j int) bool { return fiat[i].TimestampSeconds < fiat[j].TimestampSeconds })
	out := Report{DAO: dao, Currency: prices.Currency, Periods: []Period{}}
	for _, in := range periods {
		p, err := buildPeriod(in, rates, fiat, prices, recipientID)
		if err != nil {
			return out, err
		}
		out.Periods = append(out.Periods, p)
	}
	return out, nil
}

func buildPeriod(in PeriodInput, rates []schemas.Rate, fiat []schemas.FiatPrice, prices Prices, recipientID func(string) (string, error)) (Period, error) {
	h := in.Manifest
	p := Period{Period: h.Period, ManifestSHA256: h.SHA256, RulesVersion: h.RulesVersion, Reconciliation: in.Recon.State,
		Differences: in.Recon.Differences, Lines: []Line{}, Pools: []PoolLine{}}
	if p.Differences == nil {
		p.Differences = []reconcile.Difference{}
	}
	ents := map[string]schemas.Entitlement{}
	for _, e := range in.Entitlements {
		id := rules.IntentID(e.DAO, e.Period, e.PoolID, e.Role, e.Recipient)
		ents[fmt.Sprintf("%x", id[:])] = e
	}
	transfers := map[string]schemas.PoolTransfer{}
	for _, t := range in.Transfers {
		id := rules.LifecycleIntentID(t.DAO, t.PoolID, t.Seq)
		transfers[fmt.Sprintf("%x", id[:])] = t
	}
	blocks := map[string]*schemas.LedgerBlock{}
	for _, m := range in.Recon.Matches {
		blocks[m.Intent.IntentID] = m.Block
	}
	intents := append([]schemas.PayoutIntent(nil), in.Intents...)
	sort.Slice(intents, func(i, j int) bool {
		a, b := intents[i], intents[j]
		if a.PoolID != b.PoolID {
			return a.PoolID < b.PoolID
		}
		if a.Role != b.Role {
			return a.Role < b.Role
		}
		return a.Recipient < b.Recipient
	})
	perPool := map[string][2]int64{}
	for _, it := range intents {
		l := Line{DAO: it.DAO, Period: it.Period, PoolID: it.PoolID, Role: it.Role, Treasury: in.Source, TransferE8s: it.AmountE8s,
			FeeE8s: it.FeeE8s, DebitE8s: it.AmountE8s + it.FeeE8s, RulesVersion: h.RulesVersion, IntentID: it.IntentID, MemoHex: it.MemoHex,
			CreatedAtNanos: it.CreatedAtNanos, Attempts: 1, Status: "pending", FiatCurrency: prices.Currency}
		if rules.IsAccountIdentifier(it.Recipient) {
			l.Recipient = Account{ID: it.Recipient}
		} else {
			id, err := recipientID(it.Recipient)
			if err != nil {
				return p, fmt.Errorf("report %s %s: intent %s: recipient %q: %w", it.DAO, it.Period, it.IntentID, it.Recipient, err)
			}
			l.Recipient = Account{ICRC1: it.Recipient, ID: id}
		}
		if e, ok := ents[it.IntentID]; ok {
			l.OwedE8s, l.CarryInE8s, l.CarryOutE8s, l.StakeE8s, l.ShareE8s, l.RulesVersion = e.OwedE8s, e.CarryInE8s, e.CarryOutE8s, e.StakeE8s, e.ShareE8s, e.RulesVersion
		} else if t, ok := transfers[it.IntentID]; ok {
			l.OwedE8s = t.GrossE8s
		}
		if atts := in.Attempts[it.IntentID]; len(atts) > 0 {
			last := atts[0]
			for _, a := range atts {
				if a.Attempt > last.Attempt {
					last = a
				}
			}
			l.Attempts, l.CreatedAtNanos = last.Attempt+1, last.CreatedAtNanos
		}
		if r, ok := in.Results[it.IntentID]; ok {
			l.Status, l.VerifiedBy = r.Status, r.VerifiedBy
		}
		if b := blocks[it.IntentID]; b != nil {
			idx := b.Index
			l.BlockIndex, l.BlockTime = &idx, b.Time
			l.value(time.Unix(0, int64(b.TimestampNanos)), rates, fiat, prices)
		} else {
			l.Note = "no block carries this transfer yet"
		}
		pp := perPool[it.PoolID]
		pp[0] += it.AmountE8s
		pp[1] += it.FeeE8s
		perPool[it.PoolID] = pp
		p.Lines = append(p.Lines, l)
	}
	var daoFee int64
	for _, pl := range in.Pools {
		var carried int64
		for _, e := range in.Entitlements {
			if e.PoolID == pl.PoolID {
				carried += e.CarryOutE8s
			}
		}
		p.Pools = append(p.Pools, PoolLine{PoolID: pl.PoolID, RewardEventID: pl.RewardEventID, RulesVersion: pl.RulesVersion, GrossE8s: pl.GrossE8s,
			HosterFeeE8s: pl.HosterFeeE8s, DAOFeeE8s: pl.DAOFeeE8s, DistributableE8s: pl.DistributableE8s,
			TransfersE8s: perPool[pl.PoolID][0], FeesE8s: perPool[pl.PoolID][1], CarriedE8s: carried, Whale: pl.Whale})
		daoFee += pl.DAOFeeE8s
	}
	sort.Slice(p.Pools, func(i, j int) bool { return p.Pools[i].PoolID < p.Pools[j].PoolID })
	var gross int64
	for _, pl := range in.Pools {
		gross += pl.GrossE8s
	}
	p.Walk = walk(in, blocks, gross)
	p.Walk.DAOFeeKeptE8s, p.Walk.CarriedE8s = daoFee, h.CarriedE8s
	return p, nil
}

// value fills the line's rate, price and values at block time at.
func (l *Line) value(at time.Time, rates []schemas.Rate, fiat []schemas.FiatPrice, prices Prices) {
	var notes []string
	if r, ok := latest(len(rates), func(i int) uint64 { return rates[i].TimestampSeconds }, at, prices.RateMaxAge); ok {
		rate := rates[r].XDRPermyriadPerICP
		l.XDRPermyriadPerICP = &rate
		l.RateTime = time.Unix(int64(rates[r].TimestampSeconds), 0).UTC().Format(time.RFC3339)
		// XDR in e8s of an XDR: amount * rate / 10^4, truncated.
		l.ValueXDR = money.FormatICP(money.E8s(mulDiv(l.TransferE8s, rate, 10_000)))
	} else {
		notes = append(notes, fmt.Sprintf("no ICP/XDR rate within %s before the block time", prices.RateMaxAge))
	}
	if prices.Currency != "" {
		if f, ok := latest(len(fiat), func(i int) uint64 { return fiat[i].TimestampSeconds }, at, prices.PriceMaxAge); ok {
			price := fiat[f].PriceMicros
			l.FiatPriceMicros = &price
			l.PriceTime = time.Unix(int64(fiat[f].TimestampSeconds), 0).UTC().Format(time.RFC3339)
			// Fiat micro-units: amount (e8s) * price (micros per ICP) / 10^8.
			l.ValueFiat = formatMicros(mulDiv(l.TransferE8s, price, 100_000_000))
		} else {
			notes = append(notes, fmt.Sprintf("no %s price within %s before the block time", strings.ToUpper(prices.Currency), prices.PriceMaxAge))
		}
	}
	l.Note = strings.Join(notes, "; ")
}

// latest is the index of the last point at or before at and not older
// than maxAge (points sorted by time).
func latest(n int, ts func(int) uint64, at time.Time, maxAge time.Duration) (int, bool) {
	sec := at.Unix()
	i := sort.Search(n, func(i int) bool { return int64(ts(i)) > sec }) - 1
	if i < 0 || sec-int64(ts(i)) > int64(maxAge/time.Second) {
		return 0, false
	}
	return i, true
}

// mulDiv is a * b / d, truncated, without overflow.
func mulDiv(a, b, d int64) int64 {
	x := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	return x.Quo(x, big.NewInt(d)).Int64()
}

// formatMicros writes micro-units as a decimal with 6 places.
func formatMicros(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%06d", sign, v/1_000_000, v%1_000_000)
}

// walk is the paying account's balance through the period: from the
// NNS mint of the period's reward (the last mint of the reward's gross
// before the first transfer) to the period's last transfer.
func walk(in PeriodInput, matched map[string]*schemas.LedgerBlock, gross int64) Walk {
	w := Walk{Account: in.Source}
	own := map[uint64]bool{}
	var lo, hi uint64
	found := false
	for _, b := range matched {
		if b == nil {
			continue
		}
		own[b.Index] = true
		if !found || b.Index < lo {
			lo = b.Index
		}
		if !found || b.Index > hi {
			hi = b.Index
		}
		found = true
	}
	if !found {
		return w
	}
	if gross > 0 {
		for i := len(in.Blocks) - 1; i >= 0; i-- {
			b := in.Blocks[i]
			if b.Index < lo && b.Op == "mint" && b.To == in.Source.ID && int64(b.AmountE8s) == gross {
				lo = b.Index
				break
			}
		}
	}
	w.FromBlock, w.ToBlock = &lo, &hi
	for _, b := range in.Blocks {
		in_, out := reconcile.Flow(in.Source.ID, b)
		switch {
		case b.Index < lo:
			w.OpeningE8s += in_
			w.OpeningE8s -= min(out, w.OpeningE8s)
		case b.Index <= hi:
			switch {
			case own[b.Index]:
				w.TransfersOutE8s += b.AmountE8s
				w.FeesOutE8s += b.FeeE8s
			case b.Op == "mint" && in_ > 0:
				w.MintInE8s += in_
			default:
				w.OtherInE8s += in_
				w.OtherOutE8s += out
			}
		}
	}
	w.ClosingE8s = w.OpeningE8s + w.MintInE8s + w.OtherInE8s - w.TransfersOutE8s - w.FeesOutE8s - w.OtherOutE8s
	return w
}
