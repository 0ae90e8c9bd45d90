// Package web is nodeshare's door to people's browsers: the HTTP server
// of `nodeshare serve` (docs/serve.md), on net/http alone. It owns the
// routes, the read-only rule (GET and HEAD only: anything else is 405),
// the security headers (no script may run, nothing is loaded from
// elsewhere, no framing, no caching of money pages), the mapping of
// errors to statuses (400 for a value that does not parse, 404, 500 with
// the cause in the log only), the timeouts, and the graceful shutdown.
//
// What a page shows and how it looks is the Site's (pipeline/stage/serve
// implements it; cmd/nodeshare wires the two): this package never
// computes or formats a number, and never reads a store.
package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"time"
)

// Site writes the pages. Each method writes a whole page to w or returns
// an error; an error with a BadInput() bool method answering true is the
// asker's (400), one with NotFound() true a missing page (404).
type Site interface {
	Index(ctx context.Context, w io.Writer) error
	DAO(ctx context.Context, w io.Writer, dao string) error
	Period(ctx context.Context, w io.Writer, dao, period string) error
	Sponsor(ctx context.Context, w io.Writer, dao, account string) error
	Statement(ctx context.Context, w io.Writer, dao, account, from, to, format string) (contentType, filename string, err error)
	Error(w io.Writer, title, message string) error
	Stylesheet() []byte
}

// securityHeaders go on every answer. The policy allows the pages' own
// stylesheet (and the report's inline style), forms to this server only,
// and nothing else: no script at all.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options":  "nosniff",
	"Referrer-Policy":         "no-referrer",
	"X-Frame-Options":         "DENY",
	"Cache-Control":           "no-store",
}

const htmlType = "text/html; charset=utf-8"

// Handler serves site: the routes below, read-only.
//
//	/                                   the DAOs and the sponsors' form
//	/style.css                          the stylesheet
//	/dao/{dao}                          a DAO's periods, pools and treasury
//	/dao/{dao}/period/{period}          a period's full report
//	/sponsor?dao=&account=              a sponsor's stakes and payouts
//	/sponsor/statement?dao=&account=&from=&to=&format=   a statement, to download
func Handler(site Site, log *slog.Logger) http.Handler {
	return handlerFor(Config{Site: site, Logger: log})
}

// handlerFor is Handler with, when cfg.Ballots is set, the ballot
// endpoint and the votes API under /api/ (ballots.go): the only routes
// that take a POST.
func handlerFor(cfg Config) http.Handler {
	site, log := cfg.Site, cfg.Logger
	h := &handler{site: site, log: log}
	mux := http.NewServeMux()
	if cfg.Ballots != nil {
		a := &api{box: cfg.Ballots, limit: newLimiter(cfg.BallotRate, cfg.BallotBurst), log: log}
		mux.Handle("/api/ballots", http.TimeoutHandler(http.HandlerFunc(a.ballots), requestTimeout, `{"error":"timed out"}`))
		mux.Handle("/api/votes", http.TimeoutHandler(http.HandlerFunc(a.votes), requestTimeout, `{"error":"timed out"}`))
		mux.Handle("/api/access", http.TimeoutHandler(http.HandlerFunc(a.access), requestTimeout, `{"error":"timed out"}`))
	}
	mux.HandleFunc("/{$}", h.page(func(r *http.Request, w io.Writer) error { return site.Index(r.Context(), w) }))
	mux.HandleFunc("/style.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = w.Write(site.Stylesheet())
	})
	mux.HandleFunc("/dao/{dao}", h.page(func(r *http.Request, w io.Writer) error { return site.DAO(r.Context(), w, r.PathValue("dao")) }))
	mux.HandleFunc("/dao/{dao}/period/{period}", h.page(func(r *http.Request, w io.Writer) error {
		return site.Period(r.Context(), w, r.PathValue("dao"), r.PathValue("period"))
	}))
	mux.HandleFunc("/sponsor", h.page(func(r *http.Request, w io.Writer) error {
		q := r.URL.Query()
		return site.Sponsor(r.Context(), w, q.Get("dao"), q.Get("account"))
	}))
	mux.HandleFunc("/sponsor/statement", h.statement)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("no page at %q", r.URL.Path))
	})
	h.ballots = cfg.Ballots != nil
	return readOnly(mux, h)
}

type handler struct {
	site    Site
	log     *slog.Logger
	ballots bool // POST /api/ballots is served
}

// readOnly answers GET and HEAD, and 405 to anything else (but a POST of a
// ballot when the ballot endpoint is on), with the security headers on
// every answer.
func readOnly(next http.Handler, h *handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range securityHeaders {
			w.Header().Set(k, v)
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !(r.URL.Path == "/api/ballots" && h.ballots) {
			w.Header().Set("Allow", "GET, HEAD")
			h.fail(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed: these pages are read-only", r.Method))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// page serves one HTML page: rendered whole into a buffer first, so an
// error gives its status and error page, never half a page.
func (h *handler) page(render func(r *http.Request, w io.Writer) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		if err := render(r, &b); err != nil {
			h.error(w, r, err)
			return
		}
		w.Header().Set("Content-Type", htmlType)
		_, _ = w.Write(b.Bytes())
	}
}

func (h *handler) statement(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var b bytes.Buffer
	ct, name, err := h.site.Statement(r.Context(), &b, q.Get("dao"), q.Get("account"), q.Get("from"), q.Get("to"), q.Get("format"))
	if err != nil {
		h.error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	_, _ = w.Write(b.Bytes())
}

// error answers err: 400 or 404 with its message, or 500 with the cause
// in the log only (a store's error is not for the page).
func (h *handler) error(w http.ResponseWriter, r *http.Request, err error) {
	var bad interface{ BadInput() bool }
	var missing interface{ NotFound() bool }
	switch {
	case errors.As(err, &bad) && bad.BadInput():
		h.fail(w, r, http.StatusBadRequest, err.Error())
	case errors.As(err, &missing) && missing.NotFound():
		h.fail(w, r, http.StatusNotFound, err.Error())
	case r.Context().Err() != nil:
		// The browser went away: nobody reads the answer.
	default:
		h.log.Error("page failed", "path", r.URL.Path, "error", err)
		h.fail(w, r, http.StatusInternalServerError, "the page could not be built; the cause is in the server's log")
	}
}

// fail writes the error page with status code.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, code int, message string) {
	var b bytes.Buffer
	if err := h.site.Error(&b, fmt.Sprintf("%d %s", code, http.StatusText(code)), message); err != nil {
		h.log.Error("error page failed", "path", r.URL.Path, "error", err)
		http.Error(w, http.StatusText(code), code)
		return
	}
	w.Header().Set("Content-Type", htmlType)
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

// Config is where and how the server listens.
type Config struct {
	// Listen is host:port (127.0.0.1:18090 by default in cmd/nodeshare;
	// port 0 picks a free one).
	Listen string
	Site   Site
	Logger *slog.Logger
	// ShutdownTimeout bounds the graceful shutdown (default 10 s).
	ShutdownTimeout time.Duration
	// Ballots, when set, turns on the ballot endpoint (ballots.go),
	// limited to BallotRate requests a second per client address with
	// bursts of BallotBurst (0: the defaults).
	Ballots     BallotBox
	BallotRate  float64
	BallotBurst int
	// TLSCertFile and TLSKeyFile, when set, serve HTTPS (PEM files).
	TLSCertFile, TLSKeyFile string
}

// Serve listens on cfg.Listen and serves cfg.Site until ctx is cancelled,
// then shuts down gracefully: requests in flight finish, within
// ShutdownTimeout. listening, when set, is told the address once the
// listener is open.
func Serve(ctx context.Context, cfg Config, listening func(net.Addr)) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return fmt.Errorf("web: TLS needs both a certificate file and a key file, got %q and %q", cfg.TLSCertFile, cfg.TLSKeyFile)
	}
	var tlsConfig *tls.Config
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("web: TLS certificate %s and key %s: %w", cfg.TLSCertFile, cfg.TLSKeyFile, err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", cfg.Listen, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	// Requests do not end with ctx: Shutdown lets those in flight
	// finish, and base ends the stragglers after ShutdownTimeout.
	base, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	srv := &http.Server{
		Handler:           handlerFor(cfg),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// A page runs the report over the store: allow it time.
		WriteTimeout:   2 * time.Minute,
		IdleTimeout:    time.Minute,
		MaxHeaderBytes: 32 << 10,
		BaseContext:    func(net.Listener) context.Context { return base },
		ErrorLog:       slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	if listening != nil {
		listening(ln.Addr())
	}
	errs := make(chan error, 1)
	go func() { errs <- srv.Serve(ln) }()
	select {
	case err := <-errs:
		return fmt.Errorf("web: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		stop()
		_ = srv.Close()
		return fmt.Errorf("web: shutdown after %s: %w", cfg.ShutdownTimeout, err)
	}
	if err := <-errs; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
