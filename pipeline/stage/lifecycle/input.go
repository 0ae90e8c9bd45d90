package lifecycle

import (
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	rules "github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/schemas"
)

// kind says what an input record is to the lifecycle.
type kind uint8

const (
	// skip: nothing for the lifecycle (a ledger cursor record, a pool
	// record the entitlement processor dead-letters).
	skip kind = iota
	// bad: a record that cannot be read (dead-lettered with err).
	bad
	// poolRecord: a pool's record on dao.pools.v1.
	poolRecord
	// block: a ledger block, known by its `to` until it turns out to be a
	// pool's.
	block
	// poolFact: a fact of dao.pool-facts.v1.
	poolFact
)

// input is one input record read for the stage: the pure part of the
// work, done on every core for the next batch while the current one is
// handled (stage.BatchHandler.Prepare), and for the records a rebuild
// reads.
type input struct {
	kind kind
	err  error // bad: why; poolFact: the fact's own error (the pool is known)

	// block: the payload's `to` (aliasing the record value after a peek),
	// and the block when the peek could not be used and it was decoded.
	to    []byte
	block *schemas.LedgerBlock

	// poolRecord: the pool; terms when it has valid lifecycle terms (err
	// says why the rules refuse them, and the record is dead-lettered).
	pool  *schemas.Pool
	terms rules.Terms

	// poolFact: the pool's key and the fact.
	poolKey string
	fact    *fact
}

// read decodes one input record of cfg's topics.
func (c Config) read(m *schemas.Message) input {
	switch m.Topic {
	case c.blocks():
		return readBlock(m)
	case c.poolFacts():
		return readPoolFact(m, c.Verifier)
	case c.pools():
		return readPool(m)
	}
	return input{kind: skip}
}

func readBlock(m *schemas.Message) input {
	if typ, to, ok := peekBlock(m.Value); ok {
		if string(typ) != schemas.TypeLedgerBlock {
			return input{kind: skip} // the connector's cursor records live beside the blocks
		}
		return input{kind: block, to: to}
	}
	env, err := schemas.DecodeEnvelope(m.Value)
	if err != nil {
		return input{kind: bad, err: err}
	}
	if env.Type != schemas.TypeLedgerBlock {
		return input{kind: skip}
	}
	var b schemas.LedgerBlock
	if err := env.DecodePayload(schemas.TypeLedgerBlock, &b); err != nil {
		return input{kind: bad, err: err}
	}
	return input{kind: block, to: []byte(b.To), block: &b}
}

// decodeBlock decodes a block strictly (content hash included): done only
// for the blocks to a pool's account.
func decodeBlock(m *schemas.Message) (*schemas.LedgerBlock, error) {
	env, err := schemas.DecodeEnvelope(m.Value)
	if err != nil {
		return nil, err
	}
	var b schemas.LedgerBlock
	if err := env.DecodePayload(schemas.TypeLedgerBlock, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

func readPoolFact(m *schemas.Message, v Verifier) input {
	env, err := schemas.DecodeEnvelope(m.Value)
	if err != nil {
		return input{kind: bad, err: err}
	}
	var pf schemas.PoolFact
	if err := env.DecodePayload(schemas.TypePoolFact, &pf); err != nil {
		return input{kind: bad, err: err}
	}
	f, err := poolFactOf(m, &pf, v)
	if err != nil {
		// The pool is named: the reason says which pool's fact is wrong.
		return input{kind: poolFact, poolKey: schemas.PoolKey(pf.DAO, pf.PoolID), err: err}
	}
	return input{kind: poolFact, poolKey: schemas.PoolKey(pf.DAO, pf.PoolID), fact: f}
}

// readPool reads a pool record. One the entitlement processor refuses
// (entitle.ValidateType) is skipped here: that processor dead-letters it,
// and one source record gets one dead letter.
func readPool(m *schemas.Message) input {
	env, err := schemas.DecodeEnvelope(m.Value)
	if err != nil || entitle.ValidateType(schemas.TypePool, m.Topic, env) != nil {
		return input{kind: skip}
	}
	var p schemas.Pool
	if env.DecodePayload(schemas.TypePool, &p) != nil {
		return input{kind: skip}
	}
	in := input{kind: poolRecord, pool: &p}
	if p.Terms != nil {
		in.terms, in.err = termsOf(&p)
	}
	return in
}
