// Package signer is the cron-scheduled payout daemon's stage: on the
// schedule (robfig/cron/v3) it runs one pass over a DAO's periods and pays
// every period that is minted, allocated, planned, approved and unpaid,
// through the payout stage (the same checks and exactly-once steps as
// `nodeshare payout run`).
//
// It owns: never two passes at once, a panic never ending the schedule,
// the catch-up of slots missed while down (the last completed slot behind
// the Slots port), and a bounded stop. It never decides an amount and
// never signs by itself: the payout stage does both, behind its ports.
// The key and its Vault token are cmd's wiring (opened on first use, so a
// signer started while Vault is sealed keeps its schedule).
package signer
