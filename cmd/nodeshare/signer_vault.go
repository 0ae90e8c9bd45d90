package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/vault"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
)

// signerConfig is how the treasury key is reached: Vault auth and key mode.
type signerConfig struct {
	KeyMode string // transit (default) or kv
	KVMount string
	KVPath  string
}

// openSigner logs in to Vault, starts keeping the token alive until ctx
// ends, and returns the treasury identity.
func openSigner(ctx context.Context, vcfg vault.Config, sc signerConfig, log *slog.Logger) (identity.Identity, error) {
	vc, err := vault.New(vcfg)
	if err != nil {
		return nil, err
	}
	login, err := vc.Login(ctx)
	if err != nil {
		return nil, err
	}
	go vc.KeepAlive(ctx, login, log)
	if sc.KeyMode == "kv" {
		return vault.KVIdentity(ctx, vc, sc.KVMount, sc.KVPath)
	}
	return vault.NewTransitIdentity(ctx, vc)
}

// openLedger connects to the IC as id.
func openLedger(cfg config, id identity.Identity, log *slog.Logger) (*ic.Client, error) {
	return ic.New(ic.Config{URL: cfg.ICURL, Identity: id, FetchRootKey: cfg.ICFetchRootKey, Logger: log, HTTPClient: pooledHTTPClient()})
}

// pooledHTTPClient keeps idle connections for concurrent transfers (the
// default transport keeps 2 per host).
func pooledHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t}
}

// hookedIdentity fires the crash hook after each signature made while
// armed (from the payout stage's PhaseSending point on), for the "killed
// after signing, before sending" case.
type hookedIdentity struct {
	identity.Identity
	armed *atomic.Bool
	crash stage.Crash
}

func (h hookedIdentity) Sign(msg []byte) ([]byte, error) {
	sig, err := h.Identity.Sign(msg)
	if err == nil && h.armed.Load() {
		h.crash.At(payout.CrashAfterSign)
	}
	return sig, err
}

// armedCrash wraps crash so that reaching PhaseSending arms the identity's
// after-sign point. Both are nil when crash is.
func armedCrash(crash stage.Crash) (stage.Crash, *atomic.Bool) {
	armed := new(atomic.Bool)
	if crash == nil {
		return nil, armed
	}
	return func(p string) {
		if p == payout.PhaseSending {
			armed.Store(true)
		}
		crash(p)
	}, armed
}

// payoutLedger opens the treasury's ledger: the Vault identity (wrapped by
// the crash hook when armed) and the IC client behind the payout port.
func payoutLedger(ctx context.Context, cfg config, sc signerConfig, crash stage.Crash, armed *atomic.Bool, log *slog.Logger) (ic.PayoutLedger, error) {
	id, err := openSigner(ctx, cfg.Vault, sc, log)
	if err != nil {
		return ic.PayoutLedger{}, fmt.Errorf("open the signer (Vault): %w", err)
	}
	if crash != nil {
		id = hookedIdentity{Identity: id, armed: armed, crash: crash}
	}
	client, err := openLedger(cfg, id, log)
	if err != nil {
		return ic.PayoutLedger{}, err
	}
	return ic.PayoutLedger{Client: client, Treasury: ic.Account{Owner: id.Sender()}}, nil
}
