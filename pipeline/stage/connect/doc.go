// Package connect is the stage of `nodeshare connect`: it brings the facts
// of the Internet Computer into the event log. On each poll it reads NNS
// Governance's node-provider reward events, the CMC's certified ICP/XDR
// rates, the public dashboard's rates (cross-checked against the CMC's)
// and the Node Rewards Canister's per-node days, and publishes each fact
// once, under the key schemas/keys.go gives its topic, with the provenance
// of the read (docs/connectors.md).
//
// It owns:
//   - the order of a poll: rewards, CMC, dashboard, NRC, then one publish
//     of everything read (connector.go). A failing source does not stop
//     the others; their errors are joined into the poll's.
//   - where the reward history resumes: the first poll pages Governance
//     from Config.SinceSeconds or from the newest reward already on the
//     topic; later polls ask for the most recent event and page again only
//     when more than one period was missed (rewards.go);
//   - which NRC days are read and when a period's weights are complete
//     (nrc.go, weights.go);
//   - retries: every call of a source runs through pipeline/stage/retry
//     with a per-call timeout (Connector.call): a transient failure, as
//     retry.Classify sorts it, is tried again with exponential backoff and
//     jitter up to Config.Attempts times; anything else fails the call at
//     once. The dashboard port retries itself (it honours Retry-After), so
//     the stage only bounds it;
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
//     that pays;
//   - overwrite a fact: a key already on its topic with other content is
//     reported (schemas.ConflictError) for a person, never republished;
//   - import a connector, a driver, net/http, os or database/sql. It talks
//     to the outside through its ports (ports.go), which speak schemas
//     types (schemas/ic_sources.go): connectors/ic/connect_port.go,
//     connectors/dashboard/connect_port.go and connectors/kafka.Log fill
//     them, wired by cmd/nodeshare/connect.go; the tests use in-memory
//     fakes (fakes_test.go).
package connect
