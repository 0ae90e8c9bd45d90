package report

import (
	"embed"
	"encoding/csv"
	"encoding/json"
	"html/template"
	"io"
	"strconv"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// WriteJSON writes the report as indented JSON (the canonical form; CSV
// and HTML show the same numbers).
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// csvHeader is the CSV's columns: every record kind in one table, the
// first column naming the kind (transfer, pool, treasury); a column that
// does not apply to a kind is empty.
var csvHeader = []string{"record", "dao", "period", "pool_id", "role",
	"recipient_icrc1", "recipient_account_id", "treasury_icrc1", "treasury_account_id",
	"owed_e8s", "transfer_e8s", "fee_e8s", "debit_e8s", "carry_in_e8s", "carry_out_e8s", "stake_e8s", "share_e8s",
	"rules_version", "intent_id", "memo_hex", "created_at_nanos", "attempts", "status", "verified_by",
	"block_index", "block_time", "xdr_permyriad_per_icp", "rate_time", "value_xdr", "fiat_currency", "fiat_price_micros", "price_time", "value_fiat", "note",
	"reward_event_id", "gross_e8s", "hoster_fee_e8s", "dao_fee_e8s", "distributable_e8s", "fees_e8s", "carried_e8s", "whale",
	"from_block", "to_block", "opening_e8s", "mint_in_e8s", "other_in_e8s", "transfers_out_e8s", "fees_out_e8s", "other_out_e8s", "closing_e8s",
	"dao_fee_kept_e8s", "reconciliation", "manifest_sha256"}

// WriteCSV writes the report as one CSV table (csvHeader).
func WriteCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	u64 := func(v uint64) string { return strconv.FormatUint(v, 10) }
	opt := func(v *uint64) string {
		if v == nil {
			return ""
		}
		return u64(*v)
	}
	opti := func(v *int64) string {
		if v == nil {
			return ""
		}
		return i64(*v)
	}
	for _, p := range r.Periods {
		for _, l := range p.Lines {
			row := make([]string, len(csvHeader))
			copy(row, []string{"transfer", l.DAO, l.Period, l.PoolID, l.Role, l.Recipient.ICRC1, l.Recipient.ID, l.Treasury.ICRC1, l.Treasury.ID,
				i64(l.OwedE8s), i64(l.TransferE8s), i64(l.FeeE8s), i64(l.DebitE8s), i64(l.CarryInE8s), i64(l.CarryOutE8s), i64(l.StakeE8s), i64(l.ShareE8s),
				l.RulesVersion, l.IntentID, l.MemoHex, u64(l.CreatedAtNanos), strconv.Itoa(l.Attempts), l.Status, l.VerifiedBy,
				opt(l.BlockIndex), l.BlockTime, opti(l.XDRPermyriadPerICP), l.RateTime, l.ValueXDR, l.FiatCurrency, opti(l.FiatPriceMicros), l.PriceTime, l.ValueFiat, l.Note})
			row[len(row)-2], row[len(row)-1] = string(p.Reconciliation), p.ManifestSHA256
			_ = cw.Write(row)
		}
		for _, pl := range p.Pools {
			row := make([]string, len(csvHeader))
			row[0], row[1], row[2], row[3], row[17] = "pool", r.DAO, p.Period, pl.PoolID, pl.RulesVersion
			copy(row[34:], []string{pl.RewardEventID, i64(pl.GrossE8s), i64(pl.HosterFeeE8s), i64(pl.DAOFeeE8s), i64(pl.DistributableE8s), i64(pl.FeesE8s), i64(pl.CarriedE8s), pl.Whale})
			row[10] = i64(pl.TransfersE8s)
			row[len(row)-2], row[len(row)-1] = string(p.Reconciliation), p.ManifestSHA256
			_ = cw.Write(row)
		}
		wk := p.Walk
		row := make([]string, len(csvHeader))
		row[0], row[1], row[2], row[7], row[8] = "treasury", r.DAO, p.Period, wk.Account.ICRC1, wk.Account.ID
		copy(row[42:], []string{opt(wk.FromBlock), opt(wk.ToBlock), u64(wk.OpeningE8s), u64(wk.MintInE8s), u64(wk.OtherInE8s),
			u64(wk.TransfersOutE8s), u64(wk.FeesOutE8s), u64(wk.OtherOutE8s), u64(wk.ClosingE8s), i64(wk.DAOFeeKeptE8s)})
		row[40] = i64(wk.CarriedE8s)
		row[len(row)-2], row[len(row)-1] = string(p.Reconciliation), p.ManifestSHA256
		_ = cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

//go:embed report.html.tmpl
var templates embed.FS

var page = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"icp":  func(v int64) string { return money.FormatICP(money.E8s(v)) },
	"icpu": func(v uint64) string { return money.FormatICPUint64(v) },
	"blk": func(v *uint64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatUint(*v, 10)
	},
}).ParseFS(templates, "report.html.tmpl"))

// WriteHTML writes the report as a self-contained page (no script, no
// external resource; html/template escapes every value).
func WriteHTML(w io.Writer, r Report) error { return page.Execute(w, r) }
