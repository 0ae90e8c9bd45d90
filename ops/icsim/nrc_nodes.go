package icsim

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/aviate-labs/agent-go/principal"
)

// Nodes joining and leaving. A node span is a node of a provider from the
// day it joins (FromDay) to the day it leaves (ToDay; unset while it is in
// the network), reporting the same metrics every day. The NRC's daily
// results include every span that covers the day, next to the explicit
// node days of a scenario (an explicit entry for the same node and day
// wins). So a client that asks for the days after a node joined sees it,
// and for the days after it left does not.

// addSpan validates and records a node span; callers hold s.mu.
func (n *nrcState) addSpan(e NodeDay, today Date) (NodeDay, error) {
	if e.Day != nil {
		return e, fmt.Errorf("a node span has from_day and optionally to_day, not day")
	}
	if e.FromDay == nil {
		e.FromDay = &today
	}
	if _, err := principal.Decode(e.NodeProvider); err != nil {
		return e, fmt.Errorf("node_provider %q: %w", e.NodeProvider, err)
	}
	if _, err := principal.Decode(e.NodeID); err != nil {
		return e, fmt.Errorf("node_id %q: %w", e.NodeID, err)
	}
	if e.Subnet != "" {
		if _, err := principal.Decode(e.Subnet); err != nil {
			return e, fmt.Errorf("subnet %q: %w", e.Subnet, err)
		}
	}
	if !e.FromDay.valid() || (e.ToDay != nil && (!e.ToDay.valid() || e.ToDay.time().Before(e.FromDay.time()))) {
		return e, fmt.Errorf("node %s: from_day must be a valid date, and to_day a valid date not before it", e.NodeID)
	}
	for _, o := range n.Nodes {
		if o.NodeID == e.NodeID && spansOverlap(o, e) {
			return e, fmt.Errorf("node %s is already in the network from %s; remove it before adding it again", e.NodeID, o.FromDay)
		}
	}
	n.Nodes = append(n.Nodes, e)
	return e, nil
}

func spansOverlap(a, b NodeDay) bool {
	endsBefore := func(x, y NodeDay) bool { return x.ToDay != nil && x.ToDay.time().Before(y.FromDay.time()) }
	return !endsBefore(a, b) && !endsBefore(b, a)
}

// removeNode ends node's spans the day before from (dropping spans that
// start on or after it) and drops its explicit days from from on; false
// when the node had nothing on or after from.
func (n *nrcState) removeNode(nodeID string, from Date) bool {
	changed := false
	last := dateOf(from.time().AddDate(0, 0, -1))
	var kept []NodeDay
	for _, s := range n.Nodes {
		switch {
		case s.NodeID != nodeID || (s.ToDay != nil && s.ToDay.time().Before(from.time())):
		case !s.FromDay.time().Before(from.time()):
			changed = true
			continue
		default:
			s.ToDay = &last
			changed = true
		}
		kept = append(kept, s)
	}
	n.Nodes = kept
	days := slices.DeleteFunc(n.Days, func(d NodeDay) bool {
		return d.NodeID == nodeID && !d.Day.time().Before(from.time())
	})
	changed = changed || len(days) != len(n.Days)
	n.Days = days
	return changed
}

// daysOf is every node's entry for day: explicit node days, then the spans
// covering day for nodes without one.
func (n *nrcState) daysOf(day Date) []NodeDay {
	var out []NodeDay
	seen := map[string]bool{}
	for _, d := range n.Days {
		if *d.Day == day {
			out = append(out, d)
			seen[d.NodeID] = true
		}
	}
	t := day.time()
	for _, s := range n.Nodes {
		if seen[s.NodeID] || t.Before(s.FromDay.time()) || (s.ToDay != nil && t.After(s.ToDay.time())) {
			continue
		}
		d := s
		d.Day, d.FromDay, d.ToDay = &day, nil, nil
		out = append(out, d)
	}
	return out
}

func (s *Server) canisterToday() Date {
	return dateOf(time.Unix(0, int64(s.canisterNow())).UTC())
}

// adminNRCAddNode is POST /admin/nrc/nodes: a NodeDay with from_day
// (default today, canister clock) and an optional to_day.
func (s *Server) adminNRCAddNode(w http.ResponseWriter, r *http.Request) {
	var e NodeDay
	if !decodeJSON(w, r, &e) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before := slices.Clone(s.nrc.Nodes)
	span, err := s.nrc.addSpan(e, s.canisterToday())
	if err != nil {
		adminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if err := s.save(); err != nil {
		s.nrc.Nodes = before
		adminError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	s.log.Info("admin nrc node added", "node_id", span.NodeID, "node_provider", span.NodeProvider, "from_day", span.FromDay.String())
	writeJSON(w, http.StatusOK, span)
}

// adminNRCRemoveNode is DELETE /admin/nrc/nodes/{node_id}[?from_day=YYYY-MM-DD]:
// the node is gone from from_day (default today) on.
func (s *Server) adminNRCRemoveNode(w http.ResponseWriter, r *http.Request) {
	nodeID := r.PathValue("node_id")
	if _, err := principal.Decode(nodeID); err != nil {
		adminError(w, http.StatusBadRequest, "node_id %q: %v", nodeID, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	from := s.canisterToday()
	if q := r.URL.Query().Get("from_day"); q != "" {
		t, err := time.Parse(time.DateOnly, q)
		if err != nil {
			adminError(w, http.StatusBadRequest, "from_day %q must be YYYY-MM-DD", q)
			return
		}
		from = dateOf(t)
	}
	before := *s.nrc
	before.Nodes, before.Days = slices.Clone(s.nrc.Nodes), slices.Clone(s.nrc.Days)
	if !s.nrc.removeNode(nodeID, from) {
		adminError(w, http.StatusNotFound, "node %s has no days on or after %s", nodeID, from)
		return
	}
	if err := s.save(); err != nil {
		*s.nrc = before
		adminError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	s.log.Info("admin nrc node removed", "node_id", nodeID, "from_day", from.String())
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "node_id": nodeID, "from_day": from})
}
