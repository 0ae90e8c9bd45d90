package icsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aviate-labs/agent-go/principal"
	"github.com/fxamacker/cbor/v2"
)

// CallMode selects how update calls are answered.
type CallMode string

const (
	// CallModeSync answers /api/v3|v4/.../call with 200 and a certificate.
	CallModeSync CallMode = "sync"
	// CallModeAsync answers with 202 and lets the agent poll read_state.
	CallModeAsync CallMode = "async"
)

func parseCallMode(s string) (CallMode, error) {
	switch CallMode(s) {
	case CallModeSync, CallModeAsync:
		return CallMode(s), nil
	case "":
		return CallModeSync, nil
	}
	return "", fmt.Errorf("call mode must be %q or %q, got %q", CallModeSync, CallModeAsync, s)
}

// Options configure a Server.
type Options struct {
	// StatePath, when set, is loaded at start and rewritten (temp file +
	// rename) after every committed change, so the ledger, the scenario data
	// and the keys survive a restart. Empty means in-memory only.
	StatePath string
	// CallMode is the initial call mode (default sync).
	CallMode CallMode
	// Logger receives one structured line per request; nil discards.
	Logger *slog.Logger
	// Now is the wall clock (default time.Now); tests may replace it.
	Now func() time.Time
	// MaxBodyBytes caps request bodies (default 2 MiB, the IC's ingress limit).
	MaxBodyBytes int64
	// RoundInterval is the shortest time between two certification rounds,
	// like the IC's block rate (about one block a second there). Calls that
	// arrive within it share one round and one BLS signature; a call that
	// finds the last round older than this is signed at once. 0 (default)
	// signs a round whenever the previous one is done.
	RoundInterval time.Duration
	// Archive configures the ledger's archiving (ledger_archive.go); the
	// zero value keeps every block in the ledger.
	Archive ArchiveOptions
}

// Server is the simulated replica. It is safe for concurrent use: one mutex
// serialises canister execution, like a single-threaded canister.
type Server struct {
	opts   Options
	log    *slog.Logger
	keys   *keys
	wall   func() time.Time
	mu     sync.Mutex
	offset time.Duration // canister clock = wall + offset
	mode   CallMode
	ledger *ledger
	gov    *governanceState
	cmc    *cmcState
	nrc    *nrcState
	// dash is the simulated dashboard REST API (dashboard.go).
	dash dashboardState
	// prices is the simulated CoinGecko price API's overrides (prices.go).
	prices priceState
	faults Faults
	// ledgerCert is the last certificate of the ledger's certified data
	// (ledger_methods.go).
	ledgerCert *ledgerCert
	status     map[[32]byte]*requestStatus
	// swept is when status was last swept of expired requests.
	swept time.Time
	// appliedScenarios are sha256 digests of scenario files already applied.
	appliedScenarios []string
	// rounds batches the certificates of synchronous call replies
	// (rounds.go); it has its own lock and is never used under s.mu.
	rounds certRounds
	// certSignatures counts BLS signatures, so tests can see the batching.
	certSignatures atomic.Uint64
}

// requestStatus is what the replica remembers about an update call.
type requestStatus struct {
	status  string // "replied" or "rejected"
	reply   []byte
	reject  *reject
	sender  []byte
	expiry  uint64
	created time.Time
	// readyAt: until then the status reads "processing" (Faults.ProcessingMillis).
	readyAt time.Time
}

// reject is a certified or query reject.
type reject struct {
	code      uint8
	message   string
	errorCode string
}

// New creates a server, loading StatePath when it exists.
func New(opts Options) (*Server, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 2 << 20
	}
	mode, err := parseCallMode(string(opts.CallMode))
	if err != nil {
		return nil, fmt.Errorf("icsim: %w", err)
	}
	if err := opts.Archive.Validate(); err != nil {
		return nil, fmt.Errorf("icsim: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	s := &Server{
		opts:   opts,
		log:    log,
		wall:   opts.Now,
		mode:   mode,
		ledger: newLedger(opts.Archive),
		gov:    newGovernanceState(),
		cmc:    newCMCState(),
		nrc:    newNRCState(),
		status: map[[32]byte]*requestStatus{},
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// RootKeyDER is the DER-encoded BLS root public key served by /api/v2/status.
func (s *Server) RootKeyDER() []byte { return append([]byte{}, s.keys.rootKeyDER...) }

// LedgerID is the ICP ledger canister id the simulator serves.
func LedgerID() principal.Principal { return ledgerID }

// GovernanceID is the NNS Governance canister id the simulator serves.
func GovernanceID() principal.Principal { return governanceID }

// CMCID is the Cycles Minting Canister id the simulator serves.
func CMCID() principal.Principal { return cmcID }

// canisterNow is the canister clock (ic0.time) in nanoseconds.
func (s *Server) canisterNow() uint64 { return uint64(s.wall().Add(s.offset).UnixNano()) }

// Handler returns the HTTP handler: the IC API under /api/ and the JSON
// admin API under /admin/.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/status", s.handleStatus)
	mux.HandleFunc("POST /api/{ver}/canister/{ecid}/call", s.handleCall)
	mux.HandleFunc("POST /api/{ver}/canister/{ecid}/query", s.handleQuery)
	mux.HandleFunc("POST /api/{ver}/canister/{ecid}/read_state", s.handleReadState)
	mux.HandleFunc("POST /api/{ver}/subnet/{sid}/read_state", s.handleSubnetReadState)
	s.adminRoutes(mux)
	s.dashboardRoutes(mux)
	s.priceRoutes(mux)
	return mux
}

// ListenAndServe serves on addr until ctx is cancelled.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	srv := &http.Server{Addr: addr, Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("icsim: listen %s: %w", addr, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("icsim: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("icsim: serve: %w", err)
	}
	return nil
}

func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return nil, false
	}
	return body, true
}

func writeCBOR(w http.ResponseWriter, status int, v any) {
	b, err := cbor.Marshal(v)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/cbor")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadRequest
	var ee *envelopeError
	if errors.As(err, &ee) {
		status = ee.status
	}
	s.log.Warn("request refused", "path", r.URL.Path, "http_status", status, "error", err.Error())
	http.Error(w, err.Error(), status)
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeCBOR(w, http.StatusOK, map[string]any{
		"root_key":              s.keys.rootKeyDER,
		"ic_api_version":        "0.18.0",
		"impl_version":          "nodeshare-icsim",
		"replica_health_status": "healthy",
	})
}

// decode reads and authenticates an envelope of the wanted request type
// addressed to the effective canister id in the URL.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, wantType string) (*request, principal.Principal, bool) {
	if !apiVersions[wantType][r.PathValue("ver")] {
		s.fail(w, r, &envelopeError{status: http.StatusNotFound, msg: fmt.Sprintf("no %s endpoint in API version %q", wantType, r.PathValue("ver"))})
		return nil, principal.Principal{}, false
	}
	ecid, err := principal.Decode(r.PathValue("ecid"))
	if err != nil {
		s.fail(w, r, badRequest("invalid effective canister id %q: %v", r.PathValue("ecid"), err))
		return nil, principal.Principal{}, false
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return nil, ecid, false
	}
	req, err := decodeEnvelope(body, s.wall())
	if err != nil {
		s.fail(w, r, err)
		return nil, ecid, false
	}
	if req.typ != wantType {
		s.fail(w, r, badRequest("request_type %q sent to the %s endpoint", req.typ, wantType))
		return nil, ecid, false
	}
	if wantType != "read_state" {
		s.mu.Lock()
		installed := s.hasCanister(req.canisterID)
		s.mu.Unlock()
		if !installed {
			s.fail(w, r, &envelopeError{status: http.StatusBadRequest, msg: fmt.Sprintf("canister %s not found", req.canisterID)})
			return nil, ecid, false
		}
		if !ecid.Equal(req.canisterID) {
			s.fail(w, r, badRequest("effective canister id %s does not match canister_id %s", ecid, req.canisterID))
			return nil, ecid, false
		}
	}
	return req, ecid, true
}

// apiVersions are the endpoint versions the IC serves per request type.
var apiVersions = map[string]map[string]bool{
	"call":       {"v2": true, "v3": true, "v4": true},
	"query":      {"v2": true, "v3": true},
	"read_state": {"v2": true, "v3": true},
}

// hasCanister reports whether id is installed; callers hold s.mu (archive
// canisters appear as the ledger creates them).
func (s *Server) hasCanister(id principal.Principal) bool {
	if id.Equal(ledgerID) || id.Equal(governanceID) || id.Equal(cmcID) || id.Equal(nrcID) {
		return true
	}
	_, ok := s.ledger.archiveNodeOf(id)
	return ok
}

func (s *Server) sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (s *Server) handleCall(w http.ResponseWriter, r *http.Request) {
	ver := r.PathValue("ver")
	req, _, ok := s.decode(w, r, "call")
	if !ok {
		return
	}
	s.mu.Lock()
	f := s.faults.take()
	mode := s.mode
	if ver == "v2" {
		mode = CallModeAsync // v2 calls are asynchronous on the IC
	}
	st, seen := s.status[req.id]
	switch {
	case seen:
		// A resubmitted request id is never executed twice.
	case f.failBeforeExecute:
		s.mu.Unlock()
		s.log.Warn("fault: call dropped before execution", "request_id", fmt.Sprintf("%x", req.id), "method", req.method)
		s.sleep(r.Context(), f.delay)
		http.Error(w, "simulated failure before execution", http.StatusServiceUnavailable)
		return
	case f.reject:
		st = s.record(req, nil, &reject{code: 2, message: "simulated transient reject", errorCode: "IC0515"})
	default:
		reply, rej := s.execute(req, false, f)
		st = s.record(req, reply, rej)
		st.readyAt = st.created.Add(f.processing)
	}
	if mode == CallModeSync && s.wall().Before(st.readyAt) {
		// Like the IC when a synchronous call does not finish in time.
		mode = CallModeAsync
	}
	var status *stateTree
	if mode == CallModeSync {
		// st was just recorded or seen under s.mu, so the subtree exists.
		status = s.statusTree([][]byte{req.id[:]}).sub([]byte("request_status"), req.id[:])
	}
	s.mu.Unlock()
	// BLS signing is the expensive part and needs no state: outside the
	// lock, and shared by every reply of the round.
	var cert []byte
	var err error
	if mode == CallModeSync {
		cert, err = s.certifyInRound(r.Context(), req.id, status)
	}
	s.log.Info("call", "method", req.method, "canister_id", req.canisterID.String(), "sender", req.sender.String(),
		"request_id", fmt.Sprintf("%x", req.id), "status", st.status, "mode", string(mode), "replayed", seen)
	s.sleep(r.Context(), f.delay)
	if f.failAfterExecute {
		s.log.Warn("fault: call executed but the response is lost", "request_id", fmt.Sprintf("%x", req.id))
		http.Error(w, "simulated failure after execution (the call was committed)", http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if mode == CallModeAsync {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	writeCBOR(w, http.StatusOK, map[string]any{"status": "replied", "certificate": cert})
}

// record stores the outcome of an update call; callers hold s.mu.
func (s *Server) record(req *request, reply []byte, rej *reject) *requestStatus {
	now := s.wall()
	if now.Sub(s.swept) >= time.Second || now.Before(s.swept) {
		// Forget requests whose expiry passed long ago; the IC keeps them
		// until expiry, the simulator a little longer. Swept at most once
		// a second: a sweep per call made a busy run quadratic.
		s.swept = now
		for id, st := range s.status {
			if uint64(now.Add(-maxIngressTTL).UnixNano()) > st.expiry {
				delete(s.status, id)
			}
		}
	}
	st := &requestStatus{reply: reply, reject: rej, sender: req.sender.Raw, expiry: req.ingressExpiry, created: now}
	if rej != nil {
		st.status = "rejected"
	} else {
		st.status = "replied"
	}
	s.status[req.id] = st
	return st
}

func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request) {
	req, _, ok := s.decode(w, r, "query")
	if !ok {
		return
	}
	s.mu.Lock()
	f := s.faults.peekQuery()
	var reply []byte
	var rej *reject
	if f.reject {
		rej = &reject{code: 2, message: "simulated transient query reject", errorCode: "IC0515"}
	} else {
		reply, rej = s.execute(req, true, f)
	}
	s.mu.Unlock()
	s.sleep(r.Context(), f.delay)
	ts := uint64(s.wall().UnixNano())
	var resp map[string]any
	var sig []byte
	var err error
	if rej == nil {
		sig, err = s.keys.signQueryResponse(kvs("status", "replied", "reply", map[string]any{"arg": reply}, "timestamp", ts, "request_id", req.id[:]))
		resp = map[string]any{"status": "replied", "reply": map[string]any{"arg": reply}}
	} else {
		sig, err = s.keys.signQueryResponse(kvs("status", "rejected", "reject_code", uint64(rej.code), "reject_message", rej.message,
			"error_code", rej.errorCode, "timestamp", ts, "request_id", req.id[:]))
		resp = map[string]any{"status": "rejected", "reject_code": uint64(rej.code), "reject_message": rej.message, "error_code": rej.errorCode}
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp["signatures"] = []any{map[string]any{"timestamp": ts, "signature": sig, "identity": s.keys.nodeID.Raw}}
	s.log.Debug("query", "method", req.method, "canister_id", req.canisterID.String(), "rejected", rej != nil)
	writeCBOR(w, http.StatusOK, resp)
}

func (s *Server) handleReadState(w http.ResponseWriter, r *http.Request) {
	req, _, ok := s.decode(w, r, "read_state")
	if !ok {
		return
	}
	s.readState(w, r, req)
}

func (s *Server) handleSubnetReadState(w http.ResponseWriter, r *http.Request) {
	if _, err := principal.Decode(r.PathValue("sid")); err != nil {
		s.fail(w, r, badRequest("invalid subnet id: %v", err))
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	req, err := decodeEnvelope(body, s.wall())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if req.typ != "read_state" {
		s.fail(w, r, badRequest("request_type %q sent to read_state", req.typ))
		return
	}
	s.readState(w, r, req)
}

func (s *Server) readState(w http.ResponseWriter, r *http.Request, req *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := newStateTree()
	for _, p := range req.paths {
		if len(p) == 0 {
			continue
		}
		switch string(p[0]) {
		case "time":
		case "request_status":
			if len(p) < 2 {
				s.fail(w, r, forbidden("read_state of all request statuses is not allowed"))
				return
			}
			var rid [32]byte
			if len(p[1]) != len(rid) {
				continue
			}
			copy(rid[:], p[1])
			st, ok := s.status[rid]
			if !ok {
				continue
			}
			if string(st.sender) != string(req.sender.Raw) {
				s.fail(w, r, forbidden("request %x was not sent by %s", rid, req.sender))
				return
			}
			s.addStatus(t, rid, st)
		case "subnet":
			s.addSubnet(t)
		case "canister":
			if len(p) >= 2 {
				s.addCanister(t, principal.Principal{Raw: p[1]})
			}
		}
	}
	cert, err := s.certify(t)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeCBOR(w, http.StatusOK, map[string]any{"certificate": cert})
}

// certify adds /time (wall clock) and signs t on its own, outside any
// round: read_state and the CMC's certificate are not hot.
func (s *Server) certify(t *stateTree) ([]byte, error) {
	t.set(leb(uint64(s.wall().UnixNano())), []byte("time"))
	root := t.node()
	sig, err := s.signRoot(root.Reconstruct())
	if err != nil {
		return nil, err
	}
	return encodeCertificate(root, sig)
}

// signRoot is the only place a certificate is BLS-signed.
func (s *Server) signRoot(digest [32]byte) ([]byte, error) {
	s.certSignatures.Add(1)
	return s.keys.signRoot(digest)
}

// certifyStatus certifies the statuses of the given request ids.
func (s *Server) certifyStatus(rids [][]byte) ([]byte, error) {
	return s.certify(s.statusTree(rids))
}

// statusTree is the state tree of the given request ids' statuses; callers
// hold s.mu.
func (s *Server) statusTree(rids [][]byte) *stateTree {
	t := newStateTree()
	for _, id := range rids {
		var rid [32]byte
		copy(rid[:], id)
		if st, ok := s.status[rid]; ok {
			s.addStatus(t, rid, st)
		}
	}
	return t
}

func (s *Server) addStatus(t *stateTree, rid [32]byte, st *requestStatus) {
	base := [][]byte{[]byte("request_status"), rid[:]}
	at := func(l string) [][]byte { return append(append([][]byte{}, base...), []byte(l)) }
	if s.wall().Before(st.readyAt) {
		t.set([]byte("processing"), at("status")...)
		return
	}
	t.set([]byte(st.status), at("status")...)
	if st.reject != nil {
		// One byte: agent-go reads reject_code big-endian and panics on other lengths.
		t.set([]byte{st.reject.code}, at("reject_code")...)
		t.set([]byte(st.reject.message), at("reject_message")...)
		t.set([]byte(st.reject.errorCode), at("error_code")...)
		return
	}
	t.set(st.reply, at("reply")...)
}

func (s *Server) addSubnet(t *stateTree) {
	sid := s.keys.rootSubnet.Raw
	t.set(s.keys.rootKeyDER, []byte("subnet"), sid, []byte("public_key"))
	ranges, _ := cbor.Marshal([][][]byte{{governanceID.Raw, nrcID.Raw}})
	t.set(ranges, []byte("subnet"), sid, []byte("canister_ranges"))
	t.set(s.keys.nodeKeyDER, []byte("subnet"), sid, []byte("node"), s.keys.nodeID.Raw, []byte("public_key"))
}

func (s *Server) addCanister(t *stateTree, id principal.Principal) {
	if !s.hasCanister(id) {
		return
	}
	switch {
	case id.Equal(cmcID):
		if d := s.cmc.certifiedData(); d != nil {
			t.set(d, []byte("canister"), id.Raw, []byte("certified_data"))
		}
	case id.Equal(ledgerID):
		tip := s.ledger.tipHash()
		t.set(tip[:], []byte("canister"), id.Raw, []byte("certified_data"))
	}
}

func kvs(pairs ...any) []certKV {
	out := make([]certKV, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, certKV{Key: pairs[i].(string), Value: pairs[i+1]})
	}
	return out
}
