package schemas

// Event types of the payout workflow added after the first release
// (append-only, like the list in envelope.go).
const (
	// TypePayoutAttempt is a new created_at_time for an intent whose earlier
	// attempts are proven absent from the ledger after its 24 h window. It is
	// published on dao.payout-intents.v1 under the intent id.
	TypePayoutAttempt = "payout_attempt"
)

// PayoutPending is the status of an intent whose last send has no verified
// outcome (a lost reply, a poll timeout, a signing failure before the send):
// it is neither paid nor failed and the next resume settles it.
const PayoutPending = "pending"

// PayoutManifest is the header of a planned payout: what the intents add up
// to and what they were computed from. Its SHA256 is the manifest hash that
// approvals bind to; it is written once per DAO period.
type PayoutManifest struct {
	DAO            string            `json:"dao"`
	Period         string            `json:"period"`
	RulesVersion   string            `json:"rules_version"`
	InputHashes    map[string]string `json:"input_hashes"` // pool id -> pool period manifest_sha256
	Intents        int               `json:"intents"`
	TotalAmountE8s int64             `json:"total_amount_e8s"`
	TotalFeeE8s    int64             `json:"total_fee_e8s"`
	CarriedE8s     int64             `json:"carried_e8s"`
	CreatedAtNanos uint64            `json:"created_at_nanos"`
	SHA256         string            `json:"manifest_sha256"`
}

// PayoutApproval is one approver's approval of one manifest hash
// (dao.payout-approvals.v1, key <manifest sha256>/<approver>).
type PayoutApproval struct {
	DAO            string `json:"dao"`
	Period         string `json:"period"`
	ManifestSHA256 string `json:"manifest_sha256"`
	Approver       string `json:"approver"`
	ApprovedAt     string `json:"approved_at"` // RFC 3339
	// PublicKeyDER (hex) is the key that signed, kept so an auditor can
	// check the signature from the record alone; Signature (hex) is its
	// signature over PayoutApprovalMessage(dao, period, manifest_sha256).
	// An approval without a signature counts for nothing.
	PublicKeyDER string `json:"public_key_der,omitempty"`
	Signature    string `json:"signature,omitempty"`
}

// PayoutAttempt is attempt number Attempt (1, 2, …; attempt 0 is the
// intent's own created_at_time) of an intent: same memo, amount, fee and
// recipient, a new created_at_time. It is durable before it is signed.
type PayoutAttempt struct {
	IntentID       string `json:"intent_id"`
	Attempt        int    `json:"attempt"`
	CreatedAtNanos uint64 `json:"created_at_nanos"`
	// Reason records the proof that every earlier attempt is absent: the
	// ledger's TooOld for the previous created_at_time and the block range
	// searched.
	Reason string `json:"reason"`
}

// TypePayoutRelease is a PayoutRelease on TopicPayoutReleases.
const TypePayoutRelease = "payout_release"

// PayoutRelease is an operator's release of a period the sanity checks
// put on hold (pipeline/sanity): it names the holds it releases (their
// hash and text), why, and who released them. New or other holds are not
// released by it.
type PayoutRelease struct {
	DAO         string `json:"dao"`
	Period      string `json:"period"`
	HoldsSHA256 string `json:"holds_sha256"`
	Holds       string `json:"holds"` // the holds released, one "kind: detail" per line
	Reason      string `json:"reason"`
	Releaser    string `json:"releaser"`
	ReleasedAt  string `json:"released_at"` // RFC 3339
}

// PayoutReleaseKey is a release's key on dao.payout-releases.v1.
func PayoutReleaseKey(dao, period, holdsSHA256 string) string {
	return dao + "/" + period + "/" + holdsSHA256
}
