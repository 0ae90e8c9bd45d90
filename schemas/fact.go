package schemas

import (
	"fmt"
	"sort"
	"strings"
)

// Fact is one event meant for a topic under a deterministic key (built by
// the topic's key function in keys.go). Publishing a fact twice is
// harmless: a key already on its topic with the same content is skipped.
type Fact struct {
	Topic    string
	Key      string
	Envelope Envelope
}

// NewFact builds a fact: the envelope of payload (event id = key) for
// topic under key.
func NewFact(topic, typ, key string, prov Provenance, payload any) (Fact, error) {
	env, err := NewEnvelope(typ, key, prov, payload)
	if err != nil {
		return Fact{}, err
	}
	return Fact{Topic: topic, Key: key, Envelope: env}, nil
}

// PublishStats counts what one publish-once did.
type PublishStats struct {
	// Published facts were new; Present were already on their topic with
	// the same content; Conflicts were on their topic with other content.
	Published, Present, Conflicts int
}

// ConflictError lists facts whose key already holds other content on its
// topic: a fact never changes, so a person must look at each.
type ConflictError struct{ Conflicts []string }

func (e *ConflictError) Error() string {
	c := append([]string(nil), e.Conflicts...)
	sort.Strings(c)
	return fmt.Sprintf("%d fact(s) already on their topic with other content, not overwritten (investigate): %s", len(c), strings.Join(c, "; "))
}
