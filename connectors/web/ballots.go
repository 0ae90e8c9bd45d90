package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/nodeshare/nodeshare/schemas"
)

// BallotBox is the door of pool votes behind the ballot endpoint
// (pipeline/stage/votes implements it): Cast answers once the broker
// acknowledged the ballot; an error with BadInput() true is the voter's
// (400, with the reason).
type BallotBox interface {
	Cast(ctx context.Context, dao, pool string, b schemas.SignedBallot) (schemas.BallotReceipt, error)
	// Votes and Ballots return JSON-encodable answers.
	Votes(ctx context.Context, dao, pool string) (any, error)
	Ballots(ctx context.Context, dao, pool, voter string) (any, error)
	// Access is a pool's access register (docs/governance.md).
	Access(ctx context.Context, dao, pool string) (any, error)
}

// maxBallotBytes bounds a ballot request: a ballot is well under 2 KiB.
const maxBallotBytes = 16 << 10

// Ballot endpoint limits per client address: DefaultBallotRate requests a
// second on average, DefaultBallotBurst at once; more answer 429.
const (
	DefaultBallotRate  = 2.0
	DefaultBallotBurst = 10
)

// limiter is a token bucket per client address (golang.org/x/time/rate:
// the standard one; why write another).
type limiter struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	clients map[string]*rate.Limiter
}

func newLimiter(perSecond float64, burst int) *limiter {
	if perSecond <= 0 {
		perSecond = DefaultBallotRate
	}
	if burst <= 0 {
		burst = DefaultBallotBurst
	}
	return &limiter{every: rate.Limit(perSecond), burst: burst, clients: map[string]*rate.Limiter{}}
}

func (l *limiter) allow(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.clients) > 100_000 {
		// Bound the memory: forgetting every bucket at once only ever
		// lets a client start again with a full burst.
		l.clients = map[string]*rate.Limiter{}
	}
	c, ok := l.clients[host]
	if !ok {
		c = rate.NewLimiter(l.every, l.burst)
		l.clients[host] = c
	}
	return c.Allow()
}

// api serves the ballot endpoint and the votes as JSON:
//
//	POST /api/ballots                       a signed ballot (schemas.BallotRequest)
//	GET  /api/votes?dao=&pool=              a pool's votes with their tallies
//	GET  /api/ballots?dao=&pool=&voter=     a voter's ballots, counted or refused with the reason
//	GET  /api/access?dao=&pool=             a pool's access register (grant_hoster_access votes)
type api struct {
	box   BallotBox
	limit *limiter
	log   interface {
		Error(msg string, args ...any)
		Info(msg string, args ...any)
	}
}

func (a *api) ballots(w http.ResponseWriter, r *http.Request) {
	if !a.limit.allow(r) {
		w.Header().Set("Retry-After", "1")
		a.fail(w, r, http.StatusTooManyRequests, errors.New("too many requests from this address: wait a second"))
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		q := r.URL.Query()
		out, err := a.box.Ballots(r.Context(), q.Get("dao"), q.Get("pool"), q.Get("voter"))
		a.answer(w, r, http.StatusOK, out, err)
	case http.MethodPost:
		a.cast(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		a.fail(w, r, http.StatusMethodNotAllowed, fmt.Errorf("%s is not allowed here", r.Method))
	}
}

func (a *api) cast(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		a.fail(w, r, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Type %q: send application/json", ct))
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBallotBytes))
	dec.DisallowUnknownFields()
	var req schemas.BallotRequest
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Errorf("a ballot request is at most %d bytes", maxBallotBytes))
			return
		}
		a.fail(w, r, http.StatusBadRequest, fmt.Errorf("the request is not a ballot (schemas.BallotRequest): %v", err))
		return
	}
	if dec.More() {
		a.fail(w, r, http.StatusBadRequest, errors.New("one ballot per request"))
		return
	}
	receipt, err := a.box.Cast(r.Context(), req.DAO, req.PoolID, req.Ballot)
	if err == nil {
		a.log.Info("ballot published", "dao", req.DAO, "pool", req.PoolID, "key", receipt.Key)
	}
	a.answer(w, r, http.StatusAccepted, receipt, err)
}

func (a *api) votes(w http.ResponseWriter, r *http.Request) { a.get(w, r, a.box.Votes) }

func (a *api) access(w http.ResponseWriter, r *http.Request) { a.get(w, r, a.box.Access) }

// get answers a read of one pool (?dao=&pool=) with read's answer.
func (a *api) get(w http.ResponseWriter, r *http.Request, read func(ctx context.Context, dao, pool string) (any, error)) {
	if !a.limit.allow(r) {
		w.Header().Set("Retry-After", "1")
		a.fail(w, r, http.StatusTooManyRequests, errors.New("too many requests from this address: wait a second"))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		a.fail(w, r, http.StatusMethodNotAllowed, fmt.Errorf("%s is not allowed here", r.Method))
		return
	}
	q := r.URL.Query()
	out, err := read(r.Context(), q.Get("dao"), q.Get("pool"))
	a.answer(w, r, http.StatusOK, out, err)
}

func (a *api) answer(w http.ResponseWriter, r *http.Request, code int, v any, err error) {
	var bad interface{ BadInput() bool }
	switch {
	case err == nil:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	case errors.As(err, &bad) && bad.BadInput():
		a.fail(w, r, http.StatusBadRequest, err)
	case r.Context().Err() != nil:
	default:
		a.log.Error("api failed", "path", r.URL.Path, "error", err)
		a.fail(w, r, http.StatusServiceUnavailable, errors.New("the ballot could not be recorded now (nothing was recorded); try again"))
	}
}

func (a *api) fail(w http.ResponseWriter, _ *http.Request, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": schemas.SafeReason(err.Error())})
}

// requestTimeout bounds one API call (the broker's acknowledgement
// included).
const requestTimeout = 30 * time.Second

// PostBallot sends a signed ballot to a `nodeshare serve` ballot endpoint
// (endpoint is its base URL, e.g. https://dao.example/) and returns the
// receipt, or the server's reason for refusing it.
func PostBallot(ctx context.Context, client *http.Client, endpoint string, req schemas.BallotRequest) (schemas.BallotReceipt, error) {
	var receipt schemas.BallotReceipt
	body, err := json.Marshal(req)
	if err != nil {
		return receipt, err
	}
	url := strings.TrimSuffix(endpoint, "/") + "/api/ballots"
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return receipt, fmt.Errorf("ballot endpoint %q: %w", endpoint, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(hr)
	if err != nil {
		return receipt, fmt.Errorf("ballot endpoint %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 64<<10)).Decode(&e)
		return receipt, &RefusedError{Status: resp.StatusCode, Reason: e.Error}
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 64<<10)).Decode(&receipt); err != nil {
		return receipt, fmt.Errorf("ballot endpoint %s: the receipt: %w", url, err)
	}
	return receipt, nil
}

// RefusedError is a ballot endpoint's refusal: the HTTP status and the
// server's reason.
type RefusedError struct {
	Status int
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("ballot refused (%d %s): %s", e.Status, http.StatusText(e.Status), e.Reason)
}
