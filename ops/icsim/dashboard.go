package icsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"
)

// The public dashboard REST API (docs/ic-interfaces.md §2.4), served under
// /dashboard/api/v3 so connectors/dashboard can be tested without mocks. By
// default it reports what the simulated CMC holds (the dashboard mirrors the
// CMC on mainnet); DashboardRates overrides the values, for example to make
// the two sources disagree, and can inject HTTP 503s.
//
//	GET /dashboard/api/v3/icp-xdr-conversion-rates      {"icp_xdr_conversion_rates": [[unix_s, permyriad], …]} newest first
//	GET /dashboard/api/v3/avg-icp-xdr-conversion-rates  {"avg_icp_xdr_conversion_rates": [[unix_s, permyriad], …]}
//
// The average endpoint's JSON key on mainnet is UNVERIFIED; the connector
// accepts both keys.

// DashboardPath is the URL prefix of the simulated dashboard API.
const DashboardPath = "/dashboard/api/v3"

// DashboardRates overrides what the simulated dashboard reports.
type DashboardRates struct {
	// Spot and Average replace the CMC's rate and 30-day average.
	Spot    *DashboardPoint `json:"spot,omitempty"`
	Average *DashboardPoint `json:"average,omitempty"`
	// ValuesAsStrings sends the rates as JSON strings instead of numbers
	// (the dashboard does both).
	ValuesAsStrings bool `json:"values_as_strings,omitempty"`
	// FailNext answers the next N dashboard requests with HTTP 503.
	FailNext int `json:"fail_next,omitempty"`
	// DelayMillis delays every dashboard response (timeouts).
	DelayMillis int64 `json:"delay_ms,omitempty"`
}

// DashboardPoint is one [timestamp, rate] point; the rate is decimal text
// (XDR permyriad per ICP, fractions allowed).
type DashboardPoint struct {
	TimestampSeconds   uint64 `json:"timestamp_seconds"`
	XDRPermyriadPerICP string `json:"xdr_permyriad_per_icp"`
}

var decimalText = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

func (d *DashboardRates) validate() error {
	for _, p := range []*DashboardPoint{d.Spot, d.Average} {
		if p == nil {
			continue
		}
		if !decimalText.MatchString(p.XDRPermyriadPerICP) {
			return fmt.Errorf("xdr_permyriad_per_icp %q is not a decimal number", p.XDRPermyriadPerICP)
		}
	}
	if d.FailNext < 0 || d.DelayMillis < 0 {
		return fmt.Errorf("fail_next and delay_ms must be >= 0, got %d and %d", d.FailNext, d.DelayMillis)
	}
	return nil
}

// dashboardState is in memory only, like Faults: it is a test knob, not
// canister state.
type dashboardState struct {
	rates *DashboardRates
}

// dashboardRoutes serves the dashboard API and the admin routes of the
// dashboard and NRC knobs.
func (s *Server) dashboardRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+DashboardPath+"/icp-xdr-conversion-rates", s.dashboardRates("icp_xdr_conversion_rates", false))
	mux.HandleFunc("GET "+DashboardPath+"/avg-icp-xdr-conversion-rates", s.dashboardRates("avg_icp_xdr_conversion_rates", true))
	mux.HandleFunc("GET /admin/nrc", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		writeJSON(w, http.StatusOK, s.nrc)
	})
	mux.HandleFunc("POST /admin/nrc/days", func(w http.ResponseWriter, r *http.Request) {
		var days []NodeDay
		if !decodeJSON(w, r, &days) {
			return
		}
		if err := s.ApplyScenario(Scenario{NodeDailyRewards: days}); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /admin/nrc/nodes", s.adminNRCAddNode)
	mux.HandleFunc("DELETE /admin/nrc/nodes/{node_id}", s.adminNRCRemoveNode)
	mux.HandleFunc("POST /admin/dashboard", func(w http.ResponseWriter, r *http.Request) {
		var d DashboardRates
		if !decodeJSON(w, r, &d) {
			return
		}
		if err := s.ApplyScenario(Scenario{Dashboard: &d}); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
}

func (s *Server) dashboardRates(key string, average bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		o := s.dash.rates
		if o != nil && o.DelayMillis > 0 {
			d := time.Duration(o.DelayMillis) * time.Millisecond
			s.mu.Unlock()
			s.sleep(r.Context(), d)
			s.mu.Lock()
			o = s.dash.rates
		}
		if o != nil && o.FailNext > 0 {
			o.FailNext--
			s.mu.Unlock()
			http.Error(w, `{"error":"simulated dashboard outage"}`, http.StatusServiceUnavailable)
			return
		}
		var pt *DashboardPoint
		if c := s.cmc.Rate; !average && c != nil {
			pt = &DashboardPoint{TimestampSeconds: c.TimestampSeconds, XDRPermyriadPerICP: strconv.FormatUint(c.XDRPermyriadPerICP, 10)}
		}
		if c := s.cmc.Average; average && c != nil {
			pt = &DashboardPoint{TimestampSeconds: c.TimestampSeconds, XDRPermyriadPerICP: strconv.FormatUint(c.XDRPermyriadPerICP, 10)}
		}
		asStrings := false
		if o != nil {
			if !average && o.Spot != nil {
				pt = o.Spot
			}
			if average && o.Average != nil {
				pt = o.Average
			}
			asStrings = o.ValuesAsStrings
		}
		s.mu.Unlock()
		points := []any{}
		if pt != nil {
			var v any = json.RawMessage(pt.XDRPermyriadPerICP)
			if asStrings {
				v = pt.XDRPermyriadPerICP
			}
			points = append(points, []any{pt.TimestampSeconds, v})
		}
		writeJSON(w, http.StatusOK, map[string]any{key: points})
	}
}
