// Package prices is the connector to a public price API for ICP's price in
// fiat money: the CoinGecko-compatible
//
//	GET {base}/api/v3/coins/{coin}/market_chart/range?vs_currency={currency}&from={unix s}&to={unix s}
//	{"prices": [[unix_millis, price], ...], "market_caps": ..., "total_volumes": ...}
//
// that https://api.coingecko.com and the simulator's /coingecko root
// (ops/icsim) serve. Reports value every transfer in fiat at its block time
// (issue 15 part 3); the IC's Exchange Rate Canister charges cycles per call,
// so an off-chain reader takes a public API instead.
//
// It owns HTTP details (timeouts, retries of transient failures through
// pipeline/stage/retry, Retry-After, size limits, the optional API key
// header) and the decoding of the answer: each price is read from the raw
// JSON number text with shopspring/decimal (json.Number, never float64) and
// rounded half to even to whole fiat micro-units per ICP, the integer on the
// wire (schemas.FiatPrice). An answer with a negative, zero, non-numeric or
// absurd price is refused whole, with an error naming the point.
//
// It must never be the source of a fact that moves money: the prices are
// not certified by the IC and only value transfers for reports. It never
// decides which window to read or what was already published: the connect
// stage (pipeline/stage/connect) does, through its Prices port, which
// ConnectSource (connect_port.go) fills.
package prices
