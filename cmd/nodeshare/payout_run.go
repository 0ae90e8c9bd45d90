package main

import (
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
)

// demoApproval is the documented approver set of the demo: one approver,
// "demo", threshold 1 (docs/payouts.md). Production configures its own set
// (--approvers, --threshold).
var demoApproval = rules.Approval{Approvers: []string{"demo"}, Threshold: 1}
