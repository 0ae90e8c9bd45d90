package dashboard

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
	"time"

	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
)

// DefaultBaseURL is the public dashboard API.
const DefaultBaseURL = "https://ic-api.internetcomputer.org/api/v3"

// Config configures a Client. Zero values take the defaults.
type Config struct {
	// BaseURL is the API root, e.g. DefaultBaseURL or, for the simulator,
	// http://127.0.0.1:18080/dashboard/api/v3.
	BaseURL string
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

// maxBody bounds a response body: a rate series is a few KiB.
const maxBody = 4 << 20

// Client reads the dashboard API.
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
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("dashboard: config: BaseURL %q must be an absolute http(s) URL", cfg.BaseURL)
	}
	if cfg.RequestTimeout < 0 || cfg.MaxAttempts < 0 || cfg.Backoff < 0 || cfg.MaxBackoff < 0 {
		return nil, errors.New("dashboard: config: timeouts, attempts and backoffs must be >= 0")
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

// Error is a failed dashboard request after its retries.
type Error struct {
	// Path is the API path, e.g. "/icp-xdr-conversion-rates".
	Path string
	// StatusCode is the last HTTP status, 0 if no response arrived.
	StatusCode int
	// Transient: a later poll may succeed (5xx, 429, timeouts, network).
	Transient bool
	Attempts  int
	Err       error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("dashboard: GET %s", e.Path)
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

// IsTransient reports whether err is a dashboard failure worth retrying later.
func IsTransient(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Transient
}

// URL returns the full URL of an API path, for provenance.
func (c *Client) URL(path string, q url.Values) string {
	u := *c.base
	u.Path = u.Path + path
	u.RawQuery = q.Encode()
	return u.String()
}

// get fetches path and returns the body of a 200, retrying transient
// failures through pipeline/stage/retry (exponential backoff from
// Config.Backoff up to MaxBackoff, with jitter). A Retry-After header
// within MaxBackoff lengthens the wait before the next attempt to at least
// what the server asked for.
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
			c.log.Warn("dashboard request failed, retrying", "path", path, "attempt", try, "wait", max(wait, retryAfter).String(),
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

// Rate paths of the API.
const (
	PathRates        = "/icp-xdr-conversion-rates"
	PathAverageRates = "/avg-icp-xdr-conversion-rates"
)

// Rates returns the spot rate series (newest first). Zero start/end leave
// the window to the API; step is in seconds (0: the API's default).
func (c *Client) Rates(ctx context.Context, start, end time.Time, stepSeconds int) ([]RatePoint, error) {
	return c.series(ctx, PathRates, start, end, stepSeconds)
}

// AverageRates returns the 30-day average series (newest first).
func (c *Client) AverageRates(ctx context.Context, start, end time.Time, stepSeconds int) ([]RatePoint, error) {
	return c.series(ctx, PathAverageRates, start, end, stepSeconds)
}

func (c *Client) series(ctx context.Context, path string, start, end time.Time, step int) ([]RatePoint, error) {
	q := url.Values{"format": {"json"}}
	if !start.IsZero() {
		q.Set("start", strconv.FormatInt(start.Unix(), 10))
	}
	if !end.IsZero() {
		q.Set("end", strconv.FormatInt(end.Unix(), 10))
	}
	if step > 0 {
		q.Set("step", strconv.Itoa(step))
	}
	body, err := c.get(ctx, path, q)
	if err != nil {
		return nil, err
	}
	pts, err := DecodeRates(body)
	if err != nil {
		return nil, &Error{Path: path, StatusCode: http.StatusOK, Attempts: 1, Err: err}
	}
	return pts, nil
}
