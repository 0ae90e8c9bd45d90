package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/schemas"
)

// Row is one raw audit row as stored.
type Row struct {
	schemas.ChainRow
	PrevHash  string
	RowHash   string
	KafkaTime time.Time
}

func (r Row) where() string {
	return fmt.Sprintf("events_raw %s/%d@%d", r.Topic, r.Partition, r.Offset)
}

// Finding is one thing that does not add up.
type Finding struct {
	Check    string // "chain", "recompute", "totals", "decision-table"
	Where    string
	Expected string
	Found    string
	Detail   string
}

func (f Finding) String() string {
	s := f.Check + ": " + f.Where
	if f.Detail != "" {
		s += ": " + f.Detail
	}
	if f.Expected != "" || f.Found != "" {
		s += fmt.Sprintf(" (expected %s, found %s)", f.Expected, f.Found)
	}
	return s
}

// VerifyChain checks the hash chain of rows sorted by (topic, partition,
// offset): each row's prev_hash is the previous row's row_hash (the genesis
// for the first) and its row_hash recomputes. It reports the first broken
// row of each stream (later rows of a broken stream cannot be trusted).
func VerifyChain(rows []Row) (checked int, findings []Finding) {
	var prevTopic string
	prevPart := -1
	prevHash := schemas.ChainGenesis
	broken := false
	for _, r := range rows {
		if r.Topic != prevTopic || r.Partition != prevPart {
			prevTopic, prevPart, prevHash, broken = r.Topic, r.Partition, schemas.ChainGenesis, false
		}
		if broken {
			continue
		}
		checked++
		if r.PrevHash != prevHash {
			findings = append(findings, Finding{Check: "chain", Where: r.where(), Detail: "prev_hash does not link to the previous row", Expected: prevHash, Found: r.PrevHash})
			broken = true
			continue
		}
		if want := schemas.ChainHash(r.PrevHash, r.ChainRow); r.RowHash != want {
			findings = append(findings, Finding{Check: "chain", Where: r.where(), Detail: "row_hash does not match the row's content", Expected: want, Found: r.RowHash})
			broken = true
			continue
		}
		prevHash = r.RowHash
	}
	return checked, findings
}

// Recompute re-runs the processor for every reward found in the raw rows,
// with the state as it was when the stored pool periods were produced
// (records no later than them), and compares every stored pool period and
// entitlement of that reward with the recomputed one.
func Recompute(rows []Row, entitlementsTopic string) (periods int, findings []Finding) {
	type stored struct {
		row Row
		env schemas.Envelope
	}
	var rewards []stored
	byKey := map[string]stored{} // entitlement-topic key -> latest stored record
	var state []stored
	for _, r := range rows {
		env, err := schemas.DecodeEnvelope(envelopeBytes(r))
		if err != nil {
			continue // dead-lettered records are not part of any decision
		}
		s := stored{r, env}
		switch r.Topic {
		case schemas.TopicNodeRewards:
			rewards = append(rewards, s)
		case schemas.TopicPools, schemas.TopicContributions, schemas.TopicNodePeriodWeights, schemas.TopicPoolLifecycle:
			// The entitlement processor's state topics (pipeline/stage/process
			// stateTopics): the lifecycle's states say when a crowdfunded
			// pool earns and with which stakes.
			state = append(state, s)
		case entitlementsTopic:
			state = append(state, s)
			byKey[r.Key] = s
		}
	}
	sort.SliceStable(state, func(i, j int) bool { return state[i].row.KafkaTime.Before(state[j].row.KafkaTime) })

	for _, rw := range rewards {
		var reward schemas.NodeReward
		if rw.env.DecodePayload(schemas.TypeNodeReward, &reward) != nil {
			continue
		}
		// The stored pool periods of this reward, and when they were written.
		var pps []stored
		for _, s := range byKey {
			if s.env.Type != schemas.TypePoolPeriod {
				continue
			}
			var pp schemas.PoolPeriod
			if s.env.DecodePayload(schemas.TypePoolPeriod, &pp) == nil && pp.RewardEventID == rw.env.EventID {
				pps = append(pps, s)
			}
		}
		if len(pps) == 0 {
			continue // not (yet) processed, or dead-lettered: nothing to compare
		}
		cutoff := pps[0].row.KafkaTime
		var fee int64
		for _, s := range pps {
			if s.row.KafkaTime.Before(cutoff) {
				cutoff = s.row.KafkaTime
			}
			var pp schemas.PoolPeriod
			_ = s.env.DecodePayload(schemas.TypePoolPeriod, &pp)
			var in struct {
				LedgerFeeE8s int64 `json:"ledger_fee_e8s"`
			}
			_ = json.Unmarshal([]byte(pp.InputJSON), &in)
			fee = in.LedgerFeeE8s
		}
		st := entitle.NewState()
		for _, s := range state {
			if s.row.KafkaTime.After(cutoff) {
				break
			}
			_ = st.Apply(s.env)
		}
		evs, err := st.Reward(reward, entitle.Params{LedgerFeeE8s: fee})
		if err != nil {
			findings = append(findings, Finding{Check: "recompute", Where: rw.row.where(), Detail: "the stored reward no longer allocates: " + err.Error()})
			continue
		}
		for _, ev := range evs {
			if ev.Envelope.Type == schemas.TypePoolPeriod {
				periods++
			}
			s, ok := byKey[ev.Key]
			if !ok {
				findings = append(findings, Finding{Check: "recompute", Where: entitlementsTopic + " key " + ev.Key, Detail: "recomputed record missing from the audit trail"})
				continue
			}
			if s.env.Provenance.ContentSHA256 != ev.Envelope.Provenance.ContentSHA256 || !bytes.Equal(s.env.Payload, ev.Envelope.Payload) {
				findings = append(findings, Finding{Check: "recompute", Where: s.row.where() + " key " + ev.Key,
					Detail: "stored decision differs from the recomputation", Expected: ev.Envelope.Provenance.ContentSHA256, Found: s.env.Provenance.ContentSHA256})
			}
		}
	}
	return periods, findings
}

// envelopeBytes rebuilds the envelope a raw row was decoded from.
func envelopeBytes(r Row) []byte {
	var prov json.RawMessage = []byte(r.Provenance)
	if len(prov) == 0 {
		prov = []byte("{}")
	}
	b, _ := json.Marshal(struct {
		SchemaVersion int             `json:"schema_version"`
		Type          string          `json:"type"`
		EventID       string          `json:"event_id"`
		Provenance    json.RawMessage `json:"provenance"`
		Payload       json.RawMessage `json:"payload"`
	}{r.SchemaVersion, r.EventType, r.EventID, prov, json.RawMessage(r.Payload)})
	return b
}
