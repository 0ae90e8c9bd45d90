package ic

import "context"

// ReportLedger is the ICP ledger as the report stage's Ledger port
// (pipeline/stage/report): an account's balance now and the chain's
// length, both from verified answers.
type ReportLedger struct{ Client *Client }

// Balance is icrc1_balance_of of an account given as ICRC-1 text.
func (l ReportLedger) Balance(ctx context.Context, icrc1Text string) (uint64, error) {
	a, err := AccountFromText(icrc1Text)
	if err != nil {
		return 0, err
	}
	return l.Client.BalanceOf(ctx, a)
}

// ChainLength is the number of blocks the ledger holds.
func (l ReportLedger) ChainLength(ctx context.Context) (uint64, error) {
	p, err := l.Client.QueryBlocks(ctx, 0, 0)
	if err != nil {
		return 0, err
	}
	return p.ChainLength, nil
}
