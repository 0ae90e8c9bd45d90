// Package servetest holds what the tests of the serve stage and of its
// HTTP door (connectors/web) share: the report stage's store in memory
// (Store) and a fixed scenario with known numbers (New). Never used by a
// command.
package servetest
