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
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
)

func TestTransferToAccountID(t *testing.T) {
	for _, mode := range []icsim.CallMode{icsim.CallModeSync, icsim.CallModeAsync} {
		t.Run(string(mode), func(t *testing.T) {
			ctx := context.Background()
			s, hs := startSim(t, mode)
			c := funded(t, s, hs, 1_000_000)
			to := ic.LegacyAccountID(dest(t))
			now := uint64(time.Now().UnixNano())
			req := ic.AccountIDTransferRequest{To: to, AmountE8s: 5_000, FeeE8s: 10_000, Memo: 7, CreatedAtNanos: now}
			blk, err := c.TransferToAccountID(ctx, req)
			if err != nil || blk != 1 {
				t.Fatalf("transfer: block %d, %v", blk, err)
			}
			if got, err := c.AccountBalance(ctx, to); err != nil || got != 5_000 {
				t.Fatalf("account_balance %d %v", got, err)
			}
			minting := ic.LegacyAccountID(ic.Account{Owner: ic.GovernanceCanisterID})
			cases := []struct {
				name  string
				req   ic.AccountIDTransferRequest
				check func(*ic.TransferError) bool
			}{
				{"duplicate", req, func(e *ic.TransferError) bool { return e.Kind == ic.Duplicate && e.DuplicateOf == blk }},
				{"bad fee", ic.AccountIDTransferRequest{To: to, AmountE8s: 1, FeeE8s: 1}, func(e *ic.TransferError) bool { return e.Kind == ic.BadFee && e.ExpectedFee == 10_000 }},
				{"insufficient", ic.AccountIDTransferRequest{To: to, AmountE8s: 10_000_000, FeeE8s: 10_000}, func(e *ic.TransferError) bool {
					return e.Kind == ic.InsufficientFunds && e.Balance == 1_000_000-5_000-10_000
				}},
				{"too old", ic.AccountIDTransferRequest{To: to, AmountE8s: 1, FeeE8s: 10_000, CreatedAtNanos: now - uint64(25*time.Hour)}, func(e *ic.TransferError) bool {
					return e.Kind == ic.TooOld && e.AllowedWindowNanos == uint64(24*time.Hour)
				}},
				{"in the future", ic.AccountIDTransferRequest{To: to, AmountE8s: 1, FeeE8s: 10_000, CreatedAtNanos: now + uint64(5*time.Minute)}, func(e *ic.TransferError) bool {
					return e.Kind == ic.CreatedInFuture && e.LedgerTime == 0
				}},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					_, err := c.TransferToAccountID(ctx, tc.req)
					var te *ic.TransferError
					if !errors.As(err, &te) || !tc.check(te) {
						t.Fatalf("got %v (%#v)", err, te)
					}
				})
			}
			if b, ok := ic.IsDuplicate(func() error { _, err := c.TransferToAccountID(ctx, req); return err }()); !ok || b != blk {
				t.Fatal("IsDuplicate on the legacy Duplicate")
			}
			// Traps: certified rejects, not transient, outcome known.
			_, err = c.TransferToAccountID(ctx, ic.AccountIDTransferRequest{To: minting, AmountE8s: 9_999})
			var e *ic.Error
			if !errors.As(err, &e) || e.RejectCode != 5 || !strings.Contains(err.Error(), "Burns lower than") || ic.IsTransient(err) || ic.IsOutcomeUnknown(err) {
				t.Fatalf("burn below the fee: %v", err)
			}
			// Throttling traps too, but a retry later can succeed.
			s.SetFaults(icsim.Faults{TemporarilyUnavailableNext: 1})
			_, err = c.TransferToAccountID(ctx, ic.AccountIDTransferRequest{To: to, AmountE8s: 1, FeeE8s: 10_000})
			if !ic.IsTransient(err) || ic.IsOutcomeUnknown(err) {
				t.Fatalf("throttled: %v", err)
			}
			// A bad checksum is refused before anything is sent.
			bad := to
			bad[0] ^= 1
			if _, err := c.TransferToAccountID(ctx, ic.AccountIDTransferRequest{To: bad, AmountE8s: 1, FeeE8s: 10_000}); err == nil || !strings.Contains(err.Error(), "CRC") {
				t.Fatalf("bad checksum: %v", err)
			}
		})
	}
}

// tamperingProxy forwards to sim and, while on is set, flips a bit of the
// signature of every synchronous call certificate.
func tamperingProxy(t *testing.T, sim *httptest.Server) (*httptest.Server, *atomic.Bool) {
	t.Helper()
	su, _ := url.Parse(sim.URL)
	proxy := httputil.NewSingleHostReverseProxy(su)
	var on atomic.Bool
	proxy.ModifyResponse = func(resp *http.Response) error {
		if !on.Load() || !strings.HasSuffix(resp.Request.URL.Path, "/call") || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		var m map[string]cbor.RawMessage
		var certBytes, sig []byte
		var cert map[string]cbor.RawMessage
		if err := errors.Join(cbor.Unmarshal(body, &m), cbor.Unmarshal(m["certificate"], &certBytes),
			cbor.Unmarshal(certBytes, &cert), cbor.Unmarshal(cert["signature"], &sig)); err != nil {
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
	return hs, &on
}

// TestTransferToAccountIDVerifiesReply: the legacy transfer's synchronous
// reply goes through the same certificate check as icrc1_transfer's.
func TestTransferToAccountIDVerifiesReply(t *testing.T) {
	ctx := context.Background()
	s, sim := startSim(t, icsim.CallModeSync)
	hs, tamper := tamperingProxy(t, sim)
	id := newIdentity(t)
	if _, err := s.Mint(ic.Account{Owner: id.Sender()}.Encode(), 1_000_000); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, hs.URL, id)
	to := ic.LegacyAccountID(dest(t))
	if _, err := c.TransferToAccountID(ctx, ic.AccountIDTransferRequest{To: to, AmountE8s: 10, FeeE8s: 10_000, CreatedAtNanos: uint64(time.Now().UnixNano())}); err != nil {
		t.Fatal(err)
	}
	tamper.Store(true)
	_, err := c.TransferToAccountID(ctx, ic.AccountIDTransferRequest{To: to, AmountE8s: 11, FeeE8s: 10_000, CreatedAtNanos: uint64(time.Now().UnixNano())})
	if !errors.Is(err, ic.ErrUnverified) || !ic.IsOutcomeUnknown(err) {
		t.Fatalf("want an unverified, outcome-unknown error, got %v", err)
	}
}
