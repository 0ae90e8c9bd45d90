package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/stage/serve"
	"github.com/nodeshare/nodeshare/pipeline/stage/serve/servetest"
	"github.com/nodeshare/nodeshare/schemas"
)

// countingBox records the ballots it is asked to cast.
type countingBox struct{ cast int }

func (b *countingBox) Cast(_ context.Context, dao, pool string, bl schemas.SignedBallot) (schemas.BallotReceipt, error) {
	b.cast++
	return schemas.BallotReceipt{Key: dao + "/" + pool + "/ballot/" + bl.VoteID, Status: "published"}, nil
}
func (b *countingBox) Votes(context.Context, string, string) (any, error) { return []string{}, nil }
func (b *countingBox) Access(context.Context, string, string) (any, error) {
	return map[string][]string{"entries": {}}, nil
}
func (b *countingBox) Ballots(context.Context, string, string, string) (any, error) {
	return []string{}, nil
}

// The ballot endpoint takes a POST only there, limits each client address
// to its burst (429 after), and refuses oversized bodies, other content
// types, unknown fields and two ballots in one request; without a box the
// server stays read-only.
func TestBallotEndpointLimits(t *testing.T) {
	sc := servetest.New()
	site, err := serve.New(sc.Store, serve.Config{DAOs: []string{servetest.DAO}, Report: sc.Report})
	if err != nil {
		t.Fatal(err)
	}
	box := &countingBox{}
	srv := httptest.NewServer(handlerFor(Config{Site: site, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ballots: box, BallotRate: 0.001, BallotBurst: 3}))
	t.Cleanup(srv.Close)
	post := func(ct, body string) int {
		t.Helper()
		resp, err := http.Post(srv.URL+"/api/ballots", ct, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ok := `{"dao":"d","pool_id":"p","ballot":{"vote_id":"v","voter":"x","choice":"yes","nonce":1,"public_key_der":"","signature":""}}`
	if c := post("application/json", ok); c != http.StatusAccepted || box.cast != 1 {
		t.Fatalf("a ballot: %d, %d cast", c, box.cast)
	}
	if c := post("application/json", `{"dao":"d","extra":1}`); c != http.StatusBadRequest {
		t.Fatalf("an unknown field: %d", c)
	}
	if c := post("application/json", ok+ok); c != http.StatusBadRequest {
		t.Fatalf("two ballots: %d", c)
	}
	// The burst of 3 is spent: the next is refused, whatever it is.
	if c := post("application/json", ok); c != http.StatusTooManyRequests || box.cast != 1 {
		t.Fatalf("over the burst: %d, %d cast", c, box.cast)
	}

	srv2 := httptest.NewServer(handlerFor(Config{Site: site, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ballots: box}))
	t.Cleanup(srv2.Close)
	for ct, want := range map[string]int{"text/plain": http.StatusUnsupportedMediaType} {
		resp, _ := http.Post(srv2.URL+"/api/ballots", ct, strings.NewReader(ok))
		if resp.StatusCode != want {
			t.Fatalf("%s: %d, want %d", ct, resp.StatusCode, want)
		}
	}
	resp, _ := http.Post(srv2.URL+"/api/ballots", "application/json", strings.NewReader(`{"dao":"`+strings.Repeat("a", maxBallotBytes)+`"}`))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized: %d", resp.StatusCode)
	}
	// A POST anywhere else, or with the endpoint off, is 405.
	resp, _ = http.Post(srv2.URL+"/dao/x", "application/json", strings.NewReader(ok))
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /dao/x: %d", resp.StatusCode)
	}
	// The access register is read-only: GET answers the box's register,
	// a POST is 405.
	resp, err = http.Get(srv2.URL + "/api/access?dao=d&pool=p")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"entries":[]}` {
		t.Fatalf("GET /api/access: %d %s", resp.StatusCode, body)
	}
	resp, _ = http.Post(srv2.URL+"/api/access?dao=d&pool=p", "application/json", strings.NewReader(ok))
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /api/access: %d", resp.StatusCode)
	}
	off := httptest.NewServer(Handler(site, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(off.Close)
	resp, _ = http.Post(off.URL+"/api/ballots", "application/json", strings.NewReader(ok))
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /api/ballots with the endpoint off: %d", resp.StatusCode)
	}
}
