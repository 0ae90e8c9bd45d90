package payout

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"

	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/schemas"
)

// WriteSummary writes a manifest's totals and a table of its transfers
// (pool, role, largest first) for people.
func WriteSummary(w io.Writer, m Manifest, results map[string]schemas.PayoutResult) {
	fmt.Fprintf(w, "manifest %s: %d transfers, %s ICP to recipients + %s ICP ledger fees, %s ICP carried forward\n",
		m.SHA256, len(m.Intents), money.FormatICP(money.E8s(m.TotalAmountE8s)), money.FormatICP(money.E8s(m.TotalFeeE8s)), money.FormatICP(money.E8s(m.CarriedE8s)))
	intents := append([]schemas.PayoutIntent(nil), m.Intents...)
	sort.Slice(intents, func(i, j int) bool {
		a, b := intents[i], intents[j]
		if a.PoolID != b.PoolID {
			return a.PoolID < b.PoolID
		}
		if a.Role != b.Role {
			return a.Role < b.Role
		}
		if a.AmountE8s != b.AmountE8s {
			return a.AmountE8s > b.AmountE8s
		}
		return a.Recipient < b.Recipient
	})
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "POOL\tROLE\tRECIPIENT\tTRANSFER ICP\tFEE ICP\tSTATUS\tBLOCK\t")
	for _, in := range intents {
		res := results[in.IntentID]
		block := ""
		if res.Status == schemas.PayoutPaid {
			block = strconv.FormatUint(res.BlockIndex, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", in.PoolID, in.Role, shortAccount(in.Recipient),
			money.FormatICP(money.E8s(in.AmountE8s)), money.FormatICP(money.E8s(in.FeeE8s)), orPending(res.Status), block)
	}
	tw.Flush()
}

func orPending(s string) string {
	if s == "" {
		return "pending"
	}
	return s
}

func shortAccount(a string) string {
	if len(a) <= 27 {
		return a
	}
	return a[:11] + "…" + a[len(a)-11:]
}
