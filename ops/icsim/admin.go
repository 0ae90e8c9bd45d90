package icsim

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/aviate-labs/agent-go/principal/icrc"
)

// The admin API is plain JSON for tests, the demo and people. It has no
// authentication: the simulator is meant to listen on loopback only.
//
//	POST /admin/mint   {"account":"<ICRC-1 text>","amount_e8s":N[,"memo_hex":"…"]} -> {"block_index":N}
//	POST /admin/clock  {"advance_seconds":N} | {"set_unix_nanos":N} | {"offset_seconds":N} -> ClockInfo
//	GET  /admin/clock  -> ClockInfo
//	POST /admin/mode   {"call_mode":"sync"|"async"} -> {"call_mode":…}
//	GET  /admin/ledger -> LedgerDump
//	GET  /admin/faults, POST /admin/faults Faults -> Faults
//	GET  /admin/status -> {"root_key_der_hex":…, "call_mode":…, …}
func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/mint", s.adminMint)
	mux.HandleFunc("GET /admin/clock", s.adminClockGet)
	mux.HandleFunc("POST /admin/clock", s.adminClock)
	mux.HandleFunc("POST /admin/mode", s.adminMode)
	mux.HandleFunc("GET /admin/ledger", s.adminLedger)
	mux.HandleFunc("GET /admin/faults", s.adminFaultsGet)
	mux.HandleFunc("POST /admin/faults", s.adminFaults)
	mux.HandleFunc("GET /admin/status", s.adminStatus)
	s.adminScenarioRoutes(mux)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func adminError(w http.ResponseWriter, status int, format string, a ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, a...)})
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		adminError(w, http.StatusBadRequest, "decode JSON body: %v", err)
		return false
	}
	return true
}

// MintRequest is the body of POST /admin/mint.
type MintRequest struct {
	Account   string  `json:"account"`
	AmountE8s uint64  `json:"amount_e8s"`
	MemoHex   *string `json:"memo_hex,omitempty"`
}

func (s *Server) adminMint(w http.ResponseWriter, r *http.Request) {
	var req MintRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	acct, err := parseAccount(req.Account)
	if err != nil {
		adminError(w, http.StatusBadRequest, "account: %v", err)
		return
	}
	var memo *[]byte
	if req.MemoHex != nil {
		m, err := decodeHex(*req.MemoHex)
		if err != nil || len(m) > maxMemoBytes {
			adminError(w, http.StatusBadRequest, "memo_hex must be hex of at most %d bytes", maxMemoBytes)
			return
		}
		memo = &m
	}
	s.mu.Lock()
	b := s.ledger.mintBlock(acct, req.AmountE8s, s.canisterNow(), memo)
	err = s.commitBlock(b)
	s.mu.Unlock()
	if err != nil {
		adminError(w, http.StatusInternalServerError, "mint: %v", err)
		return
	}
	s.log.Info("admin mint", "account", acct.Encode(), "amount_e8s", req.AmountE8s, "block_index", b.Index)
	writeJSON(w, http.StatusOK, map[string]uint64{"block_index": b.Index})
}

// parseAccount parses ICRC-1 text; icrc.Decode can panic on odd input.
func parseAccount(s string) (a icrc.Account, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid ICRC-1 account text %q", s)
		}
	}()
	if s == "" {
		return a, fmt.Errorf("empty account")
	}
	return icrc.Decode(s)
}

// ClockRequest is the body of POST /admin/clock; exactly one field is set.
type ClockRequest struct {
	AdvanceSeconds *int64  `json:"advance_seconds,omitempty"`
	SetUnixNanos   *uint64 `json:"set_unix_nanos,omitempty"`
	OffsetSeconds  *int64  `json:"offset_seconds,omitempty"`
}

// ClockInfo describes the canister clock.
type ClockInfo struct {
	NowUnixNanos uint64 `json:"now_unix_nanos"`
	NowRFC3339   string `json:"now"`
	OffsetNanos  int64  `json:"offset_nanos"`
}

func (s *Server) clockInfo() ClockInfo {
	now := s.canisterNow()
	return ClockInfo{NowUnixNanos: now, NowRFC3339: time.Unix(0, int64(now)).UTC().Format(time.RFC3339Nano), OffsetNanos: int64(s.offset)}
}

func (s *Server) adminClockGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	info := s.clockInfo()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) adminClock(w http.ResponseWriter, r *http.Request) {
	var req ClockRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	set := 0
	for _, p := range []bool{req.AdvanceSeconds != nil, req.SetUnixNanos != nil, req.OffsetSeconds != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		adminError(w, http.StatusBadRequest, "set exactly one of advance_seconds, set_unix_nanos, offset_seconds")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case req.AdvanceSeconds != nil:
		s.offset += time.Duration(*req.AdvanceSeconds) * time.Second
	case req.OffsetSeconds != nil:
		s.offset = time.Duration(*req.OffsetSeconds) * time.Second
	case req.SetUnixNanos != nil:
		s.offset = time.Duration(int64(*req.SetUnixNanos) - s.wall().UnixNano())
	}
	if err := s.save(); err != nil {
		adminError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	info := s.clockInfo()
	s.log.Info("admin clock", "offset_nanos", info.OffsetNanos, "now_unix_nanos", info.NowUnixNanos)
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) adminMode(w http.ResponseWriter, r *http.Request) {
	var req struct {
		CallMode string `json:"call_mode"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.CallMode == "" {
		adminError(w, http.StatusBadRequest, "call_mode must be %q or %q", CallModeSync, CallModeAsync)
		return
	}
	m, err := parseCallMode(req.CallMode)
	if err != nil {
		adminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	s.mu.Lock()
	s.mode = m
	s.mu.Unlock()
	s.log.Info("admin mode", "call_mode", string(m))
	writeJSON(w, http.StatusOK, map[string]string{"call_mode": string(m)})
}

// SetCallMode switches between synchronous and asynchronous call answers.
func (s *Server) SetCallMode(m CallMode) error {
	m, err := parseCallMode(string(m))
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.mode = m
	s.mu.Unlock()
	return nil
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// Now is the canister clock: the time the ledger stamps blocks with.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Unix(0, int64(s.canisterNow())).UTC()
}

// AdvanceClock moves the canister clock by d.
func (s *Server) AdvanceClock(d time.Duration) {
	s.mu.Lock()
	s.offset += d
	_ = s.save()
	s.mu.Unlock()
}

// Mint records a Mint block to the account given as ICRC-1 text.
func (s *Server) Mint(account string, amountE8s uint64) (uint64, error) {
	acct, err := parseAccount(account)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.ledger.mintBlock(acct, amountE8s, s.canisterNow(), nil)
	if err := s.commitBlock(b); err != nil {
		return 0, err
	}
	return b.Index, nil
}

// LedgerDump is the body of GET /admin/ledger.
type LedgerDump struct {
	FeeE8s   uint64            `json:"fee_e8s"`
	Balances map[string]uint64 `json:"balances"` // by account identifier hex
	Accounts map[string]string `json:"accounts"` // account identifier hex -> ICRC-1 text
	Blocks   []Block           `json:"blocks"`
	ChainLen uint64            `json:"chain_length"`
	NowNanos uint64            `json:"now_unix_nanos"`
	TotalE8s uint64            `json:"total_supply_e8s"`
	// TipHashHex is the hash of the newest block, the ledger's certified data.
	TipHashHex string `json:"tip_hash_hex"`
	// ArchivedBlocks are the blocks [0, ArchivedBlocks) that archive
	// canisters serve; Archives lists those canisters.
	ArchivedBlocks uint64        `json:"archived_blocks"`
	Archives       []ArchiveNode `json:"archives"`
}

// Ledger returns a copy of the ledger state.
func (s *Server) Ledger() LedgerDump {
	s.mu.Lock()
	defer s.mu.Unlock()
	tip := s.ledger.tipHash()
	d := LedgerDump{FeeE8s: LedgerFeeE8s, Balances: map[string]uint64{}, Accounts: map[string]string{},
		Blocks: append([]Block{}, s.ledger.blocks...), ChainLen: uint64(len(s.ledger.blocks)), NowNanos: s.canisterNow(),
		TipHashHex: hex.EncodeToString(tip[:]), ArchivedBlocks: s.ledger.archive.Archived,
		Archives: append([]ArchiveNode{}, s.ledger.archive.Nodes...)}
	for k, v := range s.ledger.balances {
		d.Balances[k] = v
		d.TotalE8s += v
	}
	for _, b := range s.ledger.blocks {
		if b.From != "" {
			d.Accounts[b.From] = b.FromAccount
		}
		if b.To != "" {
			d.Accounts[b.To] = b.ToAccount
		}
	}
	return d
}

func (s *Server) adminLedger(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Ledger())
}

func (s *Server) adminFaultsGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f := s.faults
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) adminFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if !decodeJSON(w, r, &f) {
		return
	}
	if err := f.validate(); err != nil {
		adminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	s.SetFaults(f)
	s.log.Info("admin faults", "delay_ms", f.DelayMillis, "reject_next", f.RejectNext,
		"fail_before_execute_next", f.FailBeforeExecuteNext, "fail_after_execute_next", f.FailAfterExecuteNext,
		"temporarily_unavailable_next", f.TemporarilyUnavailableNext, "forge_block_next", f.ForgeBlockNext, "forge_archived_block_next", f.ForgeArchivedBlockNext,
		"block_gap_next", f.BlockGapNext, "forge_certificate_next", f.ForgeCertificateNext)
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) adminStatus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"root_key_der_hex": fmt.Sprintf("%x", s.keys.rootKeyDER),
		"node_id":          s.keys.nodeID.String(),
		"subnet_id":        s.keys.rootSubnet.String(),
		"call_mode":        string(s.mode),
		"clock":            s.clockInfo(),
		"canisters": map[string]string{
			"ledger":     ledgerID.String(),
			"governance": governanceID.String(),
			"cmc":        cmcID.String(),
			"nrc":        nrcID.String(),
		},
		"archive_options": s.opts.Archive,
		"dashboard_path":  DashboardPath,
	})
}
