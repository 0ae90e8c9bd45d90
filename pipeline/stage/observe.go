package stage

import "github.com/nodeshare/nodeshare/schemas"

// The reasons a stream stage gives when it dead-letters a record: a small,
// fixed set, so an operator's dashboards and alerts can count them (the
// full reason, in words, is in the dead letter itself: schemas.DeadLetter).
const (
	// ReasonUndecodable: the record is not an event envelope, or its
	// payload does not decode as its type.
	ReasonUndecodable = "undecodable"
	// ReasonInvalid: the event decodes but breaks its contract (a field
	// out of range, a key that does not match its payload).
	ReasonInvalid = "invalid"
	// ReasonRefused: the event is valid, but the rules refuse it in the
	// state it meets (a reward of an unknown pool, a fact of a pool with
	// no lifecycle terms).
	ReasonRefused = "refused"
)

// Reasons are the dead-letter reasons, in a fixed order.
func Reasons() []string { return []string{ReasonUndecodable, ReasonInvalid, ReasonRefused} }

// StreamObserver is the port a stream stage (process, lifecycle, sink)
// reports through: cmd/nodeshare fills it with the metrics connector; nil
// reports nothing. A stage calls it once the batch's outputs are durable
// (acknowledged), so a count never runs ahead of the topics and tables (it
// may count a redelivered batch twice: at-least-once).
type StreamObserver interface {
	// RecordsIn counts n records of topic the stage handled.
	RecordsIn(topic string, n int)
	// DeadLettered counts n records of topic dead-lettered for reason
	// (one of Reasons()).
	DeadLettered(topic, reason string, n int)
}

// RecordsIn tells o (may be nil) how many records of each topic batch
// holds.
func RecordsIn(o StreamObserver, batch []schemas.Message) {
	if o == nil {
		return
	}
	n := map[string]int{}
	for _, m := range batch {
		n[m.Topic]++
	}
	for t, c := range n {
		o.RecordsIn(t, c)
	}
}

// DeadLetterCounts gathers a batch's dead letters by topic and reason
// before they are durable; Report hands them to an observer after.
type DeadLetterCounts map[[2]string]int

// Add counts one record of topic dead-lettered for reason.
func (d DeadLetterCounts) Add(topic, reason string) { d[[2]string{topic, reason}]++ }

// Report tells o of every count (o may be nil).
func (d DeadLetterCounts) Report(o StreamObserver) {
	if o == nil {
		return
	}
	for k, n := range d {
		o.DeadLettered(k[0], k[1], n)
	}
}
