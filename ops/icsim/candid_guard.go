package icsim

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/aviate-labs/agent-go/leb128"
)

// candidSane checks a Candid message before agent-go decodes it, and
// refuses what agent-go's decoder cannot survive. FuzzCanisterArgs found
// three ways a few hostile bytes killed the whole simulator (a fatal error,
// not a recoverable panic):
//   - a count or length larger than the bytes that follow it: the decoder
//     allocates what a length prefix declares before reading it (a future
//     type's byte count in the type table, a principal's length in a
//     value), so it asked for terabytes;
//   - a recursive type (a table entry that reaches itself): the decoder's
//     type names recurse without end and overflow the stack;
//   - values that take no bytes (null, reserved) nested in vectors, which
//     make the work grow with the square of the input.
//
// So the message is walked once here, type table and values, with every
// length checked against the bytes left, recursion refused (no argument of
// the simulated canisters has a recursive type), nesting bounded, and the
// total work bounded by the input size.
func candidSane(b []byte) error {
	if !bytes.HasPrefix(b, []byte("DIDL")) {
		return errors.New("no DIDL magic")
	}
	w := &candidWalker{r: bytes.NewReader(b[4:]), budget: 16*len(b) + 1024}
	if err := w.typeTable(); err != nil {
		return err
	}
	n, err := w.count("argument count")
	if err != nil {
		return err
	}
	args := make([]int64, n)
	for i := range args {
		if args[i], err = w.typeRef("argument type"); err != nil {
			return err
		}
	}
	for _, t := range args {
		if err := w.value(t, 0); err != nil {
			return err
		}
	}
	return nil
}

// Candid type opcodes (the Candid spec's type table encoding).
const (
	ctNull      = -1
	ctBool      = -2
	ctNat       = -3
	ctInt       = -4
	ctNat8      = -5
	ctNat16     = -6
	ctNat32     = -7
	ctNat64     = -8
	ctInt8      = -9
	ctInt16     = -10
	ctInt32     = -11
	ctInt64     = -12
	ctFloat32   = -13
	ctFloat64   = -14
	ctText      = -15
	ctReserved  = -16
	ctEmpty     = -17
	ctOpt       = -18
	ctVec       = -19
	ctRecord    = -20
	ctVariant   = -21
	ctFunc      = -22
	ctService   = -23
	ctPrincipal = -24
)

// maxCandidDepth bounds the nesting of types and values.
const maxCandidDepth = 64

// ctEntry is one type table entry: its opcode and the types it names (the
// element of opt and vec, the fields of record and variant in order).
type ctEntry struct {
	op   int64
	refs []int64
}

type candidWalker struct {
	r      *bytes.Reader
	table  []ctEntry
	budget int // steps left; every type and value visited costs one
}

func (w *candidWalker) step() error {
	w.budget--
	if w.budget < 0 {
		return errors.New("message takes too much work to decode for its size")
	}
	return nil
}

// count reads a ULEB128 count or length that the rest must hold.
func (w *candidWalker) count(what string) (int, error) {
	n, err := leb128.DecodeUnsigned(w.r)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	if !n.IsUint64() || n.Uint64() > uint64(w.r.Len()) {
		return 0, fmt.Errorf("%s %s exceeds the %d bytes left", what, n, w.r.Len())
	}
	return int(n.Uint64()), nil
}

func (w *candidWalker) skip(n int) error {
	if n > w.r.Len() {
		return fmt.Errorf("%d bytes needed, %d left", n, w.r.Len())
	}
	_, err := w.r.Seek(int64(n), io.SeekCurrent)
	return err
}

// typeRef reads a type reference: a primitive opcode or a table index.
func (w *candidWalker) typeRef(what string) (int64, error) {
	v, err := leb128.DecodeSigned(w.r)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	if !v.IsInt64() {
		return 0, fmt.Errorf("%s %s out of range", what, v)
	}
	t := v.Int64()
	if t >= int64(len(w.table)) && w.table != nil {
		return 0, fmt.Errorf("%s %d is not in the type table of %d", what, t, len(w.table))
	}
	if t < 0 && (t < ctPrincipal || (t <= ctOpt && t >= ctService)) {
		// Constructors live in the table; future types are not accepted.
		return 0, fmt.Errorf("%s %d is not a primitive type", what, t)
	}
	return t, nil
}

func (w *candidWalker) typeTable() error {
	n, err := w.count("type table length")
	if err != nil {
		return err
	}
	w.table = make([]ctEntry, n)
	for i := range w.table {
		op, err := leb128.DecodeSigned(w.r)
		if err != nil || !op.IsInt64() {
			return fmt.Errorf("type %d opcode: %v", i, err)
		}
		e := ctEntry{op: op.Int64()}
		ref := func(what string) error {
			t, err := w.typeRef(what)
			e.refs = append(e.refs, t)
			return err
		}
		switch e.op {
		case ctOpt, ctVec:
			if err := ref("element type"); err != nil {
				return err
			}
		case ctRecord, ctVariant:
			fields, err := w.count("field count")
			if err != nil {
				return err
			}
			for range fields {
				if _, err := leb128.DecodeUnsigned(w.r); err != nil {
					return fmt.Errorf("field id: %w", err)
				}
				if err := ref("field type"); err != nil {
					return err
				}
			}
		case ctFunc:
			for _, what := range []string{"argument count", "result count"} {
				params, err := w.count(what)
				if err != nil {
					return err
				}
				for range params {
					if _, err := w.typeRef("parameter type"); err != nil {
						return err
					}
				}
			}
			ann, err := w.count("annotation count")
			if err != nil {
				return err
			}
			if err := w.skip(ann); err != nil {
				return err
			}
		case ctService:
			methods, err := w.count("method count")
			if err != nil {
				return err
			}
			for range methods {
				l, err := w.count("method name length")
				if err != nil {
					return err
				}
				if err := w.skip(l); err != nil {
					return err
				}
				if _, err := w.typeRef("method type"); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("type %d: opcode %d is not a type constructor the simulator accepts", i, e.op)
		}
		w.table[i] = e
	}
	// Depth-first search for a cycle: 1 = on the current path, 2 = done.
	state := make([]uint8, len(w.table))
	var visit func(i int64, depth int) error
	visit = func(i int64, depth int) error {
		if depth > maxCandidDepth {
			return errors.New("types nest too deep")
		}
		switch state[i] {
		case 1:
			return fmt.Errorf("type %d is recursive", i)
		case 2:
			return nil
		}
		state[i] = 1
		for _, j := range w.table[i].refs {
			if j >= 0 {
				if err := visit(j, depth+1); err != nil {
					return err
				}
			}
		}
		state[i] = 2
		return nil
	}
	for i := range w.table {
		if err := visit(int64(i), 0); err != nil {
			return err
		}
	}
	return nil
}

func (w *candidWalker) leb() error {
	for {
		b, err := w.r.ReadByte()
		if err != nil {
			return errors.New("truncated LEB128")
		}
		if b < 0x80 {
			return nil
		}
	}
}

// value walks one value of type t.
func (w *candidWalker) value(t int64, depth int) error {
	if err := w.step(); err != nil {
		return err
	}
	if depth > maxCandidDepth {
		return errors.New("values nest too deep")
	}
	if t >= 0 {
		e := w.table[t]
		switch e.op {
		case ctOpt:
			tag, err := w.r.ReadByte()
			if err != nil || tag > 1 {
				return errors.New("bad opt tag")
			}
			if tag == 1 {
				return w.value(e.refs[0], depth+1)
			}
			return nil
		case ctVec:
			n, err := w.count("vector length")
			if err != nil {
				return err
			}
			if e.refs[0] == ctNat8 {
				return w.skip(n)
			}
			for range n {
				if err := w.value(e.refs[0], depth+1); err != nil {
					return err
				}
			}
			return nil
		case ctRecord:
			for _, f := range e.refs {
				if err := w.value(f, depth+1); err != nil {
					return err
				}
			}
			return nil
		case ctVariant:
			i, err := leb128.DecodeUnsigned(w.r)
			if err != nil || !i.IsUint64() || i.Uint64() >= uint64(len(e.refs)) {
				return errors.New("bad variant index")
			}
			return w.value(e.refs[i.Uint64()], depth+1)
		case ctFunc:
			if err := w.skip(2); err != nil { // 1 1: a public reference
				return err
			}
			for _, what := range []string{"principal length", "method name length"} {
				l, err := w.count(what)
				if err != nil {
					return err
				}
				if err := w.skip(l); err != nil {
					return err
				}
			}
			return nil
		case ctService:
			return w.principal()
		}
		return fmt.Errorf("type %d cannot hold a value", t)
	}
	switch t {
	case ctNull, ctReserved:
		return nil
	case ctBool, ctNat8, ctInt8:
		return w.skip(1)
	case ctNat16, ctInt16:
		return w.skip(2)
	case ctNat32, ctInt32, ctFloat32:
		return w.skip(4)
	case ctNat64, ctInt64, ctFloat64:
		return w.skip(8)
	case ctNat, ctInt:
		return w.leb()
	case ctText:
		l, err := w.count("text length")
		if err != nil {
			return err
		}
		return w.skip(l)
	case ctPrincipal:
		return w.principal()
	}
	return fmt.Errorf("type %d cannot hold a value", t)
}

// principal walks a principal value: 1 (a reference), its length, its bytes.
func (w *candidWalker) principal() error {
	if err := w.skip(1); err != nil {
		return err
	}
	l, err := w.count("principal length")
	if err != nil {
		return err
	}
	return w.skip(l)
}
