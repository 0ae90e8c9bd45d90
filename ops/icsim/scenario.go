package icsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"

	"github.com/aviate-labs/agent-go/principal"
	"github.com/aviate-labs/agent-go/principal/icrc"
)

// Scenario seeds the simulator: ledger balances (as Mint blocks), node
// providers, monthly reward events (optionally minted like Governance does)
// and the CMC rates. Loading is additive for balances and rewards and
// replaces node providers and rates when given.
//
//	{
//	  "balances": [{"account": "<ICRC-1 text>", "amount_e8s": 100000000}],
//	  "node_providers": [{"principal": "…", "reward_account_hex": "…"}],
//	  "rewards": [{"timestamp_seconds": 1730000000, "xdr_permyriad_per_icp": 35000,
//	               "rewards": [{"node_provider": "…", "xdr_permyriad": 1500000}]}],
//	  "mint_rewards": true,
//	  "rate": {"timestamp_seconds": 1730000000, "xdr_permyriad_per_icp": 36000},
//	  "average_rate": {"timestamp_seconds": 1729900000, "xdr_permyriad_per_icp": 35000}
//	}
type Scenario struct {
	Balances      []MintRequest    `json:"balances,omitempty"`
	NodeProviders []NodeProvider   `json:"node_providers,omitempty"`
	Rewards       []MonthlyRewards `json:"rewards,omitempty"`
	MintRewards   bool             `json:"mint_rewards,omitempty"`
	Rate          *ConversionRate  `json:"rate,omitempty"`
	AverageRate   *ConversionRate  `json:"average_rate,omitempty"`
	// NodeDailyRewards are the NRC's per-node daily metrics (nrc.go); an
	// entry for a node and day already known replaces it.
	NodeDailyRewards []NodeDay `json:"node_daily_rewards,omitempty"`
	// Dashboard overrides what the dashboard REST API reports (dashboard.go).
	Dashboard *DashboardRates `json:"dashboard,omitempty"`
	// Prices adds explicit points and gaps to the price API (prices.go).
	Prices *Prices `json:"prices,omitempty"`
}

func decodeHex(s string) ([]byte, error) { return hex.DecodeString(s) }

// LoadScenarioFile reads a JSON Scenario and applies it.
func (s *Server) LoadScenarioFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("icsim: scenario: %w", err)
	}
	var sc Scenario
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return fmt.Errorf("icsim: scenario %s: %w", path, err)
	}
	// A scenario file is applied once per state file: restarting with the
	// same --state and --scenario must not mint the balances again.
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:])
	s.mu.Lock()
	applied := slices.Contains(s.appliedScenarios, digest)
	s.mu.Unlock()
	if applied {
		s.log.Info("scenario already applied to this state, skipped", "scenario", path, "sha256", digest)
		return nil
	}
	return s.applyScenario(sc, digest)
}

// ApplyScenario validates the whole scenario, then applies it and persists.
func (s *Server) ApplyScenario(sc Scenario) error { return s.applyScenario(sc, "") }

func (s *Server) applyScenario(sc Scenario, digest string) error {
	accts := make([]icrc.Account, len(sc.Balances))
	for i, b := range sc.Balances {
		a, err := parseAccount(b.Account)
		if err != nil {
			return fmt.Errorf("icsim: scenario balances[%d]: %w", i, err)
		}
		accts[i] = a
	}
	for i, np := range sc.NodeProviders {
		if _, err := principal.Decode(np.Principal); err != nil {
			return fmt.Errorf("icsim: scenario node_providers[%d]: principal %q: %w", i, np.Principal, err)
		}
		if _, err := accountIDBytes(np.RewardAccountHex); err != nil {
			return fmt.Errorf("icsim: scenario node_providers[%d]: %w", i, err)
		}
	}
	for i := range sc.Rewards {
		if err := sc.Rewards[i].normalize(); err != nil {
			return fmt.Errorf("icsim: scenario rewards[%d]: %w", i, err)
		}
	}
	var nodeDays []NodeDay
	for i, e := range sc.NodeDailyRewards {
		days, err := e.expand()
		if err != nil {
			return fmt.Errorf("icsim: scenario node_daily_rewards[%d]: %w", i, err)
		}
		nodeDays = append(nodeDays, days...)
	}
	if sc.Dashboard != nil {
		if err := sc.Dashboard.validate(); err != nil {
			return fmt.Errorf("icsim: scenario dashboard: %w", err)
		}
	}
	if sc.Prices != nil {
		if err := sc.Prices.validate(); err != nil {
			return fmt.Errorf("icsim: scenario prices: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.canisterNow()
	for i, b := range sc.Balances {
		if err := s.ledger.apply(s.ledger.mintBlock(accts[i], b.AmountE8s, now, nil)); err != nil {
			return fmt.Errorf("icsim: scenario balances[%d]: %w", i, err)
		}
	}
	if sc.NodeProviders != nil {
		s.gov.NodeProviders = sc.NodeProviders
	}
	for _, m := range sc.Rewards {
		if err := s.addRewards(m, sc.MintRewards, now); err != nil {
			return err
		}
	}
	if sc.Rate != nil {
		s.cmc.Rate = sc.Rate
	}
	if sc.AverageRate != nil {
		s.cmc.Average = sc.AverageRate
	}
	s.ledger.maybeArchive()
	s.nrc.add(nodeDays)
	if sc.Dashboard != nil {
		s.dash.rates = sc.Dashboard
	}
	if sc.Prices != nil {
		s.prices.apply(sc.Prices)
	}
	if digest != "" {
		s.appliedScenarios = append(s.appliedScenarios, digest)
	}
	if err := s.save(); err != nil {
		return err
	}
	s.log.Info("scenario applied", "balances", len(sc.Balances), "node_providers", len(sc.NodeProviders), "rewards", len(sc.Rewards), "mint_rewards", sc.MintRewards, "node_days", len(nodeDays))
	return nil
}

// addRewards records a reward event and, when mint is set, mints each
// RewardToAccount amount to the NP's reward account or default account, as
// Governance does. Callers hold s.mu and persist.
func (s *Server) addRewards(m MonthlyRewards, mint bool, now uint64) error {
	s.gov.Rewards = append(s.gov.Rewards, m)
	if !mint {
		return nil
	}
	for i, r := range m.Rewards {
		if r.ToNeuronDissolveDelaySeconds != nil {
			continue
		}
		b := Block{Index: uint64(len(s.ledger.blocks)), TimestampNanos: s.ledger.stamp(now), Op: OpMint, AmountE8s: r.AmountE8s}
		raw, _ := accountIDBytes(r.RewardAccountHex)
		switch len(raw) {
		case 0:
			a := icrc.Account{Owner: principal.MustDecode(r.NodeProvider)}
			b.To, b.ToAccount = accountID(a), a.Encode()
		case 28:
			var h principal.AccountIdentifier
			copy(h[:], raw)
			b.To = hex.EncodeToString(h.Bytes())
		default:
			b.To = hex.EncodeToString(raw)
		}
		if err := s.ledger.apply(b); err != nil {
			return fmt.Errorf("icsim: reward %d mint: %w", i, err)
		}
	}
	return nil
}

func (s *Server) adminScenarioRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/scenario", func(w http.ResponseWriter, r *http.Request) {
		var sc Scenario
		if !decodeJSON(w, r, &sc) {
			return
		}
		if err := s.ApplyScenario(sc); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /admin/governance/rewards", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Reward MonthlyRewards `json:"reward"`
			Mint   bool           `json:"mint"`
		}
		if !decodeJSON(w, r, &req) {
			return
		}
		if err := s.ApplyScenario(Scenario{Rewards: []MonthlyRewards{req.Reward}, MintRewards: req.Mint}); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /admin/cmc/rates", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Rate        *ConversionRate `json:"rate"`
			AverageRate *ConversionRate `json:"average_rate"`
		}
		if !decodeJSON(w, r, &req) {
			return
		}
		if err := s.ApplyScenario(Scenario{Rate: req.Rate, AverageRate: req.AverageRate}); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET /admin/governance", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		proposals := []ProposalView{}
		for _, p := range s.gov.Proposals {
			proposals = append(proposals, proposalView(p))
		}
		writeJSON(w, http.StatusOK, map[string]any{"node_providers": s.gov.NodeProviders, "rewards": s.gov.newestFirst(), "cmc": s.cmc, "proposals": proposals})
	})
	mux.HandleFunc("POST /admin/governance/proposals", s.adminProposals)
}
