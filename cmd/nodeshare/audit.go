package main

import (
	"fmt"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	auditstage "github.com/nodeshare/nodeshare/pipeline/stage/audit"
)

// auditCmd is `nodeshare audit` (docs/auditing.md).
type auditCmd struct {
	Verify auditVerifyCmd `cmd:"" help:"Check the hash chains and recompute every decision from the raw rows; exit 1 on any finding."`
}

// auditVerifyCmd checks the ClickHouse audit trail: the hash chain of every
// stream, every decision recomputed from the raw rows (manifest hashes and
// entitlements byte for byte), the entitlements table against its raw
// records, and the conservation and payout totals recomputed in SQL
// (pipeline/stage/audit).
type auditVerifyCmd struct {
	clickhouseFlags
	EntitlementsTopic string `name:"entitlements-topic" default:"${entitlements_topic}" help:"Topic whose decisions are recomputed."`
}

func (c *auditVerifyCmd) Validate() error {
	if c.EntitlementsTopic == "" {
		return fmt.Errorf("--entitlements-topic is empty")
	}
	return c.clickhouseFlags.Validate()
}

func (c *auditVerifyCmd) Run(e env) error {
	// Read-only: nothing is created, and an auditor's read-only user is
	// enough.
	store, err := clickhouse.OpenReadOnly(e.ctx, c.clickhouseFlags.config())
	if err != nil {
		return err
	}
	defer store.Close()
	rep, err := auditstage.Verify(e.ctx, store, c.EntitlementsTopic)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "audit verify: %d raw rows chained, %d pool periods recomputed, %d entitlement rows checked against raw records, totals recomputed in SQL\n",
		rep.Chained, rep.Periods, rep.Decisions)
	for _, f := range rep.Findings {
		fmt.Fprintln(e.stdout, "FINDING", f.String())
	}
	if len(rep.Findings) > 0 {
		fmt.Fprintf(e.stdout, "audit verify: %d findings\n", len(rep.Findings))
		return exitCode(1)
	}
	fmt.Fprintln(e.stdout, "audit verify: OK")
	return nil
}
