package pools

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// WriteTable writes pools as `nodeshare pools list` prints them.
func WriteTable(w io.Writer, all []Pool) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DAO\tPOOL\tTERMS\tTARGET ICP\tDEADLINE\tDEPOSIT ACCOUNT")
	for _, p := range all {
		if p.Terms == nil {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t(configured, proposal %s)\n", p.DAO, p.PoolID, p.ProposalStatus)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\tv%d\t%s\t%s\t%s\n", p.DAO, p.PoolID, p.Terms.TermsVersion, money.FormatICP(money.E8s(p.Terms.TargetE8s)), p.Terms.FundingDeadline, p.Deposit.ICRC1)
	}
	return tw.Flush()
}
