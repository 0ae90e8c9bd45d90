package ic_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
)

// TestSponsorsDeposit: sponsors are identities of their own (Ed25519,
// secp256k1, P-256 keys, as agent-go has them). The simulator mints ICP to
// them over the admin API; each sends its own deposit to a pool's deposit
// account, with icrc1_transfer or the legacy transfer; the pool then finds
// every deposit in blocks proven against the certified tip.
func TestSponsorsDeposit(t *testing.T) {
	for _, mode := range []icsim.CallMode{icsim.CallModeSync, icsim.CallModeAsync} {
		t.Run(string(mode), func(t *testing.T) {
			ctx := context.Background()
			_, hs := startSim(t, mode)
			poolSub := sha256.Sum256([]byte("nodeshare pool pool-a"))
			pool := ic.Account{Owner: ic.LedgerCanisterID, SubAccount: &poolSub}
			poolID := ic.LegacyAccountID(pool)

			ed, err := identity.NewRandomEd25519Identity()
			if err != nil {
				t.Fatal(err)
			}
			k1, err := identity.NewRandomSecp256k1Identity()
			if err != nil {
				t.Fatal(err)
			}
			p256, err := identity.NewRandomPrime256v1Identity()
			if err != nil {
				t.Fatal(err)
			}
			type deposit struct {
				id     identity.Identity
				legacy bool
				amount uint64
			}
			deposits := []deposit{{ed, false, 150_000_000}, {k1, true, 250_000_000}, {p256, false, 75_000_000}}
			now := uint64(time.Now().UnixNano())
			blocks := map[uint64]deposit{}
			for i, d := range deposits {
				acct := ic.Account{Owner: d.id.Sender()}
				postAdmin(t, hs.URL, "/admin/mint", icsim.MintRequest{Account: ic.AccountText(acct), AmountE8s: 1_000_000_000}, nil)
				c := newClient(t, hs.URL, d.id)
				created := now + uint64(i)
				send := func() (uint64, error) {
					if d.legacy {
						return c.TransferToAccountID(ctx, ic.AccountIDTransferRequest{To: poolID, AmountE8s: d.amount, FeeE8s: 10_000, Memo: uint64(i + 1), CreatedAtNanos: created})
					}
					return c.Transfer(ctx, ic.TransferRequest{To: pool, AmountE8s: d.amount, Memo: []byte{byte(i + 1)}, CreatedAtNanos: created})
				}
				blk, err := send()
				if err != nil {
					t.Fatalf("sponsor %d (%T): %v", i, d.id, err)
				}
				blocks[blk] = d
				// A sponsor's wallet that resends (lost reply) pays once.
				if dup, ok := ic.IsDuplicate(func() error { _, err := send(); return err }()); !ok || dup != blk {
					t.Fatalf("sponsor %d: resend is not a duplicate of %d", i, blk)
				}
				if bal, err := c.BalanceOf(ctx, acct); err != nil || bal != 1_000_000_000-d.amount-10_000 {
					t.Fatalf("sponsor %d balance %d %v", i, bal, err)
				}
			}
			poolClient := newClient(t, hs.URL, nil)
			if bal, err := poolClient.BalanceOf(ctx, pool); err != nil || bal != 475_000_000 {
				t.Fatalf("pool balance %d %v", bal, err)
			}
			vb, err := poolClient.ReadBlocks(ctx, 0, 1_000)
			if err != nil {
				t.Fatal(err)
			}
			found := 0
			for _, b := range vb.Blocks {
				if b.Op != ic.OpTransfer || b.To != poolID {
					continue
				}
				d, ok := blocks[b.Index]
				if !ok {
					t.Fatalf("unexpected deposit %+v", b)
				}
				i := 0
				for j := range deposits {
					if deposits[j].id == d.id {
						i = j
					}
				}
				if b.From != ic.LegacyAccountID(ic.Account{Owner: d.id.Sender()}) || b.AmountE8s != d.amount || b.FeeE8s != 10_000 || b.CreatedAtNanos != now+uint64(i) {
					t.Fatalf("deposit %d: %+v", i, b)
				}
				if d.legacy && (b.LegacyMemo != uint64(i+1) || b.Memo != nil) || !d.legacy && (!bytes.Equal(b.Memo, []byte{byte(i + 1)}) || b.LegacyMemo != 0) {
					t.Fatalf("deposit %d memo: %+v", i, b)
				}
				found++
			}
			if found != len(deposits) {
				t.Fatalf("found %d deposits in the verified blocks, want %d", found, len(deposits))
			}
		})
	}
}
