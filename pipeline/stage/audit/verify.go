package audit

import (
	"context"

	rules "github.com/nodeshare/nodeshare/pipeline/audit"
)

// Store is the audit trail as the verifier reads it.
type Store interface {
	// RawRows returns every raw row (events_raw), sorted by (topic,
	// partition, offset).
	RawRows(ctx context.Context) ([]rules.Row, error)
	// CheckDecisionTable compares every entitlements row with the raw
	// record at its coordinates; it returns how many rows it checked.
	CheckDecisionTable(ctx context.Context) (int, []rules.Finding, error)
	// CheckTotals recomputes conservation and the payout totals in the
	// store's own query language.
	CheckTotals(ctx context.Context) ([]rules.Finding, error)
	// CheckPayoutTables compares the payout tables' rows with their raw
	// records; it returns how many rows it checked.
	CheckPayoutTables(ctx context.Context) (int, []rules.Finding, error)
}

// Report is what a verification found.
type Report struct {
	// Chained raw rows, Periods recomputed, Decisions (entitlement rows)
	// and PayoutRows checked against their raw records, Tips checked
	// against the signed chain tips.
	Chained, Periods, Decisions, PayoutRows, Tips int
	// Findings are every check's findings, in the order of the checks
	// (chain, recompute, decision-table, totals).
	Findings []rules.Finding
}

// Verify runs every check over store; decisions on entitlementsTopic are
// recomputed. An error means a check could not run (the store failed); a
// finding means the trail does not add up.
func Verify(ctx context.Context, store Store, entitlementsTopic string) (Report, error) {
	return VerifyWithTips(ctx, store, entitlementsTopic, nil)
}

// VerifyWithTips is Verify that also checks every chain against signed
// tips (their signature already checked by the caller; nil: none): a
// chain cut short or rewritten since is a finding.
func VerifyWithTips(ctx context.Context, store Store, entitlementsTopic string, tips *rules.SignedTips) (Report, error) {
	var rep Report
	rows, err := store.RawRows(ctx)
	if err != nil {
		return rep, err
	}
	var fs []rules.Finding
	rep.Chained, fs = rules.VerifyChain(rows)
	rep.Findings = append(rep.Findings, fs...)
	rep.Periods, fs = rules.Recompute(rows, entitlementsTopic)
	rep.Findings = append(rep.Findings, fs...)
	rep.Decisions, fs, err = store.CheckDecisionTable(ctx)
	if err != nil {
		return rep, err
	}
	rep.Findings = append(rep.Findings, fs...)
	rep.PayoutRows, fs, err = store.CheckPayoutTables(ctx)
	if err != nil {
		return rep, err
	}
	rep.Findings = append(rep.Findings, fs...)
	fs, err = store.CheckTotals(ctx)
	if err != nil {
		return rep, err
	}
	rep.Findings = append(rep.Findings, fs...)
	if tips != nil {
		rep.Tips = len(tips.Tips)
		rep.Findings = append(rep.Findings, rules.CheckTips(rows, *tips)...)
	}
	return rep, nil
}
