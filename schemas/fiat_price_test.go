package schemas

import (
	"strings"
	"testing"
)

func TestFiatPriceValidate(t *testing.T) {
	good := FiatPrice{Source: "coingecko", Currency: "usd", TimestampSeconds: 1_760_000_000, PriceMicros: 12_345_678}
	if err := good.Validate(); err != nil {
		t.Fatalf("good price: %v", err)
	}
	for _, c := range []struct {
		mod  func(*FiatPrice)
		want string
	}{
		{func(p *FiatPrice) { p.Source = "" }, `fiat price: source must be 1 to 64 of a-z, 0-9, '.', '_', '-', got ""`},
		{func(p *FiatPrice) { p.Source = "coin/gecko" }, `got "coin/gecko"`},
		{func(p *FiatPrice) { p.Source = "CoinGecko" }, `got "CoinGecko"`},
		{func(p *FiatPrice) { p.Source = strings.Repeat("a", 65) }, "source must be 1 to 64"},
		{func(p *FiatPrice) { p.Currency = "USD" }, `fiat price: currency must be 3 lower-case letters (ISO 4217, e.g. "usd"), got "USD"`},
		{func(p *FiatPrice) { p.Currency = "us" }, `got "us"`},
		{func(p *FiatPrice) { p.Currency = "usdt" }, `got "usdt"`},
		{func(p *FiatPrice) { p.Currency = "u$d" }, `got "u$d"`},
		{func(p *FiatPrice) { p.TimestampSeconds = 0 }, "fiat price: timestamp_seconds must be in [1, 253402300799] (a Unix time in seconds), got 0"},
		{func(p *FiatPrice) { p.TimestampSeconds = 1_760_000_000_000 }, "got 1760000000000"},
		{func(p *FiatPrice) { p.PriceMicros = 0 }, "fiat price: price_micros must be in [1, 1000000000000000], got 0"},
		{func(p *FiatPrice) { p.PriceMicros = -5 }, "got -5"},
		{func(p *FiatPrice) { p.PriceMicros = MaxFiatPriceMicros + 1 }, "got 1000000000000001"},
	} {
		p := good
		c.mod(&p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", p, err, c.want)
		}
	}
	edge := FiatPrice{Source: "a", Currency: "jpy", TimestampSeconds: 253_402_300_799, PriceMicros: MaxFiatPriceMicros}
	if err := edge.Validate(); err != nil {
		t.Fatalf("edges: %v", err)
	}
}

// The wire form: the key, the topic, the payload's JSON, the strict
// decode.
func TestFiatPriceContract(t *testing.T) {
	if k := FiatPriceKey("coingecko", "usd", 1_760_000_000); k != "coingecko/usd/1760000000" {
		t.Fatalf("key %s", k)
	}
	var spec *TopicSpec
	for _, ts := range Topics() {
		if ts.Name == TopicFiatPrices {
			spec = &ts
		}
	}
	if spec == nil || spec.Name != "ext.icp-fiat-prices.v1" || spec.Partitions != 1 || !spec.Compacted || spec.Key != "<source>/<currency>/<timestamp seconds>" {
		t.Fatalf("topic spec %+v", spec)
	}
	p := FiatPrice{Source: "coingecko", Currency: "usd", TimestampSeconds: 1_760_000_000, PriceMicros: 4_123_457}
	f, err := NewFact(TopicFiatPrices, TypeFiatPrice, FiatPriceKey(p.Source, p.Currency, p.TimestampSeconds), Provenance{Source: "api.coingecko.com"}, p)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"source":"coingecko","currency":"usd","timestamp_seconds":1760000000,"price_micros":4123457}`; string(f.Envelope.Payload) != want {
		t.Fatalf("payload %s, want %s", f.Envelope.Payload, want)
	}
	b, err := f.Envelope.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	env, err := DecodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeFiatPrice(env); err != nil || got != p {
		t.Fatalf("decoded %+v %v", got, err)
	}
	// Another type, an unknown field, an invalid value: refused, named.
	other, _ := NewEnvelope(TypeRate, "k", Provenance{}, Rate{Kind: "spot", TimestampSeconds: 1, XDRPermyriadPerICP: 2})
	if _, err := DecodeFiatPrice(other); err == nil || !strings.Contains(err.Error(), `type must be "icp_fiat_price"`) {
		t.Fatalf("other type: %v", err)
	}
	extra, _ := NewEnvelope(TypeFiatPrice, "k", Provenance{}, map[string]any{"source": "coingecko", "currency": "usd", "timestamp_seconds": 1, "price_micros": 1, "price": 1.5})
	if _, err := DecodeFiatPrice(extra); err == nil || !strings.Contains(err.Error(), "price") {
		t.Fatalf("unknown field: %v", err)
	}
	float, _ := NewEnvelope(TypeFiatPrice, "k", Provenance{}, map[string]any{"source": "coingecko", "currency": "usd", "timestamp_seconds": 1, "price_micros": 1.5})
	if _, err := DecodeFiatPrice(float); err == nil {
		t.Fatal("a fractional price_micros was accepted")
	}
	bad, _ := NewEnvelope(TypeFiatPrice, "coingecko/EUR/1", Provenance{}, FiatPrice{Source: "coingecko", Currency: "EUR", TimestampSeconds: 1, PriceMicros: 1})
	if _, err := DecodeFiatPrice(bad); err == nil || !strings.Contains(err.Error(), `event coingecko/EUR/1: fiat price: currency must be 3 lower-case letters (ISO 4217, e.g. "usd"), got "EUR"`) {
		t.Fatalf("invalid: %v", err)
	}
}

// The ClickHouse view of the prices is a new migration (applied
// migrations are never edited), over events_raw by event type.
func TestFiatPriceMigration(t *testing.T) {
	migs, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var m *Migration
	for i := range migs {
		if migs[i].Name == "0007_fiat_prices.sql" {
			m = &migs[i]
		}
	}
	if m == nil || m.Version != 7 || len(m.Statements) != 1 {
		t.Fatalf("migration 0007: %+v", m)
	}
	s := m.Statements[0]
	for _, want := range []string{"CREATE VIEW IF NOT EXISTS raw_icp_fiat_prices_v1", "FROM events_raw FINAL WHERE event_type = '" + TypeFiatPrice + "'",
		"JSONExtractInt(payload, 'price_micros') AS price_micros", "JSONExtractUInt(payload, 'timestamp_seconds') AS timestamp_seconds",
		"JSONExtractString(payload, 'currency') AS currency"} {
		if !strings.Contains(s, want) {
			t.Errorf("0007 lacks %q:\n%s", want, s)
		}
	}
}
