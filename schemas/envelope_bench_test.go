package schemas

import (
	"testing"
)

func benchEnvelope(b *testing.B) []byte {
	c := Contribution{DAO: "bench", PoolID: "pool-a", ContributionID: "c00000001", Sponsor: "2vxsx-fae", AmountE8s: 100_000_000, At: "2026-01-01T00:00:00Z"}
	env, err := NewEnvelope(TypeContribution, "bench/pool-a/c00000001", Provenance{Source: "bench"}, c)
	if err != nil {
		b.Fatal(err)
	}
	v, _ := env.Marshal()
	return v
}

func BenchmarkPeekEnvelope(b *testing.B) {
	v := benchEnvelope(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := PeekEnvelope(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEnvelopeStrict(b *testing.B) {
	v := benchEnvelope(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeEnvelope(v); err != nil {
			b.Fatal(err)
		}
	}
}
