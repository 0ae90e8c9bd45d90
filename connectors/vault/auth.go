package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	vapi "github.com/hashicorp/vault/api"

	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
)

// ErrSigning marks every failure to obtain a signature (Vault sealed,
// unreachable, permission denied, an expired token, a bad answer). A
// request whose signature failed was never sent.
var ErrSigning error = signingError{}

// signingError is ErrSigning: it says SigningFailed, so code that must not
// import this package (the IC connector deciding whether a request left)
// recognises it by that method alone.
type signingError struct{}

func (signingError) Error() string { return "vault signing failed" }

// SigningFailed marks a request that was never signed, hence never sent.
func (signingError) SigningFailed() bool { return true }

// Login authenticates the client: with AppRole it logs in and sets the
// token; with a token it checks the token with lookup-self. It returns the
// token's lease (0: no expiry). Neither the token nor the secret id is ever
// logged or put into an error.
func (c *Client) Login(ctx context.Context) (*vapi.Secret, error) {
	switch c.cfg.Auth {
	case "approle":
		path := "auth/" + c.cfg.AppRoleMount + "/login"
		s, err := c.api.Logical().WriteWithContext(ctx, path, map[string]any{"role_id": c.cfg.RoleID, "secret_id": c.cfg.SecretID})
		if err != nil {
			return nil, fmt.Errorf("vault: approle login at %s: %w", path, err)
		}
		if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
			return nil, fmt.Errorf("vault: approle login at %s returned no token", path)
		}
		c.api.SetToken(s.Auth.ClientToken)
		return s, nil
	default:
		s, err := c.api.Auth().Token().LookupSelfWithContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("vault: token lookup-self: %w", err)
		}
		if s == nil || s.Data == nil {
			return nil, errors.New("vault: token lookup-self returned nothing")
		}
		renewable, _ := s.Data["renewable"].(bool)
		ttl, _ := s.Data["ttl"].(json.Number)
		n, _ := ttl.Int64()
		// A Secret the LifetimeWatcher understands (it renews Auth tokens
		// with renew-self when ClientToken is the client's token).
		return &vapi.Secret{Auth: &vapi.SecretAuth{ClientToken: c.api.Token(), Renewable: renewable, LeaseDuration: int(n)}}, nil
	}
}

// KeepAlive keeps the client's token valid until ctx ends: it renews a
// renewable token with a LifetimeWatcher and, with AppRole, logs in again
// whenever renewal stops, whatever the reason (DoneCh may deliver nil when
// the max TTL is reached: docs/pitfalls.md V6). A static token that cannot be
// renewed is left alone: when it expires, signing fails with ErrSigning and
// a run stops cleanly. login is the secret Login returned.
func (c *Client) KeepAlive(ctx context.Context, login *vapi.Secret, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	backoff := time.Second
	// Logging in again is retried until it works or ctx ends, through the
	// one retry policy (1 s doubling to a minute, with jitter).
	relogin := retry.Policy{Tries: math.MaxInt32, Initial: time.Second, Max: time.Minute, Classify: retry.Always,
		OnRetry: func(err error, _ int, wait time.Duration) {
			log.Warn("vault: login failed; retrying", "auth", c.cfg.Auth, "error", err.Error(), "retry_in", wait.String())
		}}
	for ctx.Err() == nil {
		if login == nil || login.Auth == nil {
			var s *vapi.Secret
			if err := retry.Do(ctx, relogin, func(ctx context.Context) (err error) { s, err = c.Login(ctx); return err }); err != nil {
				return // ctx ended
			}
			login = s
			log.Info("vault: logged in", "auth", c.cfg.Auth, "ttl_seconds", s.Auth.LeaseDuration, "renewable", s.Auth.Renewable)
		}
		if !login.Auth.Renewable || login.Auth.LeaseDuration == 0 {
			if c.cfg.Auth != "approle" || login.Auth.LeaseDuration == 0 {
				return // a root or periodic-less static token: nothing to renew
			}
			// A non-renewable AppRole token: log in again before it expires.
			if !sleepCtx(ctx, time.Duration(login.Auth.LeaseDuration)*time.Second*3/4) {
				return
			}
			login = nil
			continue
		}
		w, err := c.api.NewLifetimeWatcher(&vapi.LifetimeWatcherInput{Secret: login})
		if err != nil {
			log.Warn("vault: lifetime watcher", "error", err.Error())
			login = nil
			if !sleepCtx(ctx, backoff) {
				return
			}
			continue
		}
		go w.Start()
		renewing := true
		for renewing {
			select {
			case <-ctx.Done():
				w.Stop()
				return
			case r := <-w.RenewCh():
				if r != nil && r.Secret != nil && r.Secret.Auth != nil {
					log.Info("vault: token renewed", "ttl_seconds", r.Secret.Auth.LeaseDuration)
				}
			case err := <-w.DoneCh():
				// Any value, nil included, ends this token's renewals.
				w.Stop()
				renewing = false
				msg := "max TTL reached"
				if err != nil {
					msg = err.Error()
				}
				if c.cfg.Auth != "approle" {
					log.Error("vault: the token can no longer be renewed; signing stops when it expires", "reason", msg)
					return
				}
				log.Warn("vault: token renewal ended; logging in again", "reason", msg)
				login = nil
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
