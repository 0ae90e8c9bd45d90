package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/metrics"
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
// reg, when set, counts the certificate checks that fail.
func openLedger(cfg config, id identity.Identity, log *slog.Logger, reg *metrics.Registry) (*ic.Client, error) {
	icc := ic.Config{URL: cfg.ICURL, Identity: id, FetchRootKey: cfg.ICFetchRootKey, Logger: log, HTTPClient: pooledHTTPClient()}
	if reg != nil {
		icc.CertificateFailed = reg.CertificateFailed
	}
	return ic.New(icc)
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
//
// reg, when set, observes each signature's latency and the certificate
// checks that fail.
func payoutLedger(ctx context.Context, cfg config, sc signerConfig, crash stage.Crash, armed *atomic.Bool, log *slog.Logger, reg *metrics.Registry) (ic.PayoutLedger, error) {
	id, err := openSigner(ctx, cfg.Vault, sc, log)
	if err != nil {
		return ic.PayoutLedger{}, fmt.Errorf("open the signer (Vault): %w", err)
	}
	if crash != nil {
		id = hookedIdentity{Identity: id, armed: armed, crash: crash}
	}
	if reg != nil {
		id = timedIdentity{Identity: id, reg: reg}
	}
	client, err := openLedger(cfg, id, log, reg)
	if err != nil {
		return ic.PayoutLedger{}, err
	}
	return ic.PayoutLedger{Client: client, Treasury: ic.Account{Owner: id.Sender()}}, nil
}
