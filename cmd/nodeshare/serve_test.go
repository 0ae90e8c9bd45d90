package main

import (
	"strings"
	"testing"
)

// serve's flags are checked before anything connects: each bad value is
// an error naming the flag (exit 2).
func TestServeFlagsAreStrict(t *testing.T) {
	const treasury = "uzntf-pot5s-2lodi-p7c5t-anvcf-cegba-fc32z-nhzeh-tn6gd-dtxxj-kae"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dao", "d", "--treasury", treasury, "--listen", "18090"}, "--listen must be host:port"},
		{[]string{"--dao", "d", "--treasury", treasury, "--listen", "127.0.0.1:http"}, "the port must be a number"},
		{[]string{"--dao", "d,d", "--treasury", treasury}, `--dao "d" is empty or given twice`},
		{[]string{"--dao", "d", "--treasury", "not-a-principal"}, "--treasury"},
		{[]string{"--dao", "d", "--treasury", treasury, "--currency", "USD"}, "--currency"},
		{[]string{"--treasury", treasury}, "--dao"},
	} {
		code, out, stderr := runMain(t, append([]string{"serve"}, c.args...)...)
		if code != 2 || out != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("serve %v: exit %d, stderr %q (want exit 2 naming %q)", c.args, code, stderr, c.want)
		}
	}
	t.Setenv("NODESHARE_SERVE_LISTEN", "localhost")
	if code, _, stderr := runMain(t, "serve", "--dao", "d", "--treasury", treasury); code != 2 || !strings.Contains(stderr, "NODESHARE_SERVE_LISTEN") {
		t.Errorf("NODESHARE_SERVE_LISTEN=localhost: exit %d, %q", code, stderr)
	}
}
