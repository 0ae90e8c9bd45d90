package ic_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"
	"github.com/fxamacker/cbor/v2"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
)

// These tests run the real agent-go against the simulator over HTTP.

func startSim(t *testing.T, mode icsim.CallMode) (*icsim.Server, *httptest.Server) {
	t.Helper()
	s, err := icsim.New(icsim.Options{CallMode: mode})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs
}

func newClient(t *testing.T, rawURL string, id identity.Identity) *ic.Client {
	t.Helper()
	c, err := ic.New(ic.Config{URL: rawURL, Identity: id, FetchRootKey: true, PollDelay: 20 * time.Millisecond, PollTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newIdentity(t *testing.T) identity.Identity {
	t.Helper()
	id, err := identity.NewRandomEd25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// funded returns a client whose default account holds amount e8s.
func funded(t *testing.T, s *icsim.Server, hs *httptest.Server, amount uint64) *ic.Client {
	t.Helper()
	id := newIdentity(t)
	if _, err := s.Mint(ic.Account{Owner: id.Sender()}.Encode(), amount); err != nil {
		t.Fatal(err)
	}
	return newClient(t, hs.URL, id)
}

func dest(t *testing.T) ic.Account {
	t.Helper()
	a, err := ic.AccountFromText("rrkah-fqaaa-aaaaa-aaaaq-cai-j2dm4ya.1")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestTransferAndBalance(t *testing.T) {
	for _, mode := range []icsim.CallMode{icsim.CallModeSync, icsim.CallModeAsync} {
		t.Run(string(mode), func(t *testing.T) {
			ctx := context.Background()
			s, hs := startSim(t, mode)
			c := funded(t, s, hs, 100_000_000)
			fee, err := c.Fee(ctx)
			if err != nil || fee != 10_000 {
				t.Fatalf("fee = %d, %v", fee, err)
			}
			to := dest(t)
			blk, err := c.Transfer(ctx, ic.TransferRequest{To: to, AmountE8s: 25_000_000, Memo: []byte("intent-1"), CreatedAtNanos: uint64(time.Now().UnixNano())})
			if err != nil {
				t.Fatal(err)
			}
			if blk != 1 { // block 0 is the funding mint
				t.Fatalf("block %d, want 1", blk)
			}
			if got, err := c.BalanceOf(ctx, to); err != nil || got != 25_000_000 {
				t.Fatalf("destination balance %d, %v", got, err)
			}
			if got, err := c.BalanceOf(ctx, ic.Account{Owner: c.Sender()}); err != nil || got != 100_000_000-25_000_000-fee {
				t.Fatalf("source balance %d, %v", got, err)
			}
		})
	}
}

func TestTransferErrors(t *testing.T) {
	ctx := context.Background()
	s, hs := startSim(t, icsim.CallModeSync)
	c := funded(t, s, hs, 1_000_000)
	to := dest(t)
	now := uint64(time.Now().UnixNano())
	badFee := uint64(1)
	goodFee := uint64(10_000)

	first := ic.TransferRequest{To: to, AmountE8s: 1000, Memo: []byte{1, 2, 3}, CreatedAtNanos: now}
	blk, err := c.Transfer(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		req   ic.TransferRequest
		check func(*ic.TransferError) bool
	}{
		{"duplicate", first, func(e *ic.TransferError) bool { return e.Kind == ic.Duplicate && e.DuplicateOf == blk }},
		// The ledger records its own fee: an explicit correct fee is the same transaction.
		{"duplicate with explicit fee", ic.TransferRequest{To: to, AmountE8s: 1000, Memo: []byte{1, 2, 3}, CreatedAtNanos: now, FeeE8s: &goodFee},
			func(e *ic.TransferError) bool { return e.Kind == ic.Duplicate && e.DuplicateOf == blk }},
		{"too old", ic.TransferRequest{To: to, AmountE8s: 1000, CreatedAtNanos: now - uint64(25*time.Hour)},
			func(e *ic.TransferError) bool { return e.Kind == ic.TooOld }},
		{"created in future", ic.TransferRequest{To: to, AmountE8s: 1000, CreatedAtNanos: now + uint64(2*time.Minute)},
			func(e *ic.TransferError) bool { return e.Kind == ic.CreatedInFuture && e.LedgerTime >= now }},
		{"bad fee", ic.TransferRequest{To: to, AmountE8s: 1000, FeeE8s: &badFee, CreatedAtNanos: now},
			func(e *ic.TransferError) bool { return e.Kind == ic.BadFee && e.ExpectedFee == 10_000 }},
		{"insufficient funds", ic.TransferRequest{To: to, AmountE8s: 5_000_000, CreatedAtNanos: now},
			func(e *ic.TransferError) bool {
				return e.Kind == ic.InsufficientFunds && e.Balance == 1_000_000-1000-10_000
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Transfer(ctx, tc.req)
			var te *ic.TransferError
			if !errors.As(err, &te) || !tc.check(te) {
				t.Fatalf("got %v (%#v)", err, te)
			}
		})
	}
	if b, ok := ic.IsDuplicate(&ic.TransferError{Kind: ic.Duplicate, DuplicateOf: 7}); !ok || b != 7 {
		t.Fatal("IsDuplicate")
	}
	// An empty memo differs from an absent one: not a duplicate.
	if _, err := c.Transfer(ctx, ic.TransferRequest{To: to, AmountE8s: 1000, Memo: []byte{}, CreatedAtNanos: now}); err != nil {
		t.Fatalf("empty memo: %v", err)
	}
	if _, err := c.Transfer(ctx, ic.TransferRequest{To: to, AmountE8s: 1000, CreatedAtNanos: now}); err != nil {
		t.Fatalf("absent memo: %v", err)
	}
	// A 33-byte memo is refused before anything is sent.
	if _, err := c.Transfer(ctx, ic.TransferRequest{To: to, AmountE8s: 1000, Memo: bytes.Repeat([]byte{7}, 33), CreatedAtNanos: now}); err == nil || !strings.Contains(err.Error(), "memo") {
		t.Fatalf("33-byte memo: %v", err)
	}
	// TemporarilyUnavailable is transient.
	s.SetFaults(icsim.Faults{TemporarilyUnavailableNext: 1})
	_, err = c.Transfer(ctx, ic.TransferRequest{To: to, AmountE8s: 1, CreatedAtNanos: now + 1})
	var te *ic.TransferError
	if !errors.As(err, &te) || te.Kind != ic.TemporarilyUnavailable || !ic.IsTransient(err) {
		t.Fatalf("want transient TemporarilyUnavailable, got %v", err)
	}
}

// mitm serves /api/v2/status from trusted and everything else from forger:
// the client trusts one root key and receives answers certified by another.
func mitm(t *testing.T, trusted, forger *httptest.Server) *httptest.Server {
	t.Helper()
	tu, _ := url.Parse(trusted.URL)
	fu, _ := url.Parse(forger.URL)
	tp, fp := httputil.NewSingleHostReverseProxy(tu), httputil.NewSingleHostReverseProxy(fu)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v2/status" {
			tp.ServeHTTP(w, r)
			return
		}
		fp.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs
}

func TestForgedReplicaRejected(t *testing.T) {
	ctx := context.Background()
	_, trusted := startSim(t, icsim.CallModeSync)
	for _, mode := range []icsim.CallMode{icsim.CallModeSync, icsim.CallModeAsync} {
		t.Run(string(mode), func(t *testing.T) {
			forgerSim, forger := startSim(t, mode)
			id := newIdentity(t)
			if _, err := forgerSim.Mint(ic.Account{Owner: id.Sender()}.Encode(), 1_000_000); err != nil {
				t.Fatal(err)
			}
			c := newClient(t, mitm(t, trusted, forger).URL, id)
			_, err := c.Transfer(ctx, ic.TransferRequest{To: dest(t), AmountE8s: 10, CreatedAtNanos: uint64(time.Now().UnixNano())})
			if err == nil {
				t.Fatal("a reply certified by an untrusted key was accepted")
			}
			t.Logf("transfer refused: %v", err)
			if !ic.IsOutcomeUnknown(err) || ic.IsTransient(err) {
				t.Fatalf("want fatal outcome-unknown error, got %v", err)
			}
			if mode == icsim.CallModeSync && !errors.Is(err, ic.ErrUnverified) {
				t.Fatalf("want ErrUnverified, got %v", err)
			}
			// Query verification is on: the node key comes from a subnet
			// certificate that does not verify.
			_, err = c.BalanceOf(ctx, ic.Account{Owner: id.Sender()})
			if err == nil {
				t.Fatal("query answered by an untrusted replica was accepted")
			}
			t.Logf("query refused: %v", err)
		})
	}
}

// TestTamperedCertificateRejected flips a byte of the certificate signature
// on the synchronous call path, which agent-go itself does not verify. A
// good certificate verified (and cached) first must not help it pass.
func TestTamperedCertificateRejected(t *testing.T) {
	ctx := context.Background()
	s, sim := startSim(t, icsim.CallModeSync)
	su, _ := url.Parse(sim.URL)
	proxy := httputil.NewSingleHostReverseProxy(su)
	var tamper atomic.Bool
	proxy.ModifyResponse = func(resp *http.Response) error {
		if !tamper.Load() || !strings.HasSuffix(resp.Request.URL.Path, "/call") || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		var m map[string]cbor.RawMessage
		if err := cbor.Unmarshal(body, &m); err != nil {
			return err
		}
		var certBytes []byte
		if err := cbor.Unmarshal(m["certificate"], &certBytes); err != nil {
			return err
		}
		var cert map[string]cbor.RawMessage
		if err := cbor.Unmarshal(certBytes, &cert); err != nil {
			return err
		}
		var sig []byte
		if err := cbor.Unmarshal(cert["signature"], &sig); err != nil {
			return err
		}
		sig[len(sig)-1] ^= 0x01
		cert["signature"], _ = cbor.Marshal(sig)
		certBytes, _ = cbor.Marshal(cert)
		m["certificate"], _ = cbor.Marshal(certBytes)
		body, _ = cbor.Marshal(m)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Del("Content-Length")
		return nil
	}
	hs := httptest.NewServer(proxy)
	t.Cleanup(hs.Close)
	id := newIdentity(t)
	if _, err := s.Mint(ic.Account{Owner: id.Sender()}.Encode(), 1_000_000); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, hs.URL, id)
	if _, err := c.Transfer(ctx, ic.TransferRequest{To: dest(t), AmountE8s: 10, CreatedAtNanos: uint64(time.Now().UnixNano())}); err != nil {
		t.Fatal(err)
	}
	tamper.Store(true)
	_, err := c.Transfer(ctx, ic.TransferRequest{To: dest(t), AmountE8s: 11, CreatedAtNanos: uint64(time.Now().UnixNano())})
	if !errors.Is(err, ic.ErrUnverified) {
		t.Fatalf("want ErrUnverified, got %v", err)
	}
}

// TestConcurrentTransfersShareRounds sends 64 transfers through one client
// from 16 goroutines. The simulator certifies them in shared rounds (one
// signature, trees pruned per reply) and the client caches the round's
// signature check; every transfer must still get its own block from its own
// synchronous certificate, never by falling back to read_state.
func TestConcurrentTransfersShareRounds(t *testing.T) {
	ctx := context.Background()
	s, err := icsim.New(icsim.Options{CallMode: icsim.CallModeSync})
	if err != nil {
		t.Fatal(err)
	}
	var readStates atomic.Int64
	h := s.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/read_state") {
			readStates.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	c := funded(t, s, hs, 100_000_000)
	readStates.Store(0) // funded's setup may read state; count transfers only
	const workers, each = 16, 4
	blocks := make([]uint64, workers*each)
	errs := make([]error, workers*each)
	var wg sync.WaitGroup
	now := uint64(time.Now().UnixNano())
	for w := range workers {
		wg.Go(func() {
			for k := range each {
				i := w*each + k
				blocks[i], errs[i] = c.Transfer(ctx, ic.TransferRequest{To: dest(t), AmountE8s: uint64(i + 1), CreatedAtNanos: now + uint64(i)})
			}
		})
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("transfer %d: %v", i, err)
		}
		if seen[blocks[i]] {
			t.Fatalf("transfer %d: block %d given twice", i, blocks[i])
		}
		seen[blocks[i]] = true
	}
	if n := readStates.Load(); n != 0 {
		t.Fatalf("%d read_state requests: some synchronous certificates did not hold their own reply", n)
	}
}

func TestFetchRootKeyRefusedForMainnet(t *testing.T) {
	_, err := ic.New(ic.Config{URL: "https://icp-api.io", FetchRootKey: true})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("got %v", err)
	}
}
