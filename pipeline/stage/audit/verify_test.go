package audit

import (
	"context"
	"errors"
	"testing"

	rules "github.com/nodeshare/nodeshare/pipeline/audit"
	"github.com/nodeshare/nodeshare/schemas"
)

// fakeStore serves raw rows and canned answers of the SQL checks.
type fakeStore struct {
	rows      []rules.Row
	decisions int
	decErr    error
	totals    []rules.Finding
	payout    []rules.Finding
}

func (f *fakeStore) RawRows(context.Context) ([]rules.Row, error) { return f.rows, nil }
func (f *fakeStore) CheckDecisionTable(context.Context) (int, []rules.Finding, error) {
	return f.decisions, nil, f.decErr
}
func (f *fakeStore) CheckTotals(context.Context) ([]rules.Finding, error) { return f.totals, nil }
func (f *fakeStore) CheckPayoutTables(context.Context) (int, []rules.Finding, error) {
	return 2, f.payout, nil
}

// chained returns n raw rows of one stream, correctly chained.
func chained(n int) []rules.Row {
	var out []rules.Row
	prev := schemas.ChainGenesis
	for i := 0; i < n; i++ {
		r := schemas.ChainRow{Topic: "ic.icp-xdr-rates.v1", Offset: int64(i), Key: "k", EventType: schemas.TypeRate, Payload: "{}"}
		h := schemas.ChainHash(prev, r)
		out = append(out, rules.Row{ChainRow: r, PrevHash: prev, RowHash: h})
		prev = h
	}
	return out
}

// Verify runs every check and reports their findings in order; a store
// that fails is an error, not a clean report.
func TestVerifyRunsEveryCheck(t *testing.T) {
	store := &fakeStore{rows: chained(3), decisions: 7}
	rep, err := Verify(context.Background(), store, schemas.TopicEntitlements)
	if err != nil || rep.Chained != 3 || rep.Decisions != 7 || len(rep.Findings) != 0 {
		t.Fatalf("clean trail: %+v, %v", rep, err)
	}
	store.rows[1].Payload = `{"changed":1}`
	store.totals = []rules.Finding{{Check: "totals", Where: "pool_periods d 2026-09-01 p"}}
	rep, err = Verify(context.Background(), store, schemas.TopicEntitlements)
	if err != nil || len(rep.Findings) != 2 || rep.Findings[0].Check != "chain" || rep.Findings[1].Check != "totals" {
		t.Fatalf("changed row and bad totals: %+v, %v", rep.Findings, err)
	}
	store.decErr = errors.New("clickhouse down")
	if _, err := Verify(context.Background(), store, schemas.TopicEntitlements); !errors.Is(err, store.decErr) {
		t.Fatalf("failing store: %v", err)
	}
}

// An edited payout row and a chain cut short after its tip was signed are
// both findings.
func TestVerifyPayoutTablesAndSignedTips(t *testing.T) {
	store := &fakeStore{rows: chained(4), payout: []rules.Finding{{Check: "payout-table", Where: "payout_results x"}}}
	tips := rules.SignedTips{Tips: rules.Tips(store.rows)}
	store.rows = store.rows[:3] // the tail deleted
	rep, err := VerifyWithTips(context.Background(), store, schemas.TopicEntitlements, &tips)
	if err != nil || rep.PayoutRows != 2 || rep.Tips != 1 || len(rep.Findings) != 2 ||
		rep.Findings[0].Check != "payout-table" || rep.Findings[1].Check != "signed-tip" {
		t.Fatalf("%+v %v", rep, err)
	}
}
