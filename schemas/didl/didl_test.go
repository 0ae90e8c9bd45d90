package didl

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/aviate-labs/agent-go/candid"
	"github.com/aviate-labs/agent-go/candid/idl"
	"github.com/aviate-labs/agent-go/principal"
)

// Shapes like the ledger's: records with opt fields, blobs, nat, a
// principal, and a result variant with record and null arms.
type account struct {
	Owner      principal.Principal `ic:"owner"`
	Subaccount *[]byte             `ic:"subaccount,omitempty"`
}

type transferArg struct {
	FromSubaccount *[]byte  `ic:"from_subaccount,omitempty"`
	To             account  `ic:"to"`
	Amount         idl.Nat  `ic:"amount"`
	Fee            *idl.Nat `ic:"fee,omitempty"`
	Memo           *[]byte  `ic:"memo,omitempty"`
	CreatedAtTime  *uint64  `ic:"created_at_time,omitempty"`
}

type transferError struct {
	BadFee *struct {
		ExpectedFee idl.Nat `ic:"expected_fee"`
	} `ic:"BadFee,variant"`
	TooOld    *idl.Null `ic:"TooOld,variant"`
	Duplicate *struct {
		DuplicateOf idl.Nat `ic:"duplicate_of"`
	} `ic:"Duplicate,variant"`
	GenericError *struct {
		ErrorCode idl.Nat `ic:"error_code"`
		Message   string  `ic:"message"`
	} `ic:"GenericError,variant"`
}

type transferResult struct {
	Ok  *idl.Nat       `ic:"Ok,variant"`
	Err *transferError `ic:"Err,variant"`
}

func randomArgs(r *rand.Rand) []any {
	blob := func() *[]byte {
		if r.IntN(2) == 0 {
			return nil
		}
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return &b
	}
	a := transferArg{To: account{Owner: principal.Principal{Raw: *orEmpty(blob())}, Subaccount: blob()},
		Amount: idl.NewNat(r.Uint64()), FromSubaccount: blob(), Memo: blob()}
	if r.IntN(2) == 0 {
		f := idl.NewNat(r.Uint64N(1 << 20))
		a.Fee = &f
	}
	if r.IntN(2) == 0 {
		t := r.Uint64()
		a.CreatedAtTime = &t
	}
	var res transferResult
	switch r.IntN(5) {
	case 0:
		n := idl.NewNat(r.Uint64())
		res.Ok = &n
	case 1:
		res.Err = &transferError{TooOld: new(idl.Null)}
	case 2:
		res.Err = &transferError{Duplicate: &struct {
			DuplicateOf idl.Nat `ic:"duplicate_of"`
		}{idl.NewNat(r.Uint64())}}
	case 3:
		res.Err = &transferError{BadFee: &struct {
			ExpectedFee idl.Nat `ic:"expected_fee"`
		}{idl.NewNat(r.Uint64())}}
	default:
		res.Err = &transferError{GenericError: &struct {
			ErrorCode idl.Nat `ic:"error_code"`
			Message   string  `ic:"message"`
		}{idl.NewNat(r.Uint64()), "m\u00e9ssage"}}
	}
	switch r.IntN(4) {
	case 0:
		return []any{a}
	case 1:
		return []any{res}
	case 2:
		return []any{idl.NewNat(r.Uint64())}
	default:
		return []any{a, res, r.Uint64()}
	}
}

func orEmpty(b *[]byte) *[]byte {
	if b == nil {
		return &[]byte{}
	}
	return b
}

// Marshal writes exactly candid.Marshal's bytes, for fresh and cached
// types alike, whatever optional fields and variant arms are set.
func TestMarshalMatchesCandid(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		args := randomArgs(r)
		want, err := candid.Marshal(args)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Marshal(args...)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d %#v:\ngot  %x\nwant %x", i, args, got, want)
		}
	}
}

// Value-dependent types are never cached: they go through candid.Marshal.
func TestValueTypedArgsAreNotCached(t *testing.T) {
	for _, args := range [][]any{
		{[]any{uint8(1)}}, {[]any{"x"}},
		{map[string]any{"a": uint8(1)}}, {map[string]any{"a": "b"}},
		{idl.Variant{Name: "A", Value: uint8(1)}}, {idl.Variant{Name: "B", Value: "s"}},
	} {
		want, err := candid.Marshal(args)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Marshal(args...)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%#v: %v\ngot  %x\nwant %x", args, err, got, want)
		}
		if _, ok := keyOf(args); ok {
			t.Fatalf("%#v would be cached", args)
		}
	}
}

func BenchmarkMarshalTransferArg(b *testing.B) {
	f := idl.NewNat(uint64(10_000))
	ts := uint64(1)
	memo := []byte("0123456789abcdef0123456789abcdef")
	a := transferArg{To: account{Owner: principal.AnonymousID}, Amount: idl.NewNat(uint64(123)), Fee: &f, Memo: &memo, CreatedAtTime: &ts}
	b.Run("candid.Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := candid.Marshal([]any{a}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("didl.Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := Marshal(a); err != nil {
				b.Fatal(err)
			}
		}
	})
}
