package main

import (
	"github.com/nodeshare/nodeshare/pipeline/payout"
)

// demoApproval is the documented approver set of the demo: one approver,
// "demo", threshold 1 (docs/payouts.md). Production configures its own set
// (--approvers, --threshold).
var demoApproval = payout.Approval{Approvers: []string{"demo"}, Threshold: 1}
