// Package connect is the stage of `nodeshare connect`: it brings the facts
// of the Internet Computer into the event log. On each poll it reads NNS
// Governance's node-provider reward events, the CMC's certified ICP/XDR
// rates, the public dashboard's rates (cross-checked against the CMC's),
// the Node Rewards Canister's per-node days, the ICP ledger's blocks of the
// pools' deposit and bond accounts, and, for the pools with terms, the
// decision of their NNS proposal and their nodes joining and leaving, and
// ICP's fiat price from a public price API (for the tax value of transfers
// in reports); it publishes each fact once, under the key schemas/keys.go
// gives its topic, with the provenance of the read (docs/connectors.md).
//
// It owns:
//   - the order of a poll: rewards, CMC, dashboard, NRC, the pool watcher,
//     the fiat prices, then one publish of everything read (connector.go);
//     then the ledger, which publishes window by window (ledger.go). A failing source does
//     not stop the others; their errors are joined into the poll's.
//   - the ledger cursor: where reading resumes, kept on
//     ic.ledger-blocks.v1 as ledger_cursor records written after the
//     blocks below them, so that no block is published twice or skipped
//     across polls and restarts, and no block that was not proven against
//     the certified tip is published (ledger.go);
//   - the pool watcher: which proposals to ask Governance about and when a
//     decision is final (proposals.go), when a pool's node is up or down
//     and from when (nodes.go), in the words and the time order the
//     lifecycle rules accept (docs/pool-rules.md);
//   - where the reward history resumes: the first poll pages Governance
//     from Config.SinceSeconds or from the newest reward already on the
//     topic; later polls ask for the most recent event and page again only
//     when more than one period was missed (rewards.go);
//   - which NRC days are read and when a period's weights are complete
//     (nrc.go, weights.go);
//   - which fiat prices are read: from the newest of the series on
//     ext.icp-fiat-prices.v1 on, or the last Config.PriceDays days, in
//     windows of at most 90 days that stop at the first failure, so the
//     newest price never passes a gap (prices.go);
//   - retries: every call of a source runs through pipeline/stage/retry
//     with a per-call timeout (Connector.call): a transient failure, as
//     retry.Classify sorts it, is tried again with exponential backoff and
//     jitter up to Config.Attempts times; anything else fails the call at
//     once. The dashboard and price ports retry themselves (they honour
//     Retry-After), so the stage only bounds them;
//   - "durable before effect": the resume point moves only after the
//     publish was acknowledged, so a crash or a failed publish pages the
//     history again, and publishing once per key (stage.Publisher) makes
//     that harmless.
//
// It must never:
//   - decide money. It publishes Governance's minted amounts as Governance
//     reported them; the rules (pipeline/entitle, pipeline/allocation)
//     decide what anyone is owed. The dashboard, uncertified, only raises
//     alarms (pipeline/rates.Compare); it is never the source of a rate
//     that pays. Nor are the fiat prices, uncertified too: they value
//     transfers in reports, nothing more. Nor does it decide a pool's lifecycle: it publishes the
//     blocks, decisions and node changes it saw; pipeline/lifecycle says
//     what they do to the pool;
//   - overwrite a fact: a key already on its topic with other content is
//     reported (schemas.ConflictError) for a person, never republished;
//   - import a connector, a driver, net/http, os or database/sql. It talks
//     to the outside through its ports (ports.go), which speak schemas
//     types (schemas/ic_sources.go): connectors/ic/connect_port.go,
//     connectors/ic/ledger_port.go, connectors/ic/proposal_port.go,
//     connectors/dashboard/connect_port.go, connectors/prices/connect_port.go
//     and connectors/kafka.Log fill them, wired by cmd/nodeshare/connect.go; the tests use in-memory
//     fakes (fakes_test.go, ledger_test.go, pools_test.go).
package connect
