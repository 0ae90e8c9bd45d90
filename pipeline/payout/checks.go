package payout

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/schemas"
)

// Caps bound what one run may move. Zero means no cap.
type Caps struct {
	// MaxRunE8s bounds the sum of amounts plus fees of the transfers a run
	// still has to send.
	MaxRunE8s int64
	// MaxRecipientE8s bounds the sum of amounts one recipient receives in
	// the manifest (over all its pools and roles).
	MaxRecipientE8s int64
}

// CheckManifest runs the checks that need no ledger before the first
// signature: the manifest conserves the entitlements (every positive
// transfer is an intent with the same amount and fee, and nothing else is),
// every recipient is a sponsor or the hoster of its pool according to the
// pool period's allocation input, and the caps hold. pending is the subset
// of intents still to send. The first failure is returned with its reason.
func CheckManifest(m Manifest, ents []schemas.Entitlement, pools []schemas.PoolPeriod, pending []schemas.PayoutIntent, caps Caps) error {
	where := fmt.Sprintf("payout %s %s manifest %s", m.DAO, m.Period, m.SHA256)
	// Conservation: intents == positive entitlements, one for one.
	want := map[string]schemas.Entitlement{}
	var wantAmount, wantFee int64
	for _, e := range ents {
		if e.TransferE8s == 0 {
			continue
		}
		id := IntentID(m.DAO, m.Period, e.PoolID, e.Role, e.Recipient)
		want[fmt.Sprintf("%x", id[:])] = e
		wantAmount += e.TransferE8s
		wantFee += e.FeeE8s
	}
	if len(want) != len(m.Intents) {
		return fmt.Errorf("%s: conservation: %d intents for %d positive entitlements", where, len(m.Intents), len(want))
	}
	var amount, fee int64
	for _, in := range m.Intents {
		e, ok := want[in.IntentID]
		if !ok {
			return fmt.Errorf("%s: conservation: intent %s (%s %s %s) has no entitlement", where, in.IntentID, in.PoolID, in.Role, in.Recipient)
		}
		if e.TransferE8s != in.AmountE8s || e.FeeE8s != in.FeeE8s || e.Recipient != in.Recipient {
			return fmt.Errorf("%s: conservation: intent %s pays %d + fee %d to %s, the entitlement says %d + fee %d to %s",
				where, in.IntentID, in.AmountE8s, in.FeeE8s, in.Recipient, e.TransferE8s, e.FeeE8s, e.Recipient)
		}
		if in.AmountE8s <= 0 || in.FeeE8s < 0 {
			return fmt.Errorf("%s: intent %s: amount %d, fee %d", where, in.IntentID, in.AmountE8s, in.FeeE8s)
		}
		amount += in.AmountE8s
		fee += in.FeeE8s
	}
	if amount != wantAmount || fee != wantFee || amount != m.TotalAmountE8s || fee != m.TotalFeeE8s {
		return fmt.Errorf("%s: conservation: intents move %d + fees %d, entitlements %d + %d, manifest totals %d + %d",
			where, amount, fee, wantAmount, wantFee, m.TotalAmountE8s, m.TotalFeeE8s)
	}

	// Known recipients: the pool's own allocation input names its sponsors
	// and its hoster; nobody else may be paid from the pool.
	known := map[string]map[string]bool{} // pool -> role/account
	for _, p := range pools {
		k, err := knownRecipients(p)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		known[p.PoolID] = k
	}
	for _, in := range m.Intents {
		k := known[in.PoolID]
		if k == nil {
			return fmt.Errorf("%s: intent %s: pool %s has no pool period", where, in.IntentID, in.PoolID)
		}
		if !k[in.Role+"/"+in.Recipient] {
			return fmt.Errorf("%s: intent %s: %s is not a %s of pool %s (not in the pool period's allocation input): refusing to pay an unknown account",
				where, in.IntentID, in.Recipient, in.Role, in.PoolID)
		}
	}

	return CheckCaps(where, m, pending, caps)
}

// CheckCaps checks the caps on manifest m (where names it in errors):
// each recipient's total, and what pending, the intents still to send,
// moves with fees.
func CheckCaps(where string, m Manifest, pending []schemas.PayoutIntent, caps Caps) error {
	if caps.MaxRecipientE8s > 0 {
		per := map[string]int64{}
		for _, in := range m.Intents {
			per[in.Recipient] += in.AmountE8s
		}
		var over []string
		for r, v := range per {
			if v > caps.MaxRecipientE8s {
				over = append(over, fmt.Sprintf("%s %d", r, v))
			}
		}
		if len(over) > 0 {
			sort.Strings(over)
			return fmt.Errorf("%s: per-recipient cap %d e8s exceeded by %d recipient(s): %s", where, caps.MaxRecipientE8s, len(over), strings.Join(over, "; "))
		}
	}
	if caps.MaxRunE8s > 0 {
		var need int64
		for _, in := range pending {
			need += in.AmountE8s + in.FeeE8s
		}
		if need > caps.MaxRunE8s {
			return fmt.Errorf("%s: per-run cap: this run would move %d e8s with fees, the cap is %d", where, need, caps.MaxRunE8s)
		}
	}
	return nil
}

// knownRecipients reads the sponsors and the hoster of a pool period from
// its allocation input (the JSON of docs/allocation-rules.md' allocate contract).
func knownRecipients(p schemas.PoolPeriod) (map[string]bool, error) {
	var in struct {
		Hoster struct {
			Account string `json:"account"`
		} `json:"hoster"`
		// Rules v2: one recipient per engagement, the n-th of an account
		// (in order of from) under entitle.HosterRole(n).
		Hosters []struct {
			Account string `json:"account"`
			From    int64  `json:"from"`
		} `json:"hosters"`
		Contributions []struct {
			Sponsor string `json:"sponsor"`
		} `json:"contributions"`
		CarryIn map[string]json.RawMessage `json:"carry_in"`
	}
	if err := json.Unmarshal([]byte(p.InputJSON), &in); err != nil {
		return nil, fmt.Errorf("pool %s: allocation input is not the allocate JSON: %v", p.PoolID, err)
	}
	k := map[string]bool{}
	if in.Hoster.Account != "" {
		k["hoster/"+in.Hoster.Account] = true
	}
	hosters := in.Hosters
	sort.SliceStable(hosters, func(i, j int) bool { return hosters[i].From < hosters[j].From })
	nth := map[string]int{}
	for _, h := range hosters {
		nth[h.Account]++
		k[entitle.HosterRole(nth[h.Account])+"/"+h.Account] = true
	}
	for _, c := range in.Contributions {
		k["sponsor/"+c.Sponsor] = true
	}
	// A sponsor with only a carry-in from an earlier period is still owed.
	for acct := range in.CarryIn {
		if acct != in.Hoster.Account {
			k["sponsor/"+acct] = true
		}
	}
	return k, nil
}

// Approver is one member of the approver set: a name people know and the
// public key (DER SubjectPublicKeyInfo, Ed25519 or secp256k1: a dfx
// identity or a Vault transit key) whose signature is that member's
// approval. A name alone approves nothing.
type Approver struct {
	Name         string
	PublicKeyDER []byte
}

// SignatureVerifier checks a signature over message under publicKeyDER
// (nil when it verifies). Implemented by connectors/ic.
type SignatureVerifier interface {
	Verify(publicKeyDER, message, signature []byte) error
}

// Approval is the approver policy: Threshold distinct members of Approvers
// must sign the approval message of a manifest hash
// (schemas.PayoutApprovalMessage).
type Approval struct {
	Approvers []Approver
	Threshold int
}

// ParseApprovers reads an approver set written "name=<public key DER in
// hex>", one entry per member (as `nodeshare payout approver-key` prints).
func ParseApprovers(entries []string) ([]Approver, error) {
	out := make([]Approver, 0, len(entries))
	for _, e := range entries {
		name, keyHex, ok := strings.Cut(e, "=")
		if !ok || keyHex == "" {
			return nil, fmt.Errorf("approver %q has no public key: write name=<public key DER hex> (nodeshare payout approver-key prints it)", e)
		}
		der, err := schemas.DecodeHexField("approver "+name+" public key", keyHex)
		if err != nil {
			return nil, err
		}
		out = append(out, Approver{Name: name, PublicKeyDER: der})
	}
	return out, nil
}

// Validate checks the policy.
func (a Approval) Validate() error {
	seen := map[string]bool{}
	keys := map[string]string{}
	for _, ap := range a.Approvers {
		n := ap.Name
		if n == "" || strings.ContainsAny(n, " ,/=") {
			return fmt.Errorf("approver %q: names are non-empty, without spaces, commas, slashes or '='", n)
		}
		if seen[n] {
			return fmt.Errorf("approver %q listed twice", n)
		}
		seen[n] = true
		if len(ap.PublicKeyDER) == 0 {
			return fmt.Errorf("approver %q has no public key", n)
		}
		if other, dup := keys[string(ap.PublicKeyDER)]; dup {
			return fmt.Errorf("approvers %q and %q have the same public key: one key would count twice", other, n)
		}
		keys[string(ap.PublicKeyDER)] = n
	}
	if len(a.Approvers) == 0 {
		return fmt.Errorf("no approvers configured (--approvers or NODESHARE_PAYOUT_APPROVERS)")
	}
	if a.Threshold < 1 || a.Threshold > len(a.Approvers) {
		return fmt.Errorf("threshold must be in [1, %d] (the number of approvers), got %d", len(a.Approvers), a.Threshold)
	}
	return nil
}

// Names lists the approvers' names in configured order.
func (a Approval) Names() []string {
	out := make([]string, len(a.Approvers))
	for i, ap := range a.Approvers {
		out[i] = ap.Name
	}
	return out
}

// Key is the configured public key of approver name.
func (a Approval) Key(name string) ([]byte, bool) {
	for _, ap := range a.Approvers {
		if ap.Name == name {
			return ap.PublicKeyDER, true
		}
	}
	return nil, false
}

// Check verifies one approval of dao's period manifestSHA256: by a member,
// of that hash, signed (hex) by the member's configured key over
// schemas.PayoutApprovalMessage. The key recorded with the approval is
// informative only: the configured key decides.
func (a Approval) Check(dao, period, manifestSHA256 string, ap schemas.PayoutApproval, v SignatureVerifier) error {
	if ap.ManifestSHA256 != manifestSHA256 {
		return fmt.Errorf("approval by %q is of manifest %s", ap.Approver, ap.ManifestSHA256)
	}
	key, ok := a.Key(ap.Approver)
	if !ok {
		return fmt.Errorf("%q is not in the approver set %v", ap.Approver, a.Names())
	}
	if ap.Signature == "" {
		return fmt.Errorf("approval by %q is not signed", ap.Approver)
	}
	sig, err := schemas.DecodeHexField("signature", ap.Signature)
	if err != nil {
		return fmt.Errorf("approval by %q: %w", ap.Approver, err)
	}
	if err := v.Verify(key, schemas.PayoutApprovalMessage(dao, period, manifestSHA256), sig); err != nil {
		return fmt.Errorf("approval by %q: signature not by the configured key of %q: %v", ap.Approver, ap.Approver, err)
	}
	return nil
}

// Approved reports whether the verified approvals reach the threshold for
// exactly dao's period manifestSHA256, which configured approvers approved
// it (sorted), and why each other approval was not counted. Approvals of
// another hash, by someone outside the set, unsigned, or signed by another
// key do not count.
func (a Approval) Approved(dao, period, manifestSHA256 string, approvals []schemas.PayoutApproval, v SignatureVerifier) (bool, []string, []string) {
	got := map[string]bool{}
	var refused []string
	for _, ap := range approvals {
		if err := a.Check(dao, period, manifestSHA256, ap, v); err != nil {
			refused = append(refused, err.Error())
			continue
		}
		got[ap.Approver] = true
	}
	names := make([]string, 0, len(got))
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	sort.Strings(refused)
	return len(names) >= a.Threshold, names, refused
}
