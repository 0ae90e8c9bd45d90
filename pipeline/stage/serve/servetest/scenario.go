package servetest

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"

	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/reconcile"
	rep "github.com/nodeshare/nodeshare/pipeline/report"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout/payouttest"
	reportstage "github.com/nodeshare/nodeshare/pipeline/stage/report"
	"github.com/nodeshare/nodeshare/schemas"
)

// Store is the report stage's store in memory: the payout tables of
// payouttest.MemStore, and the ledger blocks, rates and prices the
// connector would have published. It counts the reconciliations saved:
// the pages must save none.
type Store struct {
	*payouttest.MemStore
	Blocks []schemas.LedgerBlock
	// Cursor is how far the connector has read the ledger.
	Cursor uint64
	saved  atomic.Int32
}

var _ reportstage.Store = (*Store)(nil)

// Saved is how many reconciliations were saved.
func (s *Store) Saved() int { return int(s.saved.Load()) }

func (s *Store) Manifests(ctx context.Context, dao string) ([]schemas.PayoutManifest, error) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	var out []schemas.PayoutManifest
	for _, h := range s.MemStore.Manifests {
		if h.DAO == dao {
			out = append(out, h)
		}
	}
	return out, nil
}

func (s *Store) AccountBlocks(ctx context.Context, accountID string) ([]schemas.LedgerBlock, error) {
	var out []schemas.LedgerBlock
	for _, b := range s.Blocks {
		if b.From == accountID || b.To == accountID {
			out = append(out, b)
		}
	}
	return out, nil
}

func (s *Store) LedgerCursor(ctx context.Context) (uint64, error) { return s.Cursor, nil }

// Ledger is the ledger's view (the report stage's Ledger port): every
// account has BalanceE8s, the chain ChainLen blocks.
type Ledger struct {
	BalanceE8s, ChainLen uint64
}

func (l Ledger) Balance(ctx context.Context, icrc1Text string) (uint64, error) {
	return l.BalanceE8s, nil
}

func (l Ledger) ChainLength(ctx context.Context) (uint64, error) { return l.ChainLen, nil }

func (s *Store) SpotRates(ctx context.Context) ([]schemas.Rate, error) {
	return []schemas.Rate{{Kind: "spot", TimestampSeconds: uint64(T0.Add(-time.Hour).Unix()), XDRPermyriadPerICP: 40_000}}, nil
}

func (s *Store) FiatPrices(ctx context.Context, currency string) ([]schemas.FiatPrice, error) {
	return []schemas.FiatPrice{{Source: "test", Currency: currency, TimestampSeconds: uint64(T0.Add(-10 * time.Minute).Unix()), PriceMicros: 5_000_000}}, nil
}

func (s *Store) SaveReconciliation(ctx context.Context, r reconcile.Result, manifestSHA256 string, checkedAt time.Time) error {
	s.saved.Add(1)
	return nil
}

// The scenario: DAO "test-dao", one reward period (2026-11-01) of two
// pools paid from the treasury's default account, which held 5 ICP
// (block 90) before the reward's 150 ICP were minted (block 100); the
// transfers paid are blocks 101 to 110.
//
//	pool-a, 100 ICP: hoster fee 10, DAO fee 4.5, distributable 85.5; the
//	  whale gets the 35% premium (29.925 ICP), five sponsors with stakes of
//	  1 to 5 ICP share the other 55.575 ICP pro rata (3.705 ICP per ICP).
//	pool-b, 50 ICP: hoster fee 5, DAO fee 2.25; three equal sponsors share
//	  42.75 ICP (14.25 each), no whale; the first one's transfer is still
//	  pending (no result, no block).
//
// The hoster (ICRC-1 text) is paid by both pools; every transfer pays the
// ledger fee.
const (
	DAO    = "test-dao"
	Period = "2026-11-01"
	FeeE8s = 10_000
	Hoster = "rrkah-fqaaa-aaaaa-aaaaq-cai"
)

// T0 is the reward's time (the mint's block).
var T0 = time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)

const treasuryOwner = "uzntf-pot5s-2lodi-p7c5t-anvcf-cegba-fc32z-nhzeh-tn6gd-dtxxj-kae"

// Scenario is the scenario's store and who is who in it.
type Scenario struct {
	Store    *Store
	Treasury rep.Account
	Whale    string
	Sponsors []string // pool-a's, stakes 1 to 5 ICP
	PoolB    []string // pool-b's; PoolB[0]'s transfer is pending
	Intents  map[string]schemas.PayoutIntent
	BlockOf  map[string]uint64 // intent id -> its block
}

// Account is the scenario's account number sub (a subaccount of the
// treasury's principal; 0 is the treasury's default account).
func Account(sub byte) rep.Account {
	a, err := schemas.AccountOf(treasuryOwner, [32]byte{31: sub})
	if err != nil {
		panic(err) // a fixed, valid principal
	}
	return rep.Account{ICRC1: a.ICRC1, ID: a.ID}
}

// New builds the scenario: the manifest planned, the transfers paid and
// their blocks published.
func New() *Scenario {
	sc := &Scenario{Treasury: Account(0), Whale: Account(100).ID, Intents: map[string]schemas.PayoutIntent{}, BlockOf: map[string]uint64{}}
	for i := 1; i <= 5; i++ {
		sc.Sponsors = append(sc.Sponsors, Account(byte(i)).ID)
	}
	for i := 1; i <= 3; i++ {
		sc.PoolB = append(sc.PoolB, Account(byte(10+i)).ID)
	}
	ent := func(pool, role, recipient string, stake, share int64) schemas.Entitlement {
		return schemas.Entitlement{DAO: DAO, Period: Period, PoolID: pool, Recipient: recipient, Role: role, RulesVersion: "v1", StakeE8s: stake,
			ShareE8s: share, OwedE8s: share, TransferE8s: share - FeeE8s, FeeE8s: FeeE8s, ManifestSHA256: pool + "-allocation"}
	}
	ents := []schemas.Entitlement{ent("pool-a", "sponsor", sc.Whale, 30_00000000, 29_92500000), ent("pool-a", "hoster", Hoster, 0, 10_00000000),
		ent("pool-b", "hoster", Hoster, 0, 5_00000000)}
	for i, s := range sc.Sponsors {
		ents = append(ents, ent("pool-a", "sponsor", s, int64(i+1)*1_00000000, int64(i+1)*3_70500000))
	}
	for _, s := range sc.PoolB {
		ents = append(ents, ent("pool-b", "sponsor", s, 10_00000000, 14_25000000))
	}
	pools := []schemas.PoolPeriod{
		{DAO: DAO, Period: Period, PoolID: "pool-a", RulesVersion: "v1", RewardEventID: "np/1", GrossE8s: 100_00000000, HosterFeeE8s: 10_00000000,
			DAOFeeE8s: 4_50000000, DistributableE8s: 85_50000000, Whale: sc.Whale, ManifestSHA256: "pool-a-allocation"},
		{DAO: DAO, Period: Period, PoolID: "pool-b", RulesVersion: "v1", RewardEventID: "np/1", GrossE8s: 50_00000000, HosterFeeE8s: 5_00000000,
			DAOFeeE8s: 2_25000000, DistributableE8s: 42_75000000, ManifestSHA256: "pool-b-allocation"},
	}
	m, err := rules.PlanWithInputs(DAO, Period, ents, pools, uint64(T0.Add(time.Hour).UnixNano()))
	if err != nil {
		panic(fmt.Sprintf("servetest: the scenario does not plan: %v", err))
	}
	sc.Store = &Store{MemStore: payouttest.NewMemStore(ents, pools)}
	ctx := context.Background()
	must(sc.Store.SavePlan(ctx, m.Header(), m.Intents))
	sc.Store.Blocks = []schemas.LedgerBlock{
		{Index: 90, Op: "mint", To: sc.Treasury.ID, AmountE8s: 5_00000000, TimestampNanos: uint64(T0.Add(-30 * 24 * time.Hour).UnixNano())},
		{Index: 100, Op: "mint", To: sc.Treasury.ID, AmountE8s: 150_00000000, TimestampNanos: uint64(T0.UnixNano())},
	}
	next := uint64(101)
	for _, in := range m.Intents {
		sc.Intents[in.IntentID] = in
		if in.Recipient == sc.PoolB[0] {
			continue // pending
		}
		at := T0.Add(time.Hour + time.Duration(next-100)*time.Second)
		b := schemas.LedgerBlock{Index: next, Op: "transfer", From: sc.Treasury.ID, AmountE8s: uint64(in.AmountE8s), FeeE8s: uint64(in.FeeE8s),
			TimestampNanos: uint64(at.UnixNano()), Time: at.Format(time.RFC3339Nano), CreatedAtNanos: in.CreatedAtNanos}
		memo, _ := hex.DecodeString(in.MemoHex)
		if rules.IsAccountIdentifier(in.Recipient) {
			b.To, b.LegacyMemo = in.Recipient, rules.LegacyMemo(memo)
		} else {
			b.To, err = schemas.AccountIDFromText(in.Recipient)
			must(err)
			b.MemoHex = &in.MemoHex
		}
		sc.Store.Blocks = append(sc.Store.Blocks, b)
		sc.BlockOf[in.IntentID] = next
		must(sc.Store.SaveResult(ctx, schemas.PayoutResult{IntentID: in.IntentID, Status: schemas.PayoutPaid, BlockIndex: next,
			VerifiedBy: "certificate", AmountE8s: in.AmountE8s, Recipient: in.Recipient}))
		next++
	}
	return sc
}

func must(err error) {
	if err != nil {
		panic(fmt.Sprintf("servetest: %v", err))
	}
}

// Report is the report stage's configuration for dao, as cmd/nodeshare
// builds it (reportConfig there): the treasury's default account pays
// the rewards.
func (sc *Scenario) Report(dao string) reportstage.Config {
	return reportstage.Config{DAO: dao, Currency: "usd",
		Accounts:    func(pool, source string) (rep.Account, error) { return sc.Treasury, nil },
		RecipientID: func(s string) (string, error) { return schemas.AccountIDFromText(s) },
	}
}
