package payout

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/nodeshare/nodeshare/schemas"
)

// Lifecycle manifests: the transfers a pool's lifecycle owes (refunds,
// the settlement, bond return and forfeit; docs/pool-rules.md) paid
// through the same manifests as rewards (docs/payouts.md "Lifecycle
// transfers"). One manifest moves money out of one pool account (its
// deposit or its bond account: the subaccount the run signs from); its
// period id names the pool, the account and the first transfer it holds.

// LifecycleRulesVersion is the rules version of a lifecycle manifest.
const LifecycleRulesVersion = "lifecycle-v1"

// The pool accounts a lifecycle manifest pays from.
const (
	SourceDeposit = "deposit"
	SourceBond    = "bond"
)

const lifecyclePrefix = "lifecycle:"

// ErrNothingToPlan is returned when every transfer of the pool's account
// is planned already (or none is owed yet).
var ErrNothingToPlan = errors.New("no lifecycle transfer left to plan")

// LifecyclePeriod is the period id of the lifecycle manifest of pool that
// pays from source and starts at transfer firstSeq:
// "lifecycle:<source>:<first seq>:<pool>".
func LifecyclePeriod(pool, source string, firstSeq int) string {
	return lifecyclePrefix + source + ":" + strconv.Itoa(firstSeq) + ":" + pool
}

// ParseLifecyclePeriod splits a lifecycle period id; ok is false for any
// other period (a reward period is a date).
func ParseLifecyclePeriod(period string) (pool, source string, firstSeq int, ok bool) {
	rest, found := strings.CutPrefix(period, lifecyclePrefix)
	if !found {
		return "", "", 0, false
	}
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) != 3 || (parts[0] != SourceDeposit && parts[0] != SourceBond) || parts[2] == "" {
		return "", "", 0, false
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < 0 || strconv.Itoa(n) != parts[1] {
		return "", "", 0, false
	}
	return parts[2], parts[0], n, true
}

// IsLifecyclePeriod reports whether period names a lifecycle manifest.
func IsLifecyclePeriod(period string) bool {
	_, _, _, ok := ParseLifecyclePeriod(period)
	return ok
}

// LifecycleIntentID is the deterministic id of one lifecycle transfer:
// the pool's transfer seq never changes (a published transfer never
// changes), so whichever manifest holds it, it has one id, and the memo
// is its 32 bytes.
func LifecycleIntentID(dao, pool string, seq int) [32]byte {
	return sha256.Sum256([]byte("nodeshare/lifecycle-intent/v1\x00" + dao + "\x00" + pool + "\x00" + strconv.Itoa(seq)))
}

// transferKey is a transfer's key among a manifest's inputs.
func transferKey(seq int) string { return "seq:" + strconv.Itoa(seq) }

// TransferSHA256 hashes one lifecycle transfer as the manifest binds it:
// every field that decides what is paid, from where and why.
func TransferSHA256(t schemas.PoolTransfer) string {
	reason := ""
	if t.Reason != nil {
		reason = *t.Reason
	}
	s := strings.Join([]string{"nodeshare lifecycle transfer v1", t.DAO, t.PoolID, strconv.Itoa(t.Seq), t.Kind, t.From, t.To,
		strconv.FormatInt(t.GrossE8s, 10), strconv.FormatInt(t.TransferE8s, 10), strconv.FormatInt(t.FeeE8s, 10),
		reason, t.Cause, t.At, strconv.Itoa(t.TermsVersion)}, "\x00")
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// checkTransfer checks one lifecycle transfer as a payout takes it.
func checkTransfer(t schemas.PoolTransfer) error {
	where := fmt.Sprintf("pool %s transfer %d (%s)", t.PoolID, t.Seq, t.Kind)
	switch {
	case t.Seq < 0:
		return fmt.Errorf("%s: seq must be >= 0, got %d", where, t.Seq)
	case t.TransferE8s < 0 || t.FeeE8s < 0 || t.GrossE8s < 0:
		return fmt.Errorf("%s: negative amount (gross %d, transfer %d, fee %d)", where, t.GrossE8s, t.TransferE8s, t.FeeE8s)
	case t.TransferE8s > 0 && t.TransferE8s+t.FeeE8s != t.GrossE8s:
		return fmt.Errorf("%s: gross %d != transfer %d + fee %d", where, t.GrossE8s, t.TransferE8s, t.FeeE8s)
	case t.Kind != "refund" && t.Kind != "settlement" && t.Kind != "bond_return" && t.Kind != "bond_forfeit":
		return fmt.Errorf("%s: kind must be refund, settlement, bond_return or bond_forfeit, got %q", where, t.Kind)
	}
	if err := schemas.ValidateAccountIdentifier(t.To); err != nil {
		return fmt.Errorf("%s: to: %w", where, err)
	}
	if err := schemas.ValidateAccountIdentifier(t.From); err != nil {
		return fmt.Errorf("%s: from: %w", where, err)
	}
	return nil
}

// PlanLifecycle builds the next lifecycle manifest of pool: every transfer
// of the pool that leaves account from (64 hex; the source's account),
// sends something (a dust row sends nothing) and is not in planned (the
// intent ids of the pool's earlier manifests). The manifest's period is
// LifecyclePeriod(pool, source, first seq); its hash binds each
// transfer's TransferSHA256. ErrNothingToPlan when nothing is left.
func PlanLifecycle(dao, pool, source, from string, transfers []schemas.PoolTransfer, planned map[string]bool, createdAtNanos uint64) (Manifest, error) {
	var pick []schemas.PoolTransfer
	bySeq := map[int]schemas.PoolTransfer{}
	for _, t := range transfers {
		if t.DAO != dao || t.PoolID != pool {
			return Manifest{}, fmt.Errorf("lifecycle payout %s %s: transfer %d of %s %s does not belong to this pool", dao, pool, t.Seq, t.DAO, t.PoolID)
		}
		if prev, dup := bySeq[t.Seq]; dup {
			if TransferSHA256(prev) != TransferSHA256(t) {
				return Manifest{}, fmt.Errorf("lifecycle payout %s %s: transfer %d is stored twice with different content: stop and investigate", dao, pool, t.Seq)
			}
			continue
		}
		bySeq[t.Seq] = t
		if err := checkTransfer(t); err != nil {
			return Manifest{}, fmt.Errorf("lifecycle payout %s: %w", dao, err)
		}
		id := LifecycleIntentID(dao, pool, t.Seq)
		if t.From != from || t.TransferE8s == 0 || planned[hex.EncodeToString(id[:])] {
			continue
		}
		pick = append(pick, t)
	}
	if len(pick) == 0 {
		return Manifest{}, fmt.Errorf("lifecycle payout %s %s from the %s account: %w", dao, pool, source, ErrNothingToPlan)
	}
	sort.Slice(pick, func(i, j int) bool { return pick[i].Seq < pick[j].Seq })
	return lifecycleManifest(dao, LifecyclePeriod(pool, source, pick[0].Seq), pool, pick, createdAtNanos)
}

// lifecycleManifest is the manifest paying exactly ts (sorted by seq).
func lifecycleManifest(dao, period, pool string, ts []schemas.PoolTransfer, createdAtNanos uint64) (Manifest, error) {
	m := Manifest{DAO: dao, Period: period, RulesVersion: LifecycleRulesVersion, InputHashes: map[string]string{}, CreatedAtNanos: createdAtNanos}
	if createdAtNanos == 0 {
		return m, fmt.Errorf("lifecycle payout %s %s: created_at_nanos must be set", dao, period)
	}
	for _, t := range ts {
		id := LifecycleIntentID(dao, pool, t.Seq)
		hexID := hex.EncodeToString(id[:])
		m.InputHashes[transferKey(t.Seq)] = TransferSHA256(t)
		m.Intents = append(m.Intents, schemas.PayoutIntent{
			IntentID: hexID, DAO: dao, Period: period, PoolID: pool, Recipient: t.To, Role: t.Kind,
			AmountE8s: t.TransferE8s, FeeE8s: t.FeeE8s, MemoHex: hexID, CreatedAtNanos: createdAtNanos,
		})
		m.TotalAmountE8s += t.TransferE8s
		m.TotalFeeE8s += t.FeeE8s
	}
	sort.Slice(m.Intents, func(i, j int) bool { return m.Intents[i].IntentID < m.Intents[j].IntentID })
	m.SHA256 = hashManifest(m)
	for i := range m.Intents {
		m.Intents[i].ManifestSHA256 = m.SHA256
	}
	return m, nil
}

// ReplanLifecycle recomputes a stored lifecycle manifest from the pool's
// transfers as they are stored now: the transfers it binds must all still
// be there, unchanged, and leave account from; it must plan to the same
// hash. This is the check before every run (nothing is signed otherwise).
func ReplanLifecycle(m Manifest, from string, transfers []schemas.PoolTransfer) error {
	pool, _, first, ok := ParseLifecyclePeriod(m.Period)
	if !ok {
		return fmt.Errorf("payout %s %s: not a lifecycle period", m.DAO, m.Period)
	}
	where := fmt.Sprintf("lifecycle payout %s %s manifest %s", m.DAO, m.Period, m.SHA256)
	if m.RulesVersion != LifecycleRulesVersion {
		return fmt.Errorf("%s: rules version %q, want %q", where, m.RulesVersion, LifecycleRulesVersion)
	}
	bySeq := map[int]schemas.PoolTransfer{}
	for _, t := range transfers {
		if t.DAO == m.DAO && t.PoolID == pool {
			bySeq[t.Seq] = t
		}
	}
	var ts []schemas.PoolTransfer
	for key, sum := range m.InputHashes {
		seq, err := strconv.Atoi(strings.TrimPrefix(key, "seq:"))
		if err != nil || transferKey(seq) != key {
			return fmt.Errorf("%s: input %q is not a transfer", where, key)
		}
		t, ok := bySeq[seq]
		if !ok {
			return fmt.Errorf("%s: transfer %d is no longer stored: stop and investigate", where, seq)
		}
		if err := checkTransfer(t); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if got := TransferSHA256(t); got != sum {
			return fmt.Errorf("%s: transfer %d changed since it was planned (hash %s, planned %s): stop and investigate", where, seq, got, sum)
		}
		if t.From != from {
			return fmt.Errorf("%s: transfer %d leaves account %s, the run signs from %s: nothing signed", where, seq, t.From, from)
		}
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Seq < ts[j].Seq })
	if len(ts) == 0 || ts[0].Seq != first {
		return fmt.Errorf("%s: the period names first transfer %d, the manifest binds %d transfer(s) from another", where, first, len(ts))
	}
	again, err := lifecycleManifest(m.DAO, m.Period, pool, ts, m.CreatedAtNanos)
	if err != nil {
		return err
	}
	if again.SHA256 != m.SHA256 {
		return fmt.Errorf("%s: the stored transfers now plan to %s: nothing signed, stop and investigate", where, again.SHA256)
	}
	return nil
}
