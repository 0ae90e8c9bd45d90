package schemas

import "time"

// Message is one record read from the event log, with its coordinates.
// Stages handle batches of them behind their ports; connectors/kafka
// fills them.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Time      time.Time
	Headers   []Header
}

// Record is one record to write to the event log. Key must be
// deterministic (keys.go).
type Record struct {
	Topic   string
	Key     []byte
	Value   []byte
	Headers []Header
}
