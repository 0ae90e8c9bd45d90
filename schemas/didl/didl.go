// Package didl encodes Candid arguments like agent-go's candid.Marshal, with
// the types of fixed Go types derived once. candid.Marshal rebuilds every
// type by reflection and re-sorts and re-hashes every record and variant
// field on each call; for the ledger's transfer arguments and results that
// was the largest CPU cost of a payout after the cryptography. The bytes
// are the same as candid.Marshal's (tests compare them).
package didl

import (
	"bytes"
	"fmt"
	"reflect"
	"sync"

	"github.com/aviate-labs/agent-go/candid"
	"github.com/aviate-labs/agent-go/candid/idl"
)

// codec is the encoding of one tuple of argument types: the header
// ("DIDL", the type table and the argument types) is the same for every
// value, so only the values are encoded per call.
type codec struct {
	types  []idl.Type
	header []byte
}

// maxCached bounds the tuple length that is cached; longer tuples go
// through candid.Marshal.
const maxCached = 4

type tupleKey [maxCached]reflect.Type

var codecs sync.Map // tupleKey -> *codec

// Marshal encodes args as candid.Marshal does.
func Marshal(args ...any) ([]byte, error) {
	key, ok := keyOf(args)
	if !ok {
		return candid.Marshal(args)
	}
	if c, ok := codecs.Load(key); ok {
		return c.(*codec).encode(args)
	}
	c, out, err := newCodec(args)
	if err != nil {
		return nil, err
	}
	codecs.Store(key, c)
	return out, nil
}

// keyOf is the cache key of args, or false when a type depends on the
// value (agent-go derives []any, map[string]any and idl.Variant from their
// contents) or the tuple is too long.
func keyOf(args []any) (tupleKey, bool) {
	var k tupleKey
	if len(args) > maxCached {
		return k, false
	}
	for i, a := range args {
		switch a.(type) {
		case nil, []any, map[string]any, idl.Variant:
			return k, false
		}
		k[i] = reflect.TypeOf(a)
	}
	return k, true
}

// newCodec derives the types, encodes args with candid.Marshal and splits
// off the header, checking that the header plus the values is exactly
// what candid.Marshal wrote.
func newCodec(args []any) (*codec, []byte, error) {
	types := make([]idl.Type, len(args))
	for i, a := range args {
		t, err := idl.TypeOf(a)
		if err != nil {
			return nil, nil, err
		}
		types[i] = t
	}
	full, err := candid.Encode(types, args)
	if err != nil {
		return nil, nil, err
	}
	values, err := encodeValues(types, args)
	if err != nil {
		return nil, nil, err
	}
	if len(values) > len(full) || !bytes.Equal(full[len(full)-len(values):], values) {
		return nil, nil, fmt.Errorf("didl: the values of %T do not end candid's encoding", args)
	}
	c := &codec{types: types, header: append([]byte{}, full[:len(full)-len(values)]...)}
	return c, full, nil
}

func (c *codec) encode(args []any) ([]byte, error) {
	values, err := encodeValues(c.types, args)
	if err != nil {
		return nil, err
	}
	return append(append(make([]byte, 0, len(c.header)+len(values)), c.header...), values...), nil
}

func encodeValues(types []idl.Type, args []any) ([]byte, error) {
	var out []byte
	for i, t := range types {
		v, err := t.EncodeValue(args[i])
		if err != nil {
			return nil, err
		}
		out = append(out, v...)
	}
	return out, nil
}
