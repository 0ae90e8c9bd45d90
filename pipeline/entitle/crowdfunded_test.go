package entitle

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash/crc32"
	"math/rand"
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/schemas"
)

// acct is the account identifier whose 28-byte hash is b repeated, with its
// CRC32 prefix: a valid 64-hex account, as ledger blocks name sponsors.
func acct(b byte) string {
	var a [32]byte
	for i := 4; i < 32; i++ {
		a[i] = b
	}
	binary.BigEndian.PutUint32(a[:4], crc32.ChecksumIEEE(a[4:]))
	return hex.EncodeToString(a[:])
}

// The reward of these tests is minted at rewardT (1_790_000_000 s).
const rewardT = "2026-09-21T14:13:20Z"

func cfReward() schemas.NodeReward {
	return schemas.NodeReward{NodeProvider: "np", TimestampSeconds: 1_790_000_000, AmountE8s: 100_000_000_003, XDRPermyriadPerICP: 35_000}
}

// legacyPool is an adopted pool without lifecycle terms (weight 3), with
// two typed contributions; cfPool is a crowdfunded pool of the same node
// provider (weight 1).
func legacyPool(t *testing.T) []schemas.Envelope {
	p := schemas.Pool{DAO: "d", PoolID: "p1", NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n1", WeightXDRPermyriad: 3}},
		Hoster: schemas.HosterTerms{Account: "h", Bps: 1000}, RulesVersion: "v1", ProposalStatus: ProposalAdopted}
	return []schemas.Envelope{
		mustEnv(t, schemas.TypePool, "p1", p),
		mustEnv(t, schemas.TypeContribution, "c1", schemas.Contribution{DAO: "d", PoolID: "p1", ContributionID: "c1", Sponsor: "s1", AmountE8s: 1_00000000, At: "2026-01-01T00:00:00Z"}),
		mustEnv(t, schemas.TypeContribution, "c2", schemas.Contribution{DAO: "d", PoolID: "p1", ContributionID: "c2", Sponsor: "s2", AmountE8s: 2_00000000, At: "2026-01-01T00:00:00Z"}),
	}
}

func cfPool(t *testing.T) schemas.Envelope {
	p := schemas.Pool{DAO: "d", PoolID: "cf", NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n2", WeightXDRPermyriad: 1}},
		Hoster: schemas.HosterTerms{Account: "h", Bps: 1000}, DAOFeeBps: 200, WhalePremiumBps: 3500, RulesVersion: "v1",
		Terms: &schemas.PoolTerms{TermsVersion: 1, TargetE8s: 100_00000000, MaxSponsorBps: 4000}}
	return mustEnv(t, schemas.TypePool, "cf", p)
}

// Stakes of the crowdfunded pool: x and y tie for the largest stake; y's
// first deposit is the earlier instant although its text (an offset) sorts
// later, and x is the smaller account: the whale is y (ALLOCATION_RULES
// step 5: earliest first contribution, then smallest id).
var (
	stakeX = acct(0x01) // 5b116adf...
	stakeY = acct(0x02) // edc34bc4...
	stakeZ = acct(0x03) // 36a256f2...
	stakeW = acct(0x04) // 5b160fb3...
)

func cfState(settled, retired string) schemas.PoolState {
	return schemas.PoolState{DAO: "d", PoolID: "cf", TermsVersion: 1, AsOf: "2026-03-01T00:00:00Z", Facts: 9, State: "active", Output: "{}",
		SettledAt: settled, RetiredAt: retired,
		Stakes: []schemas.PoolStake{
			{Account: stakeX, Identity: stakeX, AcceptedE8s: 30_00000000, FirstAcceptedAt: "2026-01-01T23:45:00Z"},
			{Account: stakeY, Identity: stakeY, AcceptedE8s: 30_00000000, FirstAcceptedAt: "2026-01-02T00:30:00+01:00"},
			{Account: stakeZ, Identity: "kyc-1", AcceptedE8s: 25_00000000, FirstAcceptedAt: "2026-01-01T00:00:00Z"},
			{Account: stakeW, Identity: "kyc-1", AcceptedE8s: 15_00000000, FirstAcceptedAt: "2026-01-03T00:00:00Z"},
		}}
}

func stateEnv(t *testing.T, st schemas.PoolState) schemas.Envelope {
	return mustEnv(t, schemas.TypePoolState, schemas.PoolStateKey(st.DAO, st.PoolID), st)
}

// earners applies evs and returns the pools that got a pool period of r,
// or the reward's error.
func earners(t *testing.T, evs []schemas.Envelope, r schemas.NodeReward) ([]string, error) {
	t.Helper()
	st := NewState()
	for _, e := range evs {
		if err := st.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	out, err := st.Reward(r, Params{LedgerFeeE8s: 10_000})
	if err != nil {
		return nil, err
	}
	var pools []string
	for _, ev := range out {
		if ev.Envelope.Type == schemas.TypePoolPeriod {
			var pp schemas.PoolPeriod
			if err := ev.Envelope.DecodePayload(schemas.TypePoolPeriod, &pp); err != nil {
				t.Fatal(err)
			}
			pools = append(pools, pp.PoolID)
		}
	}
	if st.Allocated(r) {
		t.Fatal("allocated before any record of the reward was applied")
	}
	return pools, nil
}

// A crowdfunded pool earns a reward minted at T iff its latest lifecycle
// state has settled_at <= T < retired_at (retired_at empty: open),
// compared as instants: offsets normalised, fractions exact beyond the
// nanosecond. Alone, a pool that does not earn leaves the reward refused
// as today; beside an adopted legacy pool, the legacy pool takes it all.
func TestCrowdfundedPoolEarnsOnlyWhileActive(t *testing.T) {
	for _, c := range []struct {
		name, settled, retired string
		earns                  bool
	}{
		{"funded, not settled", "", "", false},
		{"settled after T", "2026-09-21T14:13:21Z", "", false},
		{"settled a 1e-10 s after T", "2026-09-21T14:13:20.0000000001Z", "", false},
		{"settled at T", rewardT, "", true},
		{"settled at T, written with an offset", "2026-09-21T15:13:20+01:00", "", true},
		{"settled before T, in lower case as RFC 3339 allows", "2026-03-01t00:00:00z", "", true},
		{"retired after T", "2026-03-01T00:00:00Z", "2026-09-21T14:13:21Z", true},
		{"retired a 1e-10 s after T", "2026-03-01T00:00:00Z", "2026-09-21T14:13:20.0000000001Z", true},
		{"retired at T, written with an offset", "2026-03-01T00:00:00Z", "2026-09-21T16:13:20+02:00", false},
		{"retired before T", "2026-03-01T00:00:00Z", "2026-06-01T00:00:00Z", false},
		{"settled and retired at one instant before T", "2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := cfState(c.settled, c.retired)
			if c.settled == "" {
				st.State = "adopted"
			}
			alone := []schemas.Envelope{cfPool(t), stateEnv(t, st)}
			pools, err := earners(t, alone, cfReward())
			if c.earns {
				if err != nil || len(pools) != 1 || pools[0] != "cf" {
					t.Fatalf("alone: pools %v, err %v; want cf to earn the reward", pools, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), "no pool of node provider np earns rewards") || !strings.Contains(err.Error(), "no crowdfunded pool active at "+rewardT) {
				t.Fatalf("alone: pools %v, err %v; want the reward refused, no pool earns", pools, err)
			}
			pools, err = earners(t, append(legacyPool(t), alone...), cfReward())
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"p1"}
			if c.earns {
				want = []string{"cf", "p1"}
			}
			if strings.Join(pools, ",") != strings.Join(want, ",") {
				t.Fatalf("beside a legacy pool: pool periods for %v, want %v", pools, want)
			}
		})
	}
	// A crowdfunded pool with no lifecycle state yet does not earn.
	if _, err := earners(t, []schemas.Envelope{cfPool(t)}, cfReward()); err == nil || !strings.Contains(err.Error(), "no pool of node provider np earns") {
		t.Fatalf("a crowdfunded pool without a lifecycle state: %v, want the reward refused", err)
	}
}

// An active crowdfunded pool is allocated by its stakes: one contribution
// per account (id = sponsor = the account), amount the accepted total, at
// the first accepted deposit in UTC; the whale is the largest stake, the
// tie broken by the earlier first deposit as an instant. Contributions
// typed onto dao.contributions.v1 for it change nothing, nor does the
// order of the state events.
func TestCrowdfundedPoolAllocatedByStakes(t *testing.T) {
	if stakeX >= stakeY {
		t.Fatalf("x %s must sort before y %s, or the tie-break by time is not what is tested", stakeX, stakeY)
	}
	r := cfReward()
	base := []schemas.Envelope{cfPool(t), stateEnv(t, cfState("2026-03-01T00:00:00Z", ""))}
	out := run(t, base, r)

	var pp schemas.PoolPeriod
	shares := map[string]schemas.Entitlement{}
	for _, ev := range out {
		switch ev.Envelope.Type {
		case schemas.TypePoolPeriod:
			if err := ev.Envelope.DecodePayload(schemas.TypePoolPeriod, &pp); err != nil {
				t.Fatal(err)
			}
		case schemas.TypeEntitlement:
			var e schemas.Entitlement
			if err := ev.Envelope.DecodePayload(schemas.TypeEntitlement, &e); err != nil {
				t.Fatal(err)
			}
			if e.Role == RoleSponsor {
				shares[e.Recipient] = e
			}
		}
	}
	if pp.PoolID != "cf" || pp.GrossE8s != r.AmountE8s {
		t.Fatalf("pool period %s with gross %d, want cf with the whole reward %d", pp.PoolID, pp.GrossE8s, r.AmountE8s)
	}
	if pp.Whale != stakeY {
		t.Fatalf("whale %s, want %s (tied with %s on 30 ICP, first deposit 23:30Z before 23:45Z)", pp.Whale, stakeY, stakeX)
	}
	wantStake := map[string]int64{stakeX: 30_00000000, stakeY: 30_00000000, stakeZ: 25_00000000, stakeW: 15_00000000}
	if len(shares) != len(wantStake) {
		t.Fatalf("sponsor entitlements for %d accounts, want %d", len(shares), len(wantStake))
	}
	var sum int64
	for a, s := range wantStake {
		e, ok := shares[a]
		if !ok || e.StakeE8s != s {
			t.Fatalf("account %s: entitlement %+v, want stake %d", a, e, s)
		}
		sum += e.ShareE8s
	}
	// The whale premium: P = floor(D * 3500 / 10000) to y, the rest pro rata.
	premium := pp.DistributableE8s * 3500 / 10_000
	if shares[stakeY].ShareE8s != premium || sum != pp.DistributableE8s {
		t.Fatalf("whale share %d, want the premium %d; shares sum %d, distributable %d", shares[stakeY].ShareE8s, premium, sum, pp.DistributableE8s)
	}
	if shares[stakeX].ShareE8s >= shares[stakeY].ShareE8s {
		t.Fatalf("x's pro rata share %d should be below the premium %d", shares[stakeX].ShareE8s, shares[stakeY].ShareE8s)
	}

	// The stored input lists the stakes as contributions, times in UTC.
	var in struct {
		Contributions []struct {
			ID, Sponsor, At string
			AmountE8s       int64 `json:"amount_e8s"`
		} `json:"contributions"`
	}
	if err := json.Unmarshal([]byte(pp.InputJSON), &in); err != nil {
		t.Fatal(err)
	}
	gotIn := map[string]string{}
	for _, c := range in.Contributions {
		if c.ID != c.Sponsor {
			t.Fatalf("contribution %s of sponsor %s: id must be the account", c.ID, c.Sponsor)
		}
		gotIn[c.Sponsor] = c.At
		if c.AmountE8s != wantStake[c.Sponsor] {
			t.Fatalf("contribution %s: amount %d, want %d", c.ID, c.AmountE8s, wantStake[c.Sponsor])
		}
	}
	if len(gotIn) != 4 || gotIn[stakeY] != "2026-01-01T23:30:00Z" || gotIn[stakeX] != "2026-01-01T23:45:00Z" {
		t.Fatalf("stored contributions' at: %v, want y's first deposit normalised to 2026-01-01T23:30:00Z", gotIn)
	}

	same := func(what string, evs []schemas.Envelope) {
		t.Helper()
		again := run(t, evs, r)
		if len(again) != len(out) {
			t.Fatalf("%s: %d events, want %d", what, len(again), len(out))
		}
		for i := range out {
			a, _ := out[i].Envelope.Marshal()
			b, _ := again[i].Envelope.Marshal()
			if out[i].Key != again[i].Key || !bytes.Equal(a, b) {
				t.Fatalf("%s: event %d differs (%s vs %s)", what, i, out[i].Key, again[i].Key)
			}
		}
	}
	// Typed contributions for the crowdfunded pool, even by its own
	// sponsors, are ignored: the stakes come from the ledger only.
	typed := append(append([]schemas.Envelope(nil), base...),
		mustEnv(t, schemas.TypeContribution, "t1", schemas.Contribution{DAO: "d", PoolID: "cf", ContributionID: "t1", Sponsor: "intruder", AmountE8s: 1_000_00000000, At: "2026-01-01T00:00:00Z"}),
		mustEnv(t, schemas.TypeContribution, "t2", schemas.Contribution{DAO: "d", PoolID: "cf", ContributionID: "t2", Sponsor: stakeX, AmountE8s: 50_00000000, At: "2025-12-01T00:00:00Z"}),
	)
	same("typed contributions for the crowdfunded pool", typed)
	// Lifecycle transfers on the same topic are ignored too.
	tr := mustEnv(t, schemas.TypePoolTransfer, schemas.PoolTransferKey("d", "cf", 0), schemas.PoolTransfer{DAO: "d", PoolID: "cf", Kind: "settlement", To: stakeX, GrossE8s: 100_00000000})
	same("a lifecycle transfer", append(append([]schemas.Envelope(nil), typed...), tr))
	// Any order of the state events gives the same bytes.
	rng := rand.New(rand.NewSource(11))
	for i := 0; i < 10; i++ {
		perm := append(append([]schemas.Envelope(nil), typed...), tr)
		rng.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		same("seed 11 shuffle", perm)
	}

	// Allocated once every record of the reward is applied, not before.
	st := NewState()
	for _, e := range base {
		if err := st.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	for i, ev := range out {
		if st.Allocated(r) {
			t.Fatalf("allocated after %d of %d records", i, len(out))
		}
		if err := st.Apply(ev.Envelope); err != nil {
			t.Fatal(err)
		}
	}
	if !st.Allocated(r) {
		t.Fatal("not allocated once every record is applied")
	}
}

// The latest lifecycle state of a pool, in log order, is the one read: a
// state that retired the pool before T ends its earning, and a refused
// state changes nothing.
func TestLatestPoolStateWins(t *testing.T) {
	active := stateEnv(t, cfState("2026-03-01T00:00:00Z", ""))
	retired := stateEnv(t, cfState("2026-03-01T00:00:00Z", "2026-06-01T00:00:00Z"))
	if _, err := earners(t, []schemas.Envelope{cfPool(t), active, retired}, cfReward()); err == nil {
		t.Fatal("retired before the reward by its latest state, the pool still earned")
	}
	if pools, err := earners(t, []schemas.Envelope{cfPool(t), retired, active}, cfReward()); err != nil || len(pools) != 1 {
		t.Fatalf("active by its latest state: pools %v, err %v", pools, err)
	}
	st := NewState()
	for _, e := range []schemas.Envelope{cfPool(t), active} {
		if err := st.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	bad := cfState("2026-03-01T00:00:00Z", "2026-06-01T00:00:00Z")
	bad.Stakes[0].AcceptedE8s = 0
	if err := st.Apply(stateEnv(t, bad)); err == nil {
		t.Fatal("a state with a zero stake accepted")
	}
	if _, err := st.Reward(cfReward(), Params{LedgerFeeE8s: 10_000}); err != nil {
		t.Fatalf("a refused state replaced the pool's last good one: %v", err)
	}
}

// A malformed lifecycle state is refused, naming the field and the value.
func TestPoolStateErrorsNameTheField(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*schemas.PoolState)
		want string
	}{
		{"no dao", func(s *schemas.PoolState) { s.DAO = "" }, `pool state of pool "cf": dao is empty`},
		{"no pool id", func(s *schemas.PoolState) { s.PoolID = "" }, "pool state of dao d: pool_id is empty"},
		{"settled_at", func(s *schemas.PoolState) { s.SettledAt = "2026-13-01T00:00:00Z" }, `pool state d/cf: settled_at must be an RFC 3339 time such as "2026-01-02T00:00:00Z" (no such date), got "2026-13-01T00:00:00Z"`},
		{"retired_at", func(s *schemas.PoolState) { s.RetiredAt = "2026-06-01" }, `retired_at must be an RFC 3339 time such as "2026-01-02T00:00:00Z" (too short), got "2026-06-01"`},
		{"retired, never settled", func(s *schemas.PoolState) { s.SettledAt, s.RetiredAt = "", "2026-06-01T00:00:00Z" }, `retired_at is "2026-06-01T00:00:00Z" but settled_at is empty`},
		{"retired before settled", func(s *schemas.PoolState) { s.RetiredAt = "2026-02-01T00:00:00Z" }, `retired_at must not be before settled_at "2026-03-01T00:00:00Z", got "2026-02-01T00:00:00Z"`},
		{"zero stake", func(s *schemas.PoolState) { s.Stakes[1].AcceptedE8s = 0 }, "pool state d/cf: stakes[1].accepted_e8s must be > 0, got 0"},
		{"negative stake", func(s *schemas.PoolState) { s.Stakes[3].AcceptedE8s = -5 }, "stakes[3].accepted_e8s must be > 0, got -5"},
		{"first_accepted_at", func(s *schemas.PoolState) { s.Stakes[2].FirstAcceptedAt = "2026-01-01 00:00:00Z" }, `stakes[2].first_accepted_at must be an RFC 3339 time such as "2026-01-02T00:00:00Z" (not YYYY-MM-DDTHH:MM:SS), got "2026-01-01 00:00:00Z"`},
		{"first_accepted_at after settlement", func(s *schemas.PoolState) { s.Stakes[0].FirstAcceptedAt = "2026-04-01T00:00:00Z" }, `stakes[0].first_accepted_at must not be after settled_at "2026-03-01T00:00:00Z", got "2026-04-01T00:00:00Z"`},
		{"account not 64 hex", func(s *schemas.PoolState) { s.Stakes[0].Account = "s1" }, `stakes[0].account must be an account identifier of 64 lowercase hex characters, got 2 characters: "s1"`},
		{"account checksum", func(s *schemas.PoolState) { s.Stakes[1].Account = "00" + stakeY[2:] }, "stakes[1].account is not a valid account identifier"},
		{"repeated account", func(s *schemas.PoolState) { s.Stakes[2].Account = stakeX }, "stakes[2].account repeats stakes[0]"},
		{"settled without stakes", func(s *schemas.PoolState) { s.Stakes = nil }, `stakes is empty but settled_at is "2026-03-01T00:00:00Z"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := cfState("2026-03-01T00:00:00Z", "")
			c.edit(&st)
			err := NewState().Apply(stateEnv(t, st))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Apply: %v, want it to name %q", err, c.want)
			}
			if err2 := ValidatePoolState(st); err2 == nil || !strings.Contains(err2.Error(), c.want) {
				t.Fatalf("ValidatePoolState: %v, want %q", err2, c.want)
			}
		})
	}
	// A state before settlement needs no stake, and the states of every
	// step until then are valid.
	early := schemas.PoolState{DAO: "d", PoolID: "cf", State: "funding"}
	if err := ValidatePoolState(early); err != nil {
		t.Fatalf("a pool with no deposit yet: %v", err)
	}
}
