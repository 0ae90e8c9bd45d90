// Package serve is the stage of `nodeshare serve`: the read-only pages
// sponsors, finance and auditors read (docs/serve.md). It owns what each
// page shows, computed from the report stage's outcome
// (pipeline/stage/report: every manifest reconciled, every transfer with
// its block and value) and a few reads of the same Store: the DAO page
// (periods and their reconciliation state, each pool's reward split
// between the whale, the other sponsors, the hoster fee and the DAO fee,
// the distribution of the sponsors' shares, the treasury's balance block
// by block), a period's full report (pipeline/report.WriteHTML), and a
// sponsor's page (stakes per pool, every payout with its block, links to
// the statements). It renders them with html/template (every value
// escaped), its stylesheet embedded, its charts inline SVG drawn here: no
// script, no external resource, so the pages work offline.
//
// It never writes: the report stage runs with Save off, and the store
// cmd/nodeshare gives it is a read-only ClickHouse session. It never
// imports net/http (ops/arch): connectors/web serves Site over HTTP,
// mapping the errors' BadInput and NotFound to 400 and 404. Statements
// are written by a function cmd injects (Config.Statement); without one,
// no statement link is shown.
package serve
