package prices

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
	"github.com/nodeshare/nodeshare/schemas"
)

// Defaults of Config.
const (
	// DefaultBaseURL is CoinGecko's public (keyless or demo key) API root.
	DefaultBaseURL = "https://api.coingecko.com"
	// DefaultCoin is ICP's coin id at CoinGecko.
	DefaultCoin = "internet-computer"
	// DefaultCurrency is the fiat currency prices are read in.
	DefaultCurrency = "usd"
	// DefaultSource is the <source> of the facts' keys.
	DefaultSource = "coingecko"
)

// Config configures a Client. Zero values take the defaults.
type Config struct {
	// BaseURL is the API root the /api/v3/... paths are appended to:
	// DefaultBaseURL, https://pro-api.coingecko.com, or the simulator's
	// http://127.0.0.1:18080/coingecko.
	BaseURL string
	// Coin is the coin id in the path (default DefaultCoin).
	Coin string
	// Currency is the vs_currency: three lower-case letters (default
	// DefaultCurrency).
	Currency string
	// Source names the price source in the facts and their keys (default
	// DefaultSource; schemas.ValidateFiatSource).
	Source string
	// APIKey, when set, is sent in the APIKeyHeader header (never in the
	// URL, so never in provenance or logs).
	APIKey string
	// APIKeyHeader is the header the key goes in (default: x-cg-pro-api-key
	// for pro-api.coingecko.com, x-cg-demo-api-key otherwise).
	APIKeyHeader string
	// HTTPClient sends the requests (default: a client without its own
	// timeout; RequestTimeout bounds each attempt).
	HTTPClient *http.Client
	// RequestTimeout bounds one attempt (default 10 s).
	RequestTimeout time.Duration
	// MaxAttempts is the number of tries for a transient failure (default 4).
	MaxAttempts int
	// Backoff is the wait before the second attempt; it doubles up to
	// MaxBackoff (defaults 500 ms and 8 s). A Retry-After header within
	// MaxBackoff is honoured.
	Backoff, MaxBackoff time.Duration
	// Logger receives one line per retried failure; nil discards.
	Logger *slog.Logger
}

// maxBody bounds a response body: 90 days of hourly points with market
// caps and volumes is about 200 KiB.
const maxBody = 8 << 20

// Client reads the price API.
type Client struct {
	cfg  Config
	base *url.URL
	log  *slog.Logger
}

// New validates cfg and applies the defaults.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("prices: config: BaseURL %q must be an absolute http(s) URL without a query", cfg.BaseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if cfg.Coin == "" {
		cfg.Coin = DefaultCoin
	}
	if cfg.Coin != url.PathEscape(cfg.Coin) || strings.Contains(cfg.Coin, "/") {
		return nil, fmt.Errorf("prices: config: Coin %q must be a plain path segment", cfg.Coin)
	}
	if cfg.Currency == "" {
		cfg.Currency = DefaultCurrency
	}
	if err := schemas.ValidateCurrency(cfg.Currency); err != nil {
		return nil, fmt.Errorf("prices: config: %w", err)
	}
	if cfg.Source == "" {
		cfg.Source = DefaultSource
	}
	if err := schemas.ValidateFiatSource(cfg.Source); err != nil {
		return nil, fmt.Errorf("prices: config: %w", err)
	}
	if cfg.RequestTimeout < 0 || cfg.MaxAttempts < 0 || cfg.Backoff < 0 || cfg.MaxBackoff < 0 {
		return nil, errors.New("prices: config: timeouts, attempts and backoffs must be >= 0")
	}
	if cfg.APIKeyHeader == "" {
		cfg.APIKeyHeader = "x-cg-demo-api-key"
		if strings.EqualFold(u.Hostname(), "pro-api.coingecko.com") {
			cfg.APIKeyHeader = "x-cg-pro-api-key"
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 8 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return &Client{cfg: cfg, base: u, log: log}, nil
}

// Source and Currency are what every price of this client carries.
func (c *Client) Source() string   { return c.cfg.Source }
func (c *Client) Currency() string { return c.cfg.Currency }

// Host is the API's host (with its port when it has one), for provenance.
func (c *Client) Host() string { return c.base.Host }

// Error is a failed price request after its retries.
type Error struct {
	// Path is the API path, e.g. "/api/v3/coins/internet-computer/market_chart/range".
	Path string
	// StatusCode is the last HTTP status, 0 if no response arrived.
	StatusCode int
	// Transient: a later try may succeed (5xx, 429, timeouts, network).
	Transient bool
	Attempts  int
	Err       error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("prices: GET %s", e.Path)
	if e.StatusCode != 0 {
		s += fmt.Sprintf(": HTTP %d", e.StatusCode)
	}
	s += fmt.Sprintf(": %v (after %d attempt(s)", e.Err, e.Attempts)
	if e.Transient {
		s += "; transient, the next poll retries"
	}
	return s + ")"
}

func (e *Error) Unwrap() error { return e.Err }

// IsTransient reports e.Transient, under the name
// pipeline/stage/retry.Classify looks for.
func (e *Error) IsTransient() bool { return e.Transient }

// IsTransient reports whether err is a price API failure worth retrying later.
func IsTransient(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Transient
}

// RangePath is the market chart path of coin: /api/v3/coins/{coin}/market_chart/range.
func RangePath(coin string) string { return "/api/v3/coins/" + coin + "/market_chart/range" }

// URL returns the full URL of an API path (without any API key).
func (c *Client) URL(path string, q url.Values) string {
	u := *c.base
	u.Path = u.Path + path
	u.RawQuery = q.Encode()
	return u.String()
}

// rangeQuery is the query of a range request; from and to are Unix seconds.
func (c *Client) rangeQuery(from, to time.Time) url.Values {
	return url.Values{"vs_currency": {c.cfg.Currency}, "from": {strconv.FormatInt(from.Unix(), 10)}, "to": {strconv.FormatInt(to.Unix(), 10)}}
}

// Range returns ICP's prices in the client's currency within [from, to]
// (Unix seconds; the API decides the granularity: hourly for a range of up
// to 90 days at CoinGecko), oldest first, each validated.
func (c *Client) Range(ctx context.Context, from, to time.Time) ([]schemas.FiatPrice, error) {
	if to.Before(from) {
		return nil, fmt.Errorf("prices: range from %s to %s: to is before from", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	path := RangePath(c.cfg.Coin)
	body, err := c.get(ctx, path, c.rangeQuery(from, to))
	if err != nil {
		return nil, err
	}
	pts, err := DecodeMarketChart(body, c.cfg.Source, c.cfg.Currency)
	if err != nil {
		return nil, &Error{Path: path, StatusCode: http.StatusOK, Attempts: 1, Err: err}
	}
	return pts, nil
}

// get fetches path and returns the body of a 200, retrying transient
// failures through pipeline/stage/retry (exponential backoff from
// Config.Backoff up to MaxBackoff, with jitter). A Retry-After header
// within MaxBackoff lengthens the wait before the next attempt to at least
// what the server asked for. The approach of connectors/dashboard.
func (c *Client) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	var (
		body       []byte
		last       *Error
		attempt    int
		retryAfter time.Duration // asked by the last failure, 0: none
		failedAt   time.Time
	)
	err := retry.Do(ctx, retry.Policy{
		Tries:   c.cfg.MaxAttempts,
		Initial: c.cfg.Backoff,
		Max:     c.cfg.MaxBackoff,
		// This client's own classification decides (Error.Transient).
		Classify: func(err error) retry.Class {
			if IsTransient(err) {
				return retry.Transient
			}
			return retry.Fatal
		},
		OnRetry: func(_ error, try int, wait time.Duration) {
			c.log.Warn("price request failed, retrying", "path", path, "attempt", try, "wait", max(wait, retryAfter).String(),
				"error", last.Err.Error(), "http_status", last.StatusCode)
		},
	}, func(ctx context.Context) error {
		if rest := retryAfter - time.Since(failedAt); attempt > 0 && rest > 0 {
			t := time.NewTimer(rest)
			select {
			case <-ctx.Done():
				t.Stop()
				return last
			case <-t.C:
			}
		}
		attempt++
		b, ra, err := c.once(ctx, path, q)
		if err != nil {
			err.Attempts = attempt
			last, failedAt, retryAfter = err, time.Now(), 0
			if ra <= c.cfg.MaxBackoff {
				retryAfter = ra
			}
			return err
		}
		body = b
		return nil
	})
	if err == nil {
		return body, nil
	}
	if last == nil {
		// retry.Do stopped before the first attempt (ctx already done).
		return nil, &Error{Path: path, Err: err}
	}
	if ctx.Err() != nil && last.Transient {
		last.Err = fmt.Errorf("%w; stopped waiting for a retry: %v", last.Err, ctx.Err())
	}
	return nil, last
}

func (c *Client) once(ctx context.Context, path string, q url.Values) ([]byte, time.Duration, *Error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, c.URL(path, q), nil)
	if err != nil {
		return nil, 0, &Error{Path: path, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set(c.cfg.APIKeyHeader, c.cfg.APIKey)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		var ne net.Error
		transient := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF)
		if ctx.Err() != nil {
			transient = false // the caller gave up
		}
		return nil, 0, &Error{Path: path, Transient: transient, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, 0, &Error{Path: path, StatusCode: resp.StatusCode, Transient: true, Err: fmt.Errorf("read body: %w", err)}
	}
	if len(body) > maxBody {
		return nil, 0, &Error{Path: path, StatusCode: resp.StatusCode, Err: fmt.Errorf("body larger than %d bytes", maxBody)}
	}
	if resp.StatusCode != http.StatusOK {
		var retryAfter time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			retryAfter = time.Duration(s) * time.Second
		}
		snippet := string(body)
		if len(snippet) > 200 {
			snippet = snippet[:200] + "..."
		}
		return nil, retryAfter, &Error{Path: path, StatusCode: resp.StatusCode,
			Transient: resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500,
			Err:       fmt.Errorf("unexpected status: %q", snippet)}
	}
	return body, 0, nil
}
