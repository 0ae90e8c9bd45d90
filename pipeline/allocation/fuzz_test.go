package allocation

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// FuzzDecodePoolPeriod: any bytes either decode or give ErrInvalidInput;
// nothing panics; a decoded input either allocates or gives ErrInvalidInput
// (never ErrInvariant); an allocation passes every property; the input
// round-trips through EncodePoolPeriodJSON to the same result and hash; the
// output is valid JSON. Seeds: testdata/fuzz/FuzzDecodePoolPeriod.
func FuzzDecodePoolPeriod(f *testing.F) {
	f.Add([]byte(baseInput))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"pool_id":"p","period":"x","gross_e8s":9223372036854775807,"xdr_permyriad_per_icp":1,"hoster":{"account":"h","fixed_xdr_permyriad":0,"bps":0},"dao_fee_bps":0,"whale_premium_bps":9999,"ledger_fee_e8s":0,"min_payout_e8s":0,"contributions":[{"id":"a","sponsor":"a","amount_e8s":1,"at":"2026-01-01T00:00:00Z"},{"id":"b","sponsor":"b","amount_e8s":1,"at":"2026-01-01T00:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := decodePoolPeriod(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("decode error is not ErrInvalidInput: %v", err)
			}
			return
		}
		r, err := Allocate("v1", in)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("Allocate: %v", err)
			}
			return
		}
		if err := checkProperties(in, r); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := EncodePoolPeriodJSON(&buf, in); err != nil {
			t.Fatal(err)
		}
		in2, err := decodePoolPeriod(buf.Bytes())
		if err != nil {
			t.Fatalf("re-decoding the encoded input: %v\n%s", err, buf.Bytes())
		}
		r2, err := Allocate("v1", in2)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the result: %v", err)
		}
		buf.Reset()
		if err := EncodeResultJSON(&buf, r); err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, buf.Bytes())
		}
	})
}

// FuzzAllocate drives random pools (randomPool from the fuzzed seed) with
// fuzzed gross, premium and fees, using the invariants and the decimal
// reference model as the oracle, plus permutation invariance.
func FuzzAllocate(f *testing.F) {
	f.Add(uint64(1), int64(1_000_000_000), int64(3500), int64(10_000), int64(0))
	f.Add(uint64(2), int64(money.MaxE8s), int64(9999), int64(0), int64(1_000_000))
	f.Add(uint64(3), int64(7), int64(0), int64(1), int64(1))
	f.Fuzz(func(t *testing.T, seed uint64, gross, premium, fee, minPayout int64) {
		rng := rand.New(rand.NewPCG(seed, 11))
		in := randomPool(rng)
		if in.Proposal == nil || in.Proposal.Status != ProposalRejected {
			in.GrossE8s = money.E8s(gross)
		}
		in.WhalePremiumBps, in.LedgerFeeE8s, in.MinPayoutE8s = money.Bps(premium), money.E8s(fee), money.E8s(minPayout)
		r, err := Allocate("v1", in)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("seed %d: %v", seed, err)
			}
			return
		}
		if err := checkProperties(in, r); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		r2, err := Allocate("v1", permute(rng, in))
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("seed %d: permutation changed the result (%v)", seed, err)
		}
	})
}
