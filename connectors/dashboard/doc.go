// Package dashboard is the connector to the IC's public dashboard REST API
// (https://ic-api.internetcomputer.org/api/v3, docs/ic-interfaces.md §2.4): a second,
// uncertified source for the ICP/XDR rate and its 30-day average, used to
// cross-check the certified CMC rates that connectors/ic reads.
//
// It owns HTTP details (timeouts, retries of transient failures through
// pipeline/stage/retry, Retry-After, size limits) and the decoding of the
// dashboard's JSON, whose numbers may be JSON numbers or strings; they are
// parsed with shopspring/decimal, never through float64. It must never be
// the only source of a fact that moves money: the dashboard is not
// certified, so nodeshare pays from Governance's reward events, and the
// connect stage (pipeline/stage/connect) compares the two with
// pipeline/rates.Compare and raises an alarm when they disagree.
// ConnectSource (connect_port.go) is that stage's port to this package.
//
// There is no documented dashboard endpoint for per-provider reward amounts
// (docs/ic-interfaces.md §2.4 marks it UNVERIFIED), so this package reads rates only;
// Governance's list_node_provider_rewards stays the source of rewards.
package dashboard
