package payout

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/nodeshare/nodeshare/pipeline/money"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
)

// How the payout commands print a manifest and a period's status.

// ManifestJSON is the document WriteManifest prints.
type ManifestJSON struct {
	DAO            string            `json:"dao"`
	Period         string            `json:"period"`
	ManifestSHA256 string            `json:"manifest_sha256"`
	RulesVersion   string            `json:"rules_version"`
	InputHashes    map[string]string `json:"input_hashes"`
	Transfers      int               `json:"transfers"`
	TotalAmountE8s int64             `json:"total_amount_e8s"`
	TotalFeeE8s    int64             `json:"total_fee_e8s"`
	TotalDebitE8s  int64             `json:"total_debit_e8s"`
	CarriedE8s     int64             `json:"carried_e8s"`
	TotalICP       string            `json:"total_icp"`
	Written        bool              `json:"written"`
	DryRun         bool              `json:"dry_run"`
	Intents        []intentJSON      `json:"intents"`
}

type intentJSON struct {
	IntentID       string `json:"intent_id"`
	PoolID         string `json:"pool_id"`
	Role           string `json:"role"`
	Recipient      string `json:"recipient"`
	AmountE8s      int64  `json:"amount_e8s"`
	FeeE8s         int64  `json:"fee_e8s"`
	MemoHex        string `json:"memo_hex"`
	CreatedAtNanos uint64 `json:"created_at_nanos"`
}

// WriteManifest writes m as `nodeshare payout plan` prints it: indented
// JSON with totals and every intent; written and dry say what plan did.
func WriteManifest(w io.Writer, m rules.Manifest, written, dry bool) error {
	out := ManifestJSON{DAO: m.DAO, Period: m.Period, ManifestSHA256: m.SHA256, RulesVersion: m.RulesVersion, InputHashes: m.InputHashes,
		Transfers: len(m.Intents), TotalAmountE8s: m.TotalAmountE8s, TotalFeeE8s: m.TotalFeeE8s, TotalDebitE8s: m.TotalAmountE8s + m.TotalFeeE8s,
		CarriedE8s: m.CarriedE8s, TotalICP: money.FormatICP(money.E8s(m.TotalAmountE8s)), Written: written, DryRun: dry}
	for _, in := range m.Intents {
		out.Intents = append(out.Intents, intentJSON{IntentID: in.IntentID, PoolID: in.PoolID, Role: in.Role, Recipient: in.Recipient,
			AmountE8s: in.AmountE8s, FeeE8s: in.FeeE8s, MemoHex: in.MemoHex, CreatedAtNanos: in.CreatedAtNanos})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteStatus writes a period's progress as `nodeshare payout status`
// prints it: a table, or JSON.
func WriteStatus(w io.Writer, dao, period string, st Status, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"dao": dao, "period": period, "planned": st.Planned, "manifest_sha256": st.Manifest.SHA256,
			"approved": st.Approved, "approvers": st.Approvers, "approvals_not_counted": st.ApprovalsRefused,
			"approved_by_sponsors": st.Sponsors.Approved, "sponsor_votes": st.Sponsors.Votes, "sponsors_missing": st.Sponsors.Missing, "paid": st.Paid, "pending": st.Pending, "failed": st.Failed,
			"paid_e8s": st.PaidE8s, "pending_e8s": st.PendingE8s, "failed_e8s": st.FailedE8s, "new_attempts": st.Attempts,
			"all_paid": st.AllPaid, "reasons": st.FailedReasons})
		return
	}
	if !st.Planned {
		fmt.Fprintf(w, "%s %s: not planned (nodeshare payout plan)\n", dao, period)
		return
	}
	fmt.Fprintf(w, "%s %s manifest %s\napproved: %v by %v\n", dao, period, st.Manifest.SHA256, st.Approved, st.Approvers)
	for _, r := range st.ApprovalsRefused {
		fmt.Fprintf(w, "approval not counted: %s\n", r)
	}
	if st.Sponsors.Approved {
		fmt.Fprintf(w, "approved by the sponsors' votes %s\n", strings.Join(st.Sponsors.Votes, ", "))
	} else if len(st.Sponsors.Votes) > 0 {
		// Some pools voted, not all: say which are missing.
		fmt.Fprintf(w, "sponsors' votes %s; not approved by votes: %s\n", strings.Join(st.Sponsors.Votes, ", "), strings.Join(st.Sponsors.Missing, "; "))
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "STATUS\tCOUNT\tAMOUNT ICP\t")
	fmt.Fprintf(tw, "paid\t%d\t%s\t\n", st.Paid, money.FormatICP(money.E8s(st.PaidE8s)))
	fmt.Fprintf(tw, "pending\t%d\t%s\t\n", st.Pending, money.FormatICP(money.E8s(st.PendingE8s)))
	fmt.Fprintf(tw, "failed\t%d\t%s\t\n", st.Failed, money.FormatICP(money.E8s(st.FailedE8s)))
	fmt.Fprintf(tw, "total\t%d\t%s\t\n", len(st.Manifest.Intents), money.FormatICP(money.E8s(st.Manifest.TotalAmountE8s)))
	tw.Flush()
	if st.Attempts > 0 {
		fmt.Fprintf(w, "new attempts after the 24 h window: %d\n", st.Attempts)
	}
	for _, id := range slices.Sorted(maps.Keys(st.FailedReasons)) {
		fmt.Fprintf(w, "  %s: %s\n", id, st.FailedReasons[id])
	}
}
