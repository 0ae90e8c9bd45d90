package ic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aviate-labs/agent-go"
	"github.com/aviate-labs/agent-go/certification"
	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal"
)

// Canister ids on the NNS subnet (docs/ic-interfaces.md §1).
var (
	LedgerCanisterID     = principal.MustDecode("ryjl3-tyaaa-aaaaa-aaaba-cai")
	GovernanceCanisterID = principal.MustDecode("rrkah-fqaaa-aaaaa-aaaaq-cai")
	CMCCanisterID        = principal.MustDecode("rkp4c-7iaaa-aaaaa-aaaca-cai")
)

// DefaultURL is the IC's public API host.
const DefaultURL = "https://icp0.io"

// Config configures a Client.
type Config struct {
	// URL of the replica or boundary node (default DefaultURL).
	URL string
	// Identity signs requests; nil means anonymous (enough for queries).
	Identity identity.Identity
	// FetchRootKey trusts the root key served by URL's /api/v2/status. Only
	// for a local replica or ops/icsim; refused for mainnet hosts.
	FetchRootKey bool
	// IngressExpiry is the request validity and the maximum certificate age
	// (default 5 min, the IC's maximum).
	IngressExpiry time.Duration
	// PollDelay is the read_state polling interval after a 202 (default 1 s).
	PollDelay time.Duration
	// PollTimeout bounds polling (default 30 s); a timeout is OutcomeUnknown.
	PollTimeout time.Duration
	// HTTPClient is used for all requests (default http.DefaultClient).
	HTTPClient *http.Client
	// Logger receives debug lines; nil discards. Never logs key material.
	Logger *slog.Logger
	// CertificateFailed, when set, is told of every certificate check that
	// failed, by check (one of CertificateChecks()): the reply is refused
	// either way (ErrUnverified).
	CertificateFailed func(check string)
}

// CertificateChecks are the certificate checks the client makes: a CMC
// rate's certified data, an update call's certified reply, a page of
// ledger blocks' certified tip.
func CertificateChecks() []string { return []string{"cmc_rate", "call_reply", "ledger_blocks"} }

// certificateFailed reports a failed certificate check of kind check.
func (c *Client) certificateFailed(check string) {
	if c.cfg.CertificateFailed != nil {
		c.cfg.CertificateFailed(check)
	}
}

// mainnetHosts are hosts for which FetchRootKey is refused.
var mainnetHosts = []string{"icp0.io", "ic0.app", "icp-api.io", "internetcomputer.org"}

// Validate checks the configuration.
func (c Config) Validate() error {
	raw := c.URL
	if raw == "" {
		raw = DefaultURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("ic: config: URL %q must be an absolute http(s) URL", c.URL)
	}
	if c.FetchRootKey {
		h := strings.ToLower(u.Hostname())
		for _, m := range mainnetHosts {
			if h == m || strings.HasSuffix(h, "."+m) {
				return fmt.Errorf("ic: config: FetchRootKey is refused for mainnet host %s (it would trust an unauthenticated root key)", h)
			}
		}
	}
	if c.IngressExpiry < 0 || c.IngressExpiry > 5*time.Minute {
		return fmt.Errorf("ic: config: IngressExpiry must be in (0, 5m], got %s", c.IngressExpiry)
	}
	if c.PollDelay < 0 || c.PollTimeout < 0 {
		return errors.New("ic: config: PollDelay and PollTimeout must be >= 0")
	}
	return nil
}

// Client talks to the IC through agent-go with verification always on.
type Client struct {
	cfg   Config
	agent *agent.Agent
	id    identity.Identity
	log   *slog.Logger
	// certs skips the BLS check for certificates of a round already
	// verified (certcache.go).
	certs *certCache
}

// New validates cfg and creates the agent. With FetchRootKey it contacts
// the replica (no context: agent-go's constructor takes none).
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if cfg.IngressExpiry == 0 {
		cfg.IngressExpiry = 5 * time.Minute
	}
	if cfg.PollDelay == 0 {
		cfg.PollDelay = time.Second
	}
	if cfg.PollTimeout == 0 {
		cfg.PollTimeout = 30 * time.Second
	}
	if cfg.Identity == nil {
		cfg.Identity = new(identity.AnonymousIdentity)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	u, _ := url.Parse(cfg.URL)
	opts := []agent.ClientOption{agent.WithHostURL(u)}
	if cfg.HTTPClient != nil {
		opts = append(opts, agent.WithHttpClient(cfg.HTTPClient))
	}
	a, err := agent.New(agent.Config{
		Identity:      cfg.Identity,
		IngressExpiry: cfg.IngressExpiry,
		ClientConfig:  opts,
		FetchRootKey:  cfg.FetchRootKey,
		PollDelay:     cfg.PollDelay,
		PollTimeout:   cfg.PollTimeout,
		// DisableSignedQueryVerification stays false: query replies are verified.
	})
	if err != nil {
		return nil, classify("connect", err, false, false)
	}
	if len(a.GetRootKey()) == 0 {
		return nil, &Error{Op: "connect", Err: fmt.Errorf("%s returned no root key", cfg.URL)}
	}
	return &Client{cfg: cfg, agent: a, id: cfg.Identity, log: log, certs: newCertCache(certCacheSize, certification.VerifyCertificate)}, nil
}

// Sender is the principal requests are signed as.
func (c *Client) Sender() principal.Principal { return c.id.Sender() }

// RootKeyDER is the root key certificates are verified against.
func (c *Client) RootKeyDER() []byte { return append([]byte{}, c.agent.GetRootKey()...) }

// query runs a verified query (agent-go checks the node signature and the
// subnet certificate that publishes the node key).
func (c *Client) query(ctx context.Context, canister principal.Principal, method string, in, out []any) error {
	if err := c.agent.QueryWithContext(ctx, canister, method, in, out); err != nil {
		return classify(method, err, false, true)
	}
	return nil
}
