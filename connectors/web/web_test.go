package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/pipeline/stage/serve"
	"github.com/nodeshare/nodeshare/pipeline/stage/serve/servetest"
	"github.com/nodeshare/nodeshare/schemas"
)

const evil = `<script>alert("x")</script>`

// server serves the serve stage's site over the scenario's store, the
// scenario's DAO and one named evil (no manifests).
func server(t *testing.T, sc *servetest.Scenario, statement serve.StatementFunc) *httptest.Server {
	t.Helper()
	site, err := serve.New(sc.Store, serve.Config{DAOs: []string{servetest.DAO, evil}, Report: sc.Report, Statement: statement})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(site, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	return do(t, srv, http.MethodGet, path)
}

func do(t *testing.T, srv *httptest.Server, method, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader("x=1"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestPagesAndTheirNumbers(t *testing.T) {
	sc := servetest.New()
	srv := server(t, sc, nil)
	resp, body := get(t, srv, "/dao/"+servetest.DAO)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("DAO page: %d %v", resp.StatusCode, resp.Header)
	}
	// pool-a's whale share and the treasury's balance after block 110.
	var paid int64
	for id := range sc.BlockOf {
		paid += sc.Intents[id].AmountE8s + sc.Intents[id].FeeE8s
	}
	for _, want := range []string{"29.92500000", `<span class="latest-block">110</span>`,
		`<td class="n latest-balance">` + money.FormatICP(money.E8s(155_00000000-paid)) + `</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("DAO page lacks %q", want)
		}
	}
	// A sponsor's payout: its block and amount.
	s3 := sc.Sponsors[2]
	resp, body = get(t, srv, "/sponsor?"+url.Values{"dao": {servetest.DAO}, "account": {s3}}.Encode())
	var block uint64
	for id, in := range sc.Intents {
		if in.Recipient == s3 {
			block = sc.BlockOf[id]
		}
	}
	row := regexp.MustCompile(`<td class="n transfer">([0-9.]+)</td><td class="n fee">[0-9.]+</td><td>paid</td><td class="n block">(\d+)</td>`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || row == nil || row[1] != money.FormatICP(11_11500000-servetest.FeeE8s) || row[2] != strconv.FormatUint(block, 10) {
		t.Fatalf("sponsor page %d, row %q (block %d):\n%s", resp.StatusCode, row, block, body)
	}
	resp, body = get(t, srv, "/style.css")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(body, "rect.whale") {
		t.Fatalf("stylesheet %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// Every link of the pages leads to a page: the stage's links and the
// routes here agree.
func TestEveryLinkLeadsToAPage(t *testing.T) {
	sc := servetest.New()
	srv := server(t, sc, func(ctx context.Context, dao, account, from, to, format string, w io.Writer) error {
		_, err := io.WriteString(w, "statement")
		return err
	})
	href := regexp.MustCompile(`href="(/[^"]*)"`)
	seen := map[string]bool{}
	queue := []string{"/"}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		resp, body := get(t, srv, p)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d\n%s", p, resp.StatusCode, body)
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			continue
		}
		for _, m := range href.FindAllStringSubmatch(body, -1) {
			queue = append(queue, strings.ReplaceAll(m[1], "&amp;", "&"))
		}
	}
	// The form's target, as a browser sends it, and the statements.
	resp, _ := get(t, srv, "/sponsor?"+url.Values{"dao": {servetest.DAO}, "account": {servetest.Hoster}}.Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sponsor form: %d", resp.StatusCode)
	}
	var statements int
	for p := range seen {
		if strings.HasPrefix(p, "/sponsor/statement?") {
			statements++
		}
	}
	if len(seen) < 5 || statements != 0 {
		// The index links to the DAOs, the DAO page to its period and the
		// stylesheet; no page links a sponsor (there is a form).
		t.Fatalf("pages reached: %v", seen)
	}
	resp, body := get(t, srv, "/sponsor/statement?"+url.Values{"dao": {servetest.DAO}, "account": {servetest.Hoster}, "from": {"2026-01-01"},
		"to": {"2026-12-31"}, "format": {"csv"}}.Encode())
	if resp.StatusCode != http.StatusOK || body != "statement" || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename=statement-test-dao-`) {
		t.Fatalf("statement: %d %v %q", resp.StatusCode, resp.Header, body)
	}
}

func TestEscapedAndReadOnly(t *testing.T) {
	sc := servetest.New()
	srv := server(t, sc, nil)
	escaped := "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"

	// A DAO named <script>: listed and shown escaped.
	for _, p := range []string{"/", "/dao/" + url.PathEscape(evil)} {
		resp, body := get(t, srv, p)
		if resp.StatusCode != http.StatusOK || strings.Contains(body, "<script") || !strings.Contains(body, escaped) {
			t.Errorf("%s: %d, not escaped:\n%s", p, resp.StatusCode, body)
		}
	}
	// A bad account: 400, the value named, escaped.
	for _, account := range []string{evil, "", "0123"} {
		resp, body := get(t, srv, "/sponsor?"+url.Values{"dao": {servetest.DAO}, "account": {account}}.Encode())
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(body, "<script") ||
			!strings.Contains(body, template.HTMLEscapeString(fmt.Sprintf("account %q", account))) {
			t.Errorf("account %q: %d\n%s", account, resp.StatusCode, body)
		}
	}
	// Not found.
	for _, p := range []string{"/dao/nobody", "/dao/" + servetest.DAO + "/period/2030-01-01", "/nothing", "/sponsor/statement?dao=" + servetest.DAO} {
		if resp, body := get(t, srv, p); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "404 Not Found") {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	// Read-only: every other method is refused, nothing is read.
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		for _, p := range []string{"/", "/sponsor", "/dao/" + servetest.DAO} {
			resp, body := do(t, srv, m, p)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" || !strings.Contains(body, "read-only") {
				t.Errorf("%s %s: %d %q", m, p, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	}
	if resp, body := do(t, srv, http.MethodHead, "/dao/"+servetest.DAO); resp.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, body)
	}
	if n := sc.Store.Saved(); n != 0 {
		t.Fatalf("%d reconciliations saved", n)
	}
}

// failing is a store whose reads fail: the page is a 500 that does not
// show the cause.
type failing struct{ *servetest.Store }

func (failing) Manifests(context.Context, string) ([]schemas.PayoutManifest, error) {
	return nil, errors.New("clickhouse: secret-host:9000 refused")
}

func TestStoreErrorIsA500WithoutTheCause(t *testing.T) {
	sc := servetest.New()
	site, err := serve.New(failing{sc.Store}, serve.Config{DAOs: []string{servetest.DAO}, Report: sc.Report})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(site, slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()
	resp, body := get(t, srv, "/dao/"+servetest.DAO)
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "secret-host") {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
}

func TestServeShutsDownOnCancel(t *testing.T) {
	sc := servetest.New()
	site, err := serve.New(sc.Store, serve.Config{DAOs: []string{servetest.DAO}, Report: sc.Report})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, Config{Listen: "127.0.0.1:0", Site: site}, func(a net.Addr) { addrs <- a }) }()
	addr := <-addrs
	resp, err := http.Get("http://" + addr.String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get("http://" + addr.String() + "/"); err == nil {
		t.Fatal("still serving after shutdown")
	}
	if err := Serve(context.Background(), Config{Listen: "not-an-address", Site: site}, nil); err == nil {
		t.Fatal("a bad listen address was accepted")
	}
}
