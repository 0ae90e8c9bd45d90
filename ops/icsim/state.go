package icsim

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

const stateVersion = 1

// persisted is the JSON state file. It holds key material (the simulator's
// root and node secrets), so it is written with mode 0600 and never logged.
type persisted struct {
	Version          int              `json:"version"`
	RootKeySecretHex string           `json:"root_key_secret_hex"`
	NodeKeySeedHex   string           `json:"node_key_seed_hex"`
	ClockOffsetNanos int64            `json:"clock_offset_nanos"`
	Blocks           []Block          `json:"blocks"`
	Archive          *archiveState    `json:"archive,omitempty"`
	Governance       *governanceState `json:"governance,omitempty"`
	CMC              *cmcState        `json:"cmc,omitempty"`
	NRC              *nrcState        `json:"nrc,omitempty"`
	AppliedScenarios []string         `json:"applied_scenarios,omitempty"`
}

// storageError means a committed change could not be persisted; the change
// was rolled back and the call is rejected as transient.
type storageError struct{ err error }

func (e *storageError) Error() string { return "icsim: persist state: " + e.err.Error() }
func (e *storageError) Unwrap() error { return e.err }

// load reads StatePath if set and present, else generates fresh keys (and
// writes the state file at once so the root key is stable from the start).
func (s *Server) load() error {
	var p persisted
	if s.opts.StatePath != "" {
		b, err := os.ReadFile(s.opts.StatePath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("icsim: read state %s: %w", s.opts.StatePath, err)
		default:
			if err := json.Unmarshal(b, &p); err != nil {
				return fmt.Errorf("icsim: parse state %s: %w", s.opts.StatePath, err)
			}
			if p.Version != stateVersion {
				return fmt.Errorf("icsim: state %s has version %d, want %d", s.opts.StatePath, p.Version, stateVersion)
			}
		}
	}
	rootSecret, err := hex.DecodeString(p.RootKeySecretHex)
	if err != nil {
		return fmt.Errorf("icsim: state root_key_secret_hex: %w", err)
	}
	nodeSeed, err := hex.DecodeString(p.NodeKeySeedHex)
	if err != nil {
		return fmt.Errorf("icsim: state node_key_seed_hex: %w", err)
	}
	k, err := newKeys(rootSecret, nodeSeed)
	if err != nil {
		return err
	}
	s.keys = k
	if err := s.ledger.replay(p.Blocks); err != nil {
		return fmt.Errorf("icsim: state %s: ledger: %w", s.opts.StatePath, err)
	}
	if p.Archive != nil {
		// Archived blocks stay archived even if the options changed.
		if err := p.Archive.validate(uint64(len(p.Blocks))); err != nil {
			return fmt.Errorf("icsim: state %s: ledger archive: %w", s.opts.StatePath, err)
		}
		s.ledger.archive = p.Archive.clone()
	}
	s.ledger.maybeArchive()
	if p.Governance != nil {
		s.gov = p.Governance
	}
	if p.CMC != nil {
		s.cmc = p.CMC
	}
	if p.NRC != nil {
		s.nrc = p.NRC
	}
	s.offset = time.Duration(p.ClockOffsetNanos)
	s.appliedScenarios = p.AppliedScenarios
	return s.save()
}

// save writes the state file atomically (temp file, fsync, rename); callers
// hold s.mu (or are in New).
func (s *Server) save() error {
	if s.opts.StatePath == "" {
		return nil
	}
	p := persisted{
		Version:          stateVersion,
		RootKeySecretHex: hex.EncodeToString(s.keys.rootSKBytes[:]),
		NodeKeySeedHex:   hex.EncodeToString(s.keys.nodeSeed),
		ClockOffsetNanos: int64(s.offset),
		Blocks:           s.ledger.blocks,
		Archive:          s.ledger.archiveForSave(),
		Governance:       s.gov,
		CMC:              s.cmc,
		NRC:              s.nrc,
		AppliedScenarios: s.appliedScenarios,
	}
	if p.Blocks == nil {
		p.Blocks = []Block{}
	}
	b, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		return &storageError{err}
	}
	dir := filepath.Dir(s.opts.StatePath)
	f, err := os.CreateTemp(dir, ".icsim-state-*")
	if err != nil {
		return &storageError{err}
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return &storageError{err}
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return &storageError{err}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return &storageError{err}
	}
	if err := f.Close(); err != nil {
		return &storageError{err}
	}
	if err := os.Rename(tmp, s.opts.StatePath); err != nil {
		return &storageError{err}
	}
	return nil
}

// commitBlock applies b and persists; on a persistence failure the ledger is
// rolled back so memory never runs ahead of the state file. Callers hold s.mu.
func (s *Server) commitBlock(b Block) error {
	archived := s.ledger.archive.clone()
	if err := s.ledger.apply(b); err != nil {
		return fmt.Errorf("icsim: ledger invariant: %w", err)
	}
	s.ledger.maybeArchive()
	if err := s.save(); err != nil {
		prev := s.ledger.blocks[:len(s.ledger.blocks)-1]
		if rerr := s.ledger.replay(prev); rerr != nil {
			return fmt.Errorf("%w (rollback failed: %v)", err, rerr)
		}
		s.ledger.archive = archived
		return err
	}
	return nil
}
