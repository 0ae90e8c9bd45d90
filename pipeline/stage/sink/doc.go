// Package sink is the audit-trail sink's stage (`nodeshare sink`): it
// stores every record of every nodeshare topic in the audit trail, as it
// came, hash-chained, plus the typed decision and payout rows.
//
// It owns, for each batch the consume loop (connectors/kafka.ConsumeStage)
// hands it:
//   - decoding: each record's envelope is peeked (content hash checked) and
//     its chain digest computed on every core, for the next batch while the
//     current one is stored (stage.BatchHandler.Prepare); a record it
//     cannot read is stored raw as "undecodable" and as a dead letter;
//   - ordering and the hash chain: raw rows are linked per (topic,
//     partition) in offset order (schemas.ChainLink), starting from the
//     sink's own last stored row when the batch follows it and from the
//     store's chain tip otherwise, so the chain is the same across batches,
//     restarts and redeliveries (chain.go);
//   - durable before effect: the raw rows are stored first, then the typed
//     rows (entitlements, pool periods, intents, results, dead letters);
//     Handle returns nil only once all are stored, and only then does the
//     loop commit the offsets. The kill tests stop it between the two
//     (CrashAfterRaw, through stage.Crash);
//   - idempotence: every insert carries a de-duplication token derived
//     from the coordinates it holds (the same batch gives the same tokens),
//     and the tables are keyed by the business key, so a redelivered batch
//     changes nothing visible through FINAL;
//   - retries: every insert and chain-tip read is repeated through the one
//     retry policy (retry.Do with retry.Always: a tokened insert is safe to
//     repeat whatever failed).
//
// It never decides money (it stores what the rules decided), never reads
// a clock or writes SQL, and never imports a connector or a driver: it
// writes through its port, Store (ports.go), which cmd/nodeshare fills
// with connectors/clickhouse.Store.
package sink
