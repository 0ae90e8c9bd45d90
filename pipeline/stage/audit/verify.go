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
}

// Report is what a verification found.
type Report struct {
	// Chained raw rows, Periods recomputed, Decisions (entitlement rows)
	// checked against their raw records.
	Chained, Periods, Decisions int
	// Findings are every check's findings, in the order of the checks
	// (chain, recompute, decision-table, totals).
	Findings []rules.Finding
}

// Verify runs every check over store; decisions on entitlementsTopic are
// recomputed. An error means a check could not run (the store failed); a
// finding means the trail does not add up.
func Verify(ctx context.Context, store Store, entitlementsTopic string) (Report, error) {
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
	fs, err = store.CheckTotals(ctx)
	if err != nil {
		return rep, err
	}
	rep.Findings = append(rep.Findings, fs...)
	return rep, nil
}
