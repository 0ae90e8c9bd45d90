package kafka

import (
	"strings"
	"testing"
)

func TestTopicOptions(t *testing.T) {
	cases := []struct {
		opts    TopicOptions
		minISR  string // of a topic created ("": the brokers' default)
		invalid string
	}{
		{TopicOptions{}, "", ""},
		{TopicOptions{ReplicationFactor: 1}, "", ""},
		{TopicOptions{ReplicationFactor: 3}, "2", ""},
		{TopicOptions{ReplicationFactor: 3, MinInsyncReplicas: 3}, "3", ""},
		{TopicOptions{MinInsyncReplicas: 2}, "2", ""},
		{TopicOptions{ReplicationFactor: -1}, "", "replication factor must be >= 1"},
		{TopicOptions{MinInsyncReplicas: -2}, "", "min.insync.replicas must be >= 1"},
		{TopicOptions{ReplicationFactor: 1, MinInsyncReplicas: 2}, "", "min.insync.replicas 2 is more than the replication factor 1"},
	}
	for _, c := range cases {
		err := c.opts.Validate()
		if c.invalid != "" {
			if err == nil || !strings.Contains(err.Error(), c.invalid) {
				t.Errorf("%+v: Validate() = %v, want an error saying %q", c.opts, err, c.invalid)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: Validate() = %v", c.opts, err)
		}
		if got := c.opts.minInsync(); got != c.minISR {
			t.Errorf("%+v: min.insync.replicas of a new topic %q, want %q", c.opts, got, c.minISR)
		}
	}
}
