// Package process is the entitlement processor's stage (`nodeshare
// process`): it runs the rules of pipeline/entitle and pipeline/rates over
// the event log and publishes what they decide.
//
// It owns, for each batch the consume loop (connectors/kafka.ConsumeStage)
// hands it:
//   - validation: every input record is strictly decoded and validated
//     (pipeline/entitle.Validate) on every core, for the next batch while
//     the current one is handled (stage.BatchHandler.Prepare); an invalid
//     record becomes a dead letter (DLQ v1, schemas.DeadLetterRecord) with
//     the reason, and the stream goes on;
//   - ordering: the records are handled in batch order; for each NNS
//     reward the state (pools, contributions, NRC weights, the pools'
//     lifecycle states, earlier entitlements) is rebuilt by reading those
//     topics to their end, the reward is decided once
//     (entitle.State.Allocated) and its pool periods and entitlements are
//     published once (stage.Publisher); then the batch's derived rates
//     (avg30, nns: rates.go); then its dead letters;
//   - durable before effect: Handle returns nil only once every output is
//     acknowledged by the log, and only then does the loop commit the
//     offsets. A crash anywhere delivers the batch again; outputs have
//     deterministic keys and contents and are published once, so a
//     redelivery adds nothing and a partly published reward is completed.
//     The kill tests stop it between the two halves of a reward's facts
//     (CrashMidPublish, through stage.Crash).
//
// Retries: the stage does not repeat a failed publish or read itself; the
// error stops the loop without a commit and the batch is delivered again
// (idempotent). The log's connector waits for a topic that is not ready
// (retry.Do in connectors/kafka).
//
// It never decides money (pipeline/entitle and pipeline/allocation do) and
// never imports a connector or a driver: it reads and writes the log
// through its port, Log (ports.go), which cmd/nodeshare fills with
// connectors/kafka.Log.
package process
