package sink

import (
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// row is one record decoded for the sink: its raw row, and the typed row
// of the decision and payout tables when it has one.
type row struct {
	raw   schemas.RawEvent
	typed any
	err   error // undecodable: stored raw as "undecodable" and dead-lettered
}

// decodeBatch decodes a batch and computes each row's chain digest on
// every core: that is the sink's main CPU cost, and rows are independent
// (only the cheap linking of the chain is done after, in order).
func decodeBatch(batch []schemas.Message) []row {
	return stage.Parallel(batch, func(m schemas.Message) row {
		r := decodeRow(m)
		r.raw.Digest, r.raw.HasDigest = schemas.ChainDigest(r.raw.ChainRow()), true
		return r
	})
}

func decodeRow(m schemas.Message) row {
	c := schemas.Coord{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Time: m.Time}
	if schemas.IsDeadLetterRecord(m.Headers) {
		// DLQ v1: the rejected value as it arrived, the why in headers; the
		// row keeps both (provenance holds the headers as JSON).
		d, err := schemas.ReadDeadLetter(m.Key, m.Value, m.Headers)
		if err != nil {
			return row{raw: schemas.RawEvent{Coord: c, Key: string(m.Key), EventType: "undecodable", Payload: string(m.Value)}, err: err}
		}
		return row{raw: schemas.RawEvent{Coord: c, Key: string(m.Key), EventID: string(m.Key), EventType: schemas.TypeDeadLetter,
			SchemaVersion: schemas.SchemaVersion, Provenance: d.AuditJSON(), Payload: string(m.Value)}, typed: d}
	}
	env, err := schemas.PeekEnvelope(m.Value)
	if err != nil {
		return row{raw: schemas.RawEvent{Coord: c, Key: string(m.Key), EventType: "undecodable", Payload: string(m.Value)}, err: err}
	}
	r := row{raw: schemas.RawEvent{Coord: c, Key: string(m.Key), EventID: env.EventID, EventType: env.Type,
		SchemaVersion: env.SchemaVersion, Provenance: string(env.Provenance), Payload: string(env.Payload)}}
	if decode, ok := typedDecoders[env.Type]; ok {
		strict := schemas.Envelope{SchemaVersion: env.SchemaVersion, Type: env.Type, EventID: env.EventID, Payload: env.Payload}
		r.typed, r.err = decode(strict)
	}
	return r
}

// typedDecoders decode the payloads the sink also stores in typed tables.
var typedDecoders = map[string]func(schemas.Envelope) (any, error){
	schemas.TypeEntitlement:  decodeTyped[schemas.Entitlement],
	schemas.TypePoolPeriod:   decodeTyped[schemas.PoolPeriod],
	schemas.TypePayoutIntent: decodeTyped[schemas.PayoutIntent],
	schemas.TypePayoutResult: decodeTyped[schemas.PayoutResult],
	schemas.TypeDeadLetter:   decodeTyped[schemas.DeadLetter],
}

// decodeTyped decodes env's payload strictly as a T (nil on error).
func decodeTyped[T any](env schemas.Envelope) (any, error) {
	var v T
	if err := env.DecodePayload(env.Type, &v); err != nil {
		return nil, err
	}
	return v, nil
}
