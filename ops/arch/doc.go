// Package arch holds the test that keeps nodeshare's dependency arrows
// pointing one way (README "Architecture"): cmd -> connectors ->
// pipeline rules -> schemas, and cmd -> pipeline/stage -> pipeline rules
// -> schemas. It reads the import graph with `go list` and fails on a
// wrong import, naming the package and the import.
package arch
