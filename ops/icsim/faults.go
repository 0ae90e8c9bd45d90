package icsim

import (
	"errors"
	"time"
)

// Faults are injected failures, set through POST /admin/faults. Counters
// apply to the next N update calls and count down; Delay applies to every
// call and query until changed.
type Faults struct {
	// DelayMillis delays every call and query response.
	DelayMillis int64 `json:"delay_ms"`
	// RejectNext rejects the next N update calls with SYS_TRANSIENT
	// (reject code 2) without executing them; the reject is certified.
	RejectNext int `json:"reject_next"`
	// FailBeforeExecuteNext answers the next N update calls with HTTP 503
	// without executing them.
	FailBeforeExecuteNext int `json:"fail_before_execute_next"`
	// FailAfterExecuteNext executes and commits the next N update calls,
	// then answers HTTP 503: the call happened but the response was lost.
	FailAfterExecuteNext int `json:"fail_after_execute_next"`
	// ProcessingMillis keeps each executed update call in status
	// "processing" for this long; a synchronous call then answers 202.
	ProcessingMillis int64 `json:"processing_ms"`
	// TemporarilyUnavailableNext throttles the next N ledger transfers, as a
	// full de-duplication window does: icrc1_transfer answers
	// Err(TemporarilyUnavailable), the legacy transfer traps ("ledger is
	// throttling, please retry later").
	TemporarilyUnavailableNext int `json:"temporarily_unavailable_next"`
	// RejectQueriesNext rejects the next N queries with SYS_TRANSIENT
	// (reject code 2, signed like any query reply) without executing them.
	RejectQueriesNext int `json:"reject_queries_next"`
	// The next three play a lying replica: its query answers carry a valid
	// node signature (a malicious node signs what it serves), so only the
	// client's own checks of the blocks against the certified tip catch them.
	//
	// ForgeBlockNext adds one e8s to the first block of the next N
	// query_blocks answers that carry blocks.
	ForgeBlockNext int `json:"forge_block_next"`
	// ForgeArchivedBlockNext does the same to archive get_blocks answers.
	ForgeArchivedBlockNext int `json:"forge_archived_block_next"`
	// BlockGapNext drops the first block of the next N query_blocks answers
	// that carry blocks and moves first_block_index past it, leaving a hole
	// no archive range covers.
	BlockGapNext int `json:"block_gap_next"`
	// ForgeCertificateNext flips a bit of the BLS signature of the next N
	// certificates query_blocks hands out.
	ForgeCertificateNext int `json:"forge_certificate_next"`
}

// validate rejects negative counters and delays.
func (f Faults) validate() error {
	for _, v := range []int64{f.DelayMillis, f.ProcessingMillis, int64(f.RejectNext), int64(f.FailBeforeExecuteNext), int64(f.FailAfterExecuteNext),
		int64(f.TemporarilyUnavailableNext), int64(f.RejectQueriesNext), int64(f.ForgeBlockNext), int64(f.ForgeArchivedBlockNext), int64(f.BlockGapNext), int64(f.ForgeCertificateNext)} {
		if v < 0 {
			return errors.New("fault values must be >= 0")
		}
	}
	return nil
}

// faultShot is what applies to one request.
type faultShot struct {
	delay                  time.Duration
	processing             time.Duration
	reject                 bool
	failBeforeExecute      bool
	failAfterExecute       bool
	temporarilyUnavailable bool
}

// take consumes the counters for one update call; callers hold s.mu.
func (f *Faults) take() faultShot {
	shot := faultShot{delay: time.Duration(f.DelayMillis) * time.Millisecond, processing: time.Duration(f.ProcessingMillis) * time.Millisecond}
	switch {
	case f.FailBeforeExecuteNext > 0:
		f.FailBeforeExecuteNext--
		shot.failBeforeExecute = true
		return shot
	case f.RejectNext > 0:
		f.RejectNext--
		shot.reject = true
		return shot
	}
	if f.TemporarilyUnavailableNext > 0 {
		f.TemporarilyUnavailableNext--
		shot.temporarilyUnavailable = true
	}
	if f.FailAfterExecuteNext > 0 {
		f.FailAfterExecuteNext--
		shot.failAfterExecute = true
	}
	return shot
}

// peekQuery is the fault shot of a query: the delay, and a transient
// reject while RejectQueriesNext counts down; callers hold s.mu.
func (f *Faults) peekQuery() faultShot {
	shot := faultShot{delay: time.Duration(f.DelayMillis) * time.Millisecond}
	if f.RejectQueriesNext > 0 {
		f.RejectQueriesNext--
		shot.reject = true
	}
	return shot
}
