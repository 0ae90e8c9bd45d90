package vault

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	vapi "github.com/hashicorp/vault/api"
)

// Config selects the Vault server and the transit key.
type Config struct {
	Addr         string // e.g. http://127.0.0.1:18200 (NODESHARE_VAULT_ADDR)
	CAFile       string // PEM CA certificates for an https:// Addr; empty: the system's
	Token        string // the signer's token (NODESHARE_VAULT_TOKEN); never logged
	TransitMount string // default "transit"
	TransitKey   string // e.g. nodeshare-treasury
	Timeout      time.Duration

	// Auth is "token" (default: Token is used as is, renewed when
	// renewable) or "approle" (RoleID and SecretID log in at AppRoleMount;
	// the token is renewed and the client logs in again whenever renewal
	// ends, docs/pitfalls.md V6).
	Auth         string
	RoleID       string // approle; never logged
	SecretID     string // approle; never logged
	AppRoleMount string // default "approle"
}

// Validate checks the config; the error never contains the token.
func (c *Config) Validate() error {
	if c.Addr == "" {
		return errors.New("vault: addr is empty (set NODESHARE_VAULT_ADDR)")
	}
	if !strings.HasPrefix(c.Addr, "http://") && !strings.HasPrefix(c.Addr, "https://") {
		return fmt.Errorf("vault: addr must start with http:// or https://, got %q", c.Addr)
	}
	if c.CAFile != "" {
		if !strings.HasPrefix(c.Addr, "https://") {
			return fmt.Errorf("vault: a CA file (--vault-ca-file %s, NODESHARE_VAULT_CA_FILE) is set but the addr %q is not https://", c.CAFile, c.Addr)
		}
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return fmt.Errorf("vault: --vault-ca-file %s: %w (NODESHARE_VAULT_CA_FILE)", c.CAFile, err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return fmt.Errorf("vault: --vault-ca-file %s holds no PEM certificate (NODESHARE_VAULT_CA_FILE)", c.CAFile)
		}
	}
	switch c.Auth {
	case "", "token":
		c.Auth = "token"
		if c.Token == "" {
			return errors.New("vault: token is empty (set NODESHARE_VAULT_TOKEN)")
		}
	case "approle":
		if c.RoleID == "" || c.SecretID == "" {
			return errors.New("vault: approle auth needs a role id and a secret id (NODESHARE_VAULT_ROLE_ID, NODESHARE_VAULT_SECRET_ID)")
		}
		if c.AppRoleMount == "" {
			c.AppRoleMount = "approle"
		}
	default:
		return fmt.Errorf("vault: auth must be token or approle, got %q", c.Auth)
	}
	if c.TransitMount == "" {
		c.TransitMount = "transit"
	}
	if c.TransitKey == "" {
		return errors.New("vault: transit key name is empty (set NODESHARE_VAULT_TRANSIT_KEY)")
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	return nil
}

// Client talks to Vault with one token.
type Client struct {
	api *vapi.Client
	cfg Config
}

// New builds a client. It does not read VAULT_* variables for the token or
// address (docs/pitfalls.md V1): only the explicit config counts.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	vc := vapi.DefaultConfig()
	if vc.Error != nil {
		return nil, fmt.Errorf("vault: default config: %w", vc.Error)
	}
	vc.Address = cfg.Addr
	vc.Timeout = cfg.Timeout
	if cfg.CAFile != "" {
		if err := vc.ConfigureTLS(&vapi.TLSConfig{CACert: cfg.CAFile}); err != nil {
			return nil, fmt.Errorf("vault %s: CA file %s: %w", cfg.Addr, cfg.CAFile, err)
		}
	}
	// agent-go signs every request (calls, polls, queries) through transit,
	// so signatures run concurrently: keep enough idle connections (the
	// pooled default is GOMAXPROCS+1 per host; more concurrent requests
	// would open and close a TCP connection each).
	if t, ok := vc.HttpClient.Transport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = 64
		// VAULT_SKIP_VERIFY in the environment (read by DefaultConfig)
		// never turns certificate checks off: only the config counts.
		if t.TLSClientConfig != nil {
			t.TLSClientConfig.InsecureSkipVerify = false
		}
	}
	vc.MaxRetries = 2 // transit sign is deterministic for ed25519, safe to retry (V2)
	c, err := vapi.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", cfg.Addr, err)
	}
	if cfg.Auth == "token" {
		c.SetToken(cfg.Token)
	} else {
		c.ClearToken() // approle: Login sets it
	}
	c.SetNamespace("")
	return &Client{api: c, cfg: cfg}, nil
}

// API returns the underlying client (for ops tooling and tests).
func (c *Client) API() *vapi.Client { return c.api }

// PublicKey returns the latest version of the transit key and its Ed25519
// public key (raw 32 bytes, docs/pitfalls.md V4).
func (c *Client) PublicKey(ctx context.Context) (ed25519.PublicKey, int, error) {
	path := c.cfg.TransitMount + "/keys/" + c.cfg.TransitKey
	s, err := c.api.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return nil, 0, fmt.Errorf("vault: read %s: %w", path, err)
	}
	if s == nil || s.Data == nil {
		return nil, 0, fmt.Errorf("vault: transit key %s not found at %s", c.cfg.TransitKey, path)
	}
	if t, _ := s.Data["type"].(string); t != "ed25519" {
		return nil, 0, fmt.Errorf("vault: transit key %s must be type ed25519, got %q", c.cfg.TransitKey, t)
	}
	keys, ok := s.Data["keys"].(map[string]any)
	if !ok || len(keys) == 0 {
		return nil, 0, fmt.Errorf("vault: transit key %s has no versions", c.cfg.TransitKey)
	}
	versions := make([]int, 0, len(keys))
	for k := range keys {
		v, err := strconv.Atoi(k)
		if err != nil {
			return nil, 0, fmt.Errorf("vault: transit key %s: bad version %q", c.cfg.TransitKey, k)
		}
		versions = append(versions, v)
	}
	sort.Ints(versions)
	latest := versions[len(versions)-1]
	entry, _ := keys[strconv.Itoa(latest)].(map[string]any)
	pubB64, _ := entry["public_key"].(string)
	pub, err := base64.StdEncoding.DecodeString(pubB64)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, 0, fmt.Errorf("vault: transit key %s v%d: public_key is not a base64 32-byte Ed25519 key", c.cfg.TransitKey, latest)
	}
	return ed25519.PublicKey(pub), latest, nil
}

// Sign signs msg (pure Ed25519, no pre-hash: docs/pitfalls.md V3) with the given key
// version and returns the raw 64-byte signature.
func (c *Client) Sign(ctx context.Context, msg []byte, version int) ([]byte, error) {
	path := c.cfg.TransitMount + "/sign/" + c.cfg.TransitKey
	body := map[string]any{"input": base64.StdEncoding.EncodeToString(msg)}
	if version > 0 {
		body["key_version"] = version
	}
	s, err := c.api.Logical().WriteWithContext(ctx, path, body)
	if err != nil {
		return nil, fmt.Errorf("vault: sign with %s: %w: %w", path, ErrSigning, err)
	}
	if s == nil || s.Data == nil {
		return nil, fmt.Errorf("vault: sign with %s: %w: empty response", path, ErrSigning)
	}
	return parseSignature(path, s.Data["signature"])
}

// SignBatch signs every message in one transit request (batch_input),
// with the given key version. It returns one signature or one error per
// message, in order; the error is for the whole batch when the request
// itself failed (every message then wraps ErrSigning).
func (c *Client) SignBatch(ctx context.Context, msgs [][]byte, version int) ([][]byte, []error, error) {
	path := c.cfg.TransitMount + "/sign/" + c.cfg.TransitKey
	in := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		in[i] = map[string]any{"input": base64.StdEncoding.EncodeToString(m)}
	}
	body := map[string]any{"batch_input": in}
	if version > 0 {
		body["key_version"] = version
	}
	s, err := c.api.Logical().WriteWithContext(ctx, path, body)
	if err != nil {
		return nil, nil, fmt.Errorf("vault: sign with %s: %w: %w", path, ErrSigning, err)
	}
	if s == nil || s.Data == nil {
		return nil, nil, fmt.Errorf("vault: sign with %s: %w: empty response", path, ErrSigning)
	}
	results, _ := s.Data["batch_results"].([]any)
	if len(results) != len(msgs) {
		return nil, nil, fmt.Errorf("vault: sign with %s: %w: %d batch results for %d inputs", path, ErrSigning, len(results), len(msgs))
	}
	sigs, errs := make([][]byte, len(msgs)), make([]error, len(msgs))
	for i, r := range results {
		item, _ := r.(map[string]any)
		if msg, _ := item["error"].(string); msg != "" {
			errs[i] = fmt.Errorf("vault: sign with %s: %w: batch item %d: %s", path, ErrSigning, i, msg)
			continue
		}
		sigs[i], errs[i] = parseSignature(path, item["signature"])
	}
	return sigs, errs, nil
}

// parseSignature reads "vault:v<N>:<base64>" into a raw Ed25519 signature.
func parseSignature(path string, v any) ([]byte, error) {
	sigStr, _ := v.(string)
	parts := strings.Split(sigStr, ":")
	if len(parts) != 3 || parts[0] != "vault" {
		return nil, fmt.Errorf("vault: sign with %s: %w: unexpected signature format", path, ErrSigning)
	}
	sig, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("vault: sign with %s: %w: signature is not 64 bytes of base64", path, ErrSigning)
	}
	return sig, nil
}

// TokenTTL returns the remaining TTL of the client's token (0 = no expiry).
func (c *Client) TokenTTL(ctx context.Context) (time.Duration, error) {
	s, err := c.api.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return 0, fmt.Errorf("vault: token lookup-self: %w", err)
	}
	ttl, _ := s.Data["ttl"].(json.Number)
	n, _ := ttl.Int64()
	return time.Duration(n) * time.Second, nil
}
