package payout

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"

	"github.com/nodeshare/nodeshare/schemas"
)

// Manifest is the complete, hashed plan of one DAO period's transfers.
type Manifest struct {
	DAO     string
	Period  string
	Intents []schemas.PayoutIntent // sorted by intent id
	// TotalAmountE8s is what recipients receive; TotalFeeE8s the ledger fees.
	// The treasury is debited TotalAmountE8s + TotalFeeE8s.
	TotalAmountE8s int64
	TotalFeeE8s    int64
	// CarriedE8s is owed but below the minimum payout, carried forward.
	CarriedE8s int64
	// RulesVersion is the allocation rule set of the entitlements, and
	// InputHashes the manifest hash of every pool period they came from
	// (pool id -> sha256). Both are bound by the manifest hash (v2); a
	// manifest rebuilt from intents alone (v1, before headers were stored)
	// has neither.
	RulesVersion string
	InputHashes  map[string]string
	// CreatedAtNanos is the plan time: the first created_at_time of every
	// transfer.
	CreatedAtNanos uint64
	SHA256         string
}

// IntentID is the deterministic id of a payout: the same recipient, role,
// pool and period always get the same id, so a re-plan never creates a
// second payment. The ledger memo is the id's 32 bytes.
func IntentID(dao, period, pool, role, recipient string) [32]byte {
	return sha256.Sum256([]byte("nodeshare/payout-intent/v1\x00" + dao + "\x00" + period + "\x00" + pool + "\x00" + role + "\x00" + recipient))
}

// Plan builds the manifest of a DAO period from its entitlements. Every
// entitlement is checked (owed = transfer + fee + carry_out, no negative
// amount, one period); createdAtNanos becomes the ledger created_at_time of
// every transfer and must be within the ledger's window when first sent.
func Plan(dao, period string, ents []schemas.Entitlement, createdAtNanos uint64) (Manifest, error) {
	return plan(dao, period, ents, nil, createdAtNanos)
}

// PlanWithInputs is Plan that also binds the rules version and the pool
// periods' manifest hashes into the manifest hash (manifest v2). Every
// entitlement must carry the same rules version and belong to a listed pool
// whose manifest hash it carries.
func PlanWithInputs(dao, period string, ents []schemas.Entitlement, pools []schemas.PoolPeriod, createdAtNanos uint64) (Manifest, error) {
	if len(pools) == 0 {
		return Manifest{DAO: dao, Period: period}, fmt.Errorf("payout %s %s: no pool periods: nothing was allocated", dao, period)
	}
	return plan(dao, period, ents, pools, createdAtNanos)
}

func plan(dao, period string, ents []schemas.Entitlement, pools []schemas.PoolPeriod, createdAtNanos uint64) (Manifest, error) {
	m := Manifest{DAO: dao, Period: period, CreatedAtNanos: createdAtNanos}
	if pools != nil {
		m.InputHashes = map[string]string{}
		for _, p := range pools {
			if p.DAO != dao || p.Period != period {
				return m, fmt.Errorf("payout %s %s: pool period %s of %s %s does not belong to this period", dao, period, p.PoolID, p.DAO, p.Period)
			}
			if _, dup := m.InputHashes[p.PoolID]; dup {
				return m, fmt.Errorf("payout %s %s: pool %s listed twice", dao, period, p.PoolID)
			}
			if p.ManifestSHA256 == "" || p.RulesVersion == "" {
				return m, fmt.Errorf("payout %s %s: pool %s has no manifest hash or rules version", dao, period, p.PoolID)
			}
			if m.RulesVersion == "" {
				m.RulesVersion = p.RulesVersion
			} else if m.RulesVersion != p.RulesVersion {
				return m, fmt.Errorf("payout %s %s: pools use rules %s and %s: one manifest has one rule set", dao, period, m.RulesVersion, p.RulesVersion)
			}
			m.InputHashes[p.PoolID] = p.ManifestSHA256
		}
	}
	if len(ents) == 0 {
		return m, fmt.Errorf("payout %s %s: no entitlements", dao, period)
	}
	if createdAtNanos == 0 {
		return m, fmt.Errorf("payout %s %s: created_at_nanos must be set", dao, period)
	}
	seen := map[string]bool{}
	for _, e := range ents {
		if e.DAO != dao || e.Period != period {
			return m, fmt.Errorf("payout %s %s: entitlement of %s %s does not belong to this period", dao, period, e.DAO, e.Period)
		}
		where := fmt.Sprintf("payout %s %s: pool %s %s %s", dao, period, e.PoolID, e.Role, e.Recipient)
		if e.TransferE8s < 0 || e.FeeE8s < 0 || e.CarryOutE8s < 0 || e.OwedE8s < 0 {
			return m, fmt.Errorf("%s: negative amount (owed %d, transfer %d, fee %d, carry %d)", where, e.OwedE8s, e.TransferE8s, e.FeeE8s, e.CarryOutE8s)
		}
		if e.TransferE8s+e.FeeE8s+e.CarryOutE8s != e.OwedE8s {
			return m, fmt.Errorf("%s: owed %d != transfer %d + fee %d + carry %d", where, e.OwedE8s, e.TransferE8s, e.FeeE8s, e.CarryOutE8s)
		}
		if (e.TransferE8s == 0) != (e.FeeE8s == 0) {
			return m, fmt.Errorf("%s: a fee without a transfer (transfer %d, fee %d)", where, e.TransferE8s, e.FeeE8s)
		}
		if pools != nil {
			h, ok := m.InputHashes[e.PoolID]
			if !ok {
				return m, fmt.Errorf("%s: the pool has no pool period", where)
			}
			if e.ManifestSHA256 != h || e.RulesVersion != m.RulesVersion {
				return m, fmt.Errorf("%s: entitlement of pool manifest %s rules %s, the pool period is %s rules %s", where, e.ManifestSHA256, e.RulesVersion, h, m.RulesVersion)
			}
		}
		id := IntentID(dao, period, e.PoolID, e.Role, e.Recipient)
		hexID := hex.EncodeToString(id[:])
		if seen[hexID] {
			return m, fmt.Errorf("%s: listed twice", where)
		}
		seen[hexID] = true
		m.CarriedE8s += e.CarryOutE8s
		if e.TransferE8s == 0 {
			continue
		}
		m.Intents = append(m.Intents, schemas.PayoutIntent{
			IntentID: hexID, DAO: dao, Period: period, PoolID: e.PoolID, Recipient: e.Recipient, Role: e.Role,
			AmountE8s: e.TransferE8s, FeeE8s: e.FeeE8s, MemoHex: hexID, CreatedAtNanos: createdAtNanos,
		})
		m.TotalAmountE8s += e.TransferE8s
		m.TotalFeeE8s += e.FeeE8s
	}
	sort.Slice(m.Intents, func(i, j int) bool { return m.Intents[i].IntentID < m.Intents[j].IntentID })
	m.SHA256 = hashManifest(m)
	for i := range m.Intents {
		m.Intents[i].ManifestSHA256 = m.SHA256
	}
	return m, nil
}

// Header is the manifest's stored header.
func (m Manifest) Header() schemas.PayoutManifest {
	h := schemas.PayoutManifest{DAO: m.DAO, Period: m.Period, RulesVersion: m.RulesVersion, InputHashes: map[string]string{},
		Intents: len(m.Intents), TotalAmountE8s: m.TotalAmountE8s, TotalFeeE8s: m.TotalFeeE8s, CarriedE8s: m.CarriedE8s,
		CreatedAtNanos: m.CreatedAtNanos, SHA256: m.SHA256}
	for k, v := range m.InputHashes {
		h.InputHashes[k] = v
	}
	return h
}

// FromStored rebuilds a v2 manifest from its stored header and intents and
// checks that everything still hashes to the header's manifest hash.
func FromStored(h schemas.PayoutManifest, intents []schemas.PayoutIntent) (Manifest, error) {
	m := Manifest{DAO: h.DAO, Period: h.Period, Intents: append([]schemas.PayoutIntent(nil), intents...),
		RulesVersion: h.RulesVersion, InputHashes: map[string]string{}, CarriedE8s: h.CarriedE8s, CreatedAtNanos: h.CreatedAtNanos}
	for k, v := range h.InputHashes {
		m.InputHashes[k] = v
	}
	if len(intents) != h.Intents {
		return m, fmt.Errorf("payout %s %s: manifest %s lists %d intents, %d are stored", h.DAO, h.Period, h.SHA256, h.Intents, len(intents))
	}
	sort.Slice(m.Intents, func(i, j int) bool { return m.Intents[i].IntentID < m.Intents[j].IntentID })
	for _, in := range m.Intents {
		m.TotalAmountE8s += in.AmountE8s
		m.TotalFeeE8s += in.FeeE8s
	}
	m.SHA256 = hashManifest(m)
	if m.SHA256 != h.SHA256 || m.TotalAmountE8s != h.TotalAmountE8s || m.TotalFeeE8s != h.TotalFeeE8s {
		return m, fmt.Errorf("payout %s %s: stored manifest %s (amount %d, fee %d) but its intents hash to %s (amount %d, fee %d): stop and investigate",
			h.DAO, h.Period, h.SHA256, h.TotalAmountE8s, h.TotalFeeE8s, m.SHA256, m.TotalAmountE8s, m.TotalFeeE8s)
	}
	for _, in := range m.Intents {
		if in.ManifestSHA256 != m.SHA256 || in.DAO != h.DAO || in.Period != h.Period {
			return m, fmt.Errorf("payout %s %s: intent %s carries manifest %s, want %s", h.DAO, h.Period, in.IntentID, in.ManifestSHA256, m.SHA256)
		}
	}
	return m, nil
}

// FromIntents rebuilds a manifest from stored intents (a resumed run) and
// checks that they still hash to the manifest hash they carry.
func FromIntents(dao, period string, intents []schemas.PayoutIntent) (Manifest, error) {
	m := Manifest{DAO: dao, Period: period, Intents: append([]schemas.PayoutIntent(nil), intents...)}
	sort.Slice(m.Intents, func(i, j int) bool { return m.Intents[i].IntentID < m.Intents[j].IntentID })
	for _, in := range m.Intents {
		m.TotalAmountE8s += in.AmountE8s
		m.TotalFeeE8s += in.FeeE8s
	}
	m.SHA256 = hashManifest(m)
	for _, in := range m.Intents {
		if in.ManifestSHA256 != m.SHA256 {
			return m, fmt.Errorf("payout %s %s: intent %s carries manifest %s but the stored intents hash to %s", dao, period, in.IntentID, in.ManifestSHA256, m.SHA256)
		}
	}
	return m, nil
}

// hashManifest hashes a canonical line-per-intent text: fixed field order,
// integers in decimal, sorted by intent id. v1 (no input hashes) covers the
// intents and totals; v2 also the rules version, the input hashes and the
// carried amount.
func hashManifest(m Manifest) string {
	var b bytes.Buffer
	if m.InputHashes == nil {
		b.WriteString("nodeshare payout manifest v1\n")
		b.WriteString("dao=" + m.DAO + "\nperiod=" + m.Period + "\n")
	} else {
		// v2 binds what the intents were computed from.
		b.WriteString("nodeshare payout manifest v2\n")
		b.WriteString("dao=" + m.DAO + "\nperiod=" + m.Period + "\nrules_version=" + m.RulesVersion + "\n")
		pools := make([]string, 0, len(m.InputHashes))
		for p := range m.InputHashes {
			pools = append(pools, p)
		}
		sort.Strings(pools)
		for _, p := range pools {
			b.WriteString("input=" + p + "," + m.InputHashes[p] + "\n")
		}
		b.WriteString("carried_e8s=" + strconv.FormatInt(m.CarriedE8s, 10) + "\n")
	}
	for _, in := range m.Intents {
		b.WriteString(in.IntentID + "," + in.PoolID + "," + in.Role + "," + in.Recipient + "," +
			strconv.FormatInt(in.AmountE8s, 10) + "," + strconv.FormatInt(in.FeeE8s, 10) + "," +
			in.MemoHex + "," + strconv.FormatUint(in.CreatedAtNanos, 10) + "\n")
	}
	b.WriteString("total_amount_e8s=" + strconv.FormatInt(m.TotalAmountE8s, 10) + "\n")
	b.WriteString("total_fee_e8s=" + strconv.FormatInt(m.TotalFeeE8s, 10) + "\n")
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}
