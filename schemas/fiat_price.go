package schemas

import "fmt"

// Fiat prices of ICP, for the tax value of every transfer (issue 15 part 3,
// docs/connectors.md "Fiat prices"). They come from a public price API
// outside the IC (the Exchange Rate Canister charges cycles per call, so an
// off-chain reader cannot ask it), hence the "ext." topic: these facts are
// not certified by the IC, they carry the provenance of the HTTP read.

// TopicFiatPrices holds ICP's price in a fiat currency, one record per
// source, currency and point in time. Compacted like the other fact topics
// whose key says everything (a fact never changes, so compaction keeps
// every key).
const TopicFiatPrices = "ext.icp-fiat-prices.v1"

// TypeFiatPrice is a FiatPrice on TopicFiatPrices.
const TypeFiatPrice = "icp_fiat_price"

// ExtTopics are the topics of facts from outside the IC; Topics() includes
// them.
func ExtTopics() []TopicSpec {
	return []TopicSpec{
		{Name: TopicFiatPrices, Partitions: 1, Compacted: true, Key: "<source>/<currency>/<timestamp seconds>"},
	}
}

// MaxFiatPriceMicros bounds FiatPrice.PriceMicros: 10^9 units of any fiat
// currency per ICP (10^15 micros). No currency's price of ICP comes near
// it (even in the currencies with the smallest unit), and it keeps sums of
// many prices far from int64's limit.
const MaxFiatPriceMicros int64 = 1_000_000_000_000_000

// maxFiatTimestampSeconds is 9999-12-31T23:59:59Z: a timestamp beyond it
// is not a Unix time in seconds (milliseconds read as seconds, say).
const maxFiatTimestampSeconds = 253_402_300_799

// FiatPrice is ICP's price in one fiat currency at one instant, as a price
// source reported it. Integer on the wire: PriceMicros is fiat micro-units
// per 1 ICP (12.345678 USD is 12345678); the connector rounds the source's
// decimal text half to even to whole micros.
type FiatPrice struct {
	// Source names the price API the price comes from ("coingecko"):
	// lower-case letters, digits, '.', '_' and '-', no '/' (it is the
	// first part of the key).
	Source string `json:"source"`
	// Currency is the lower-case ISO 4217 code ("usd", "eur", "chf").
	Currency string `json:"currency"`
	// TimestampSeconds is the Unix time (UTC) the price is for.
	TimestampSeconds uint64 `json:"timestamp_seconds"`
	// PriceMicros is fiat micro-units per 1 ICP, in (0, MaxFiatPriceMicros].
	PriceMicros int64 `json:"price_micros"`
}

// Validate checks every field, naming the field and the value it refuses.
func (p FiatPrice) Validate() error {
	if err := ValidateFiatSource(p.Source); err != nil {
		return fmt.Errorf("fiat price: %w", err)
	}
	if err := ValidateCurrency(p.Currency); err != nil {
		return fmt.Errorf("fiat price: %w", err)
	}
	if p.TimestampSeconds == 0 || p.TimestampSeconds > maxFiatTimestampSeconds {
		return fmt.Errorf("fiat price: timestamp_seconds must be in [1, %d] (a Unix time in seconds), got %d", uint64(maxFiatTimestampSeconds), p.TimestampSeconds)
	}
	if p.PriceMicros <= 0 || p.PriceMicros > MaxFiatPriceMicros {
		return fmt.Errorf("fiat price: price_micros must be in [1, %d], got %d", MaxFiatPriceMicros, p.PriceMicros)
	}
	return nil
}

// ValidateCurrency checks a currency code: three lower-case ASCII letters
// (ISO 4217 in lower case, as the price APIs spell it).
func ValidateCurrency(c string) error {
	ok := len(c) == 3
	for i := 0; ok && i < len(c); i++ {
		ok = c[i] >= 'a' && c[i] <= 'z'
	}
	if !ok {
		return fmt.Errorf("currency must be 3 lower-case letters (ISO 4217, e.g. \"usd\"), got %q", c)
	}
	return nil
}

// ValidateFiatSource checks a price source's name: 1 to 64 of a-z, 0-9,
// '.', '_', '-'.
func ValidateFiatSource(s string) error {
	ok := len(s) >= 1 && len(s) <= 64
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("source must be 1 to 64 of a-z, 0-9, '.', '_', '-', got %q", s)
	}
	return nil
}

// DecodeFiatPrice decodes an envelope of type TypeFiatPrice strictly
// (unknown fields are errors) and validates the price.
func DecodeFiatPrice(env Envelope) (FiatPrice, error) {
	var p FiatPrice
	if err := env.DecodePayload(TypeFiatPrice, &p); err != nil {
		return FiatPrice{}, err
	}
	if err := p.Validate(); err != nil {
		return FiatPrice{}, fmt.Errorf("event %s: %w", env.EventID, err)
	}
	return p, nil
}
