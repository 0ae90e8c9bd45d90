package dashboard

import (
	"net/url"
	"strings"
)

// IsMainnet reports whether icURL is a mainnet IC endpoint (icp0.io,
// ic0.app, icp-api.io, internetcomputer.org and their subdomains).
func IsMainnet(icURL string) bool {
	u, err := url.Parse(icURL)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	for _, m := range []string{"icp0.io", "ic0.app", "icp-api.io", "internetcomputer.org"} {
		if h == m || strings.HasSuffix(h, "."+m) {
			return true
		}
	}
	return false
}

// DefaultURLFor is the dashboard API that goes with an IC endpoint: the
// public API for mainnet, the simulator's copy (<ic url>/dashboard/api/v3)
// otherwise.
func DefaultURLFor(icURL string) string {
	if IsMainnet(icURL) {
		return DefaultBaseURL
	}
	return strings.TrimSuffix(icURL, "/") + "/dashboard/api/v3"
}
