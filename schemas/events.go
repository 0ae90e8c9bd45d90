package schemas

// Node is one node of a pool with its weight for level 1 of the rules: the
// XDR permyriad it earned in the period (docs/allocation-rules.md level 1).
type Node struct {
	NodeID             string `json:"node_id"`
	WeightXDRPermyriad int64  `json:"weight_xdr_permyriad"`
}

// HosterTerms is what the node hoster is paid (docs/allocation-rules.md step 2).
type HosterTerms struct {
	Account           string `json:"account"`
	FixedXDRPermyriad int64  `json:"fixed_xdr_permyriad"`
	Bps               int64  `json:"bps"`
}

// Pool is the configuration of one pool (topic dao.pools.v1, compacted).
type Pool struct {
	DAO             string      `json:"dao"`
	PoolID          string      `json:"pool_id"`
	NodeProvider    string      `json:"node_provider"`
	Nodes           []Node      `json:"nodes"`
	Hoster          HosterTerms `json:"hoster"`
	DAOFeeBps       int64       `json:"dao_fee_bps"`
	WhalePremiumBps int64       `json:"whale_premium_bps"`
	MinPayoutE8s    int64       `json:"min_payout_e8s"`
	RulesVersion    string      `json:"rules_version"`
	// ProposalStatus is "adopted" or "rejected"; a rejected pool is refunded
	// less SlashBps (docs/allocation-rules.md "Rejected proposal").
	ProposalStatus string `json:"proposal_status"`
	SlashBps       int64  `json:"slash_bps"`
	// Terms, when set, are the pool's lifecycle terms: it is crowdfunded
	// through the ledger (docs/pool-rules.md, `nodeshare pools create`).
	// Records without terms keep the bytes they had before the field.
	Terms *PoolTerms `json:"terms,omitempty"`
}

// Contribution is one funded contribution to a pool (dao.contributions.v1).
type Contribution struct {
	DAO            string `json:"dao"`
	PoolID         string `json:"pool_id"`
	ContributionID string `json:"contribution_id"`
	Sponsor        string `json:"sponsor"` // ICRC-1 textual account
	AmountE8s      int64  `json:"amount_e8s"`
	At             string `json:"at"` // RFC 3339
}

// NodeReward is one NNS node-provider reward (ic.node-rewards.v1): the minted
// e8s and the XDR rate the NNS used. One reward is one period (README "Architecture", docs/pipeline.md).
type NodeReward struct {
	NodeProvider       string `json:"node_provider"`
	TimestampSeconds   uint64 `json:"timestamp_seconds"`
	AmountE8s          int64  `json:"amount_e8s"`
	XDRPermyriadPerICP int64  `json:"xdr_permyriad_per_icp"`
	RewardAccount      string `json:"reward_account"`
	RegistryVersion    uint64 `json:"registry_version,omitempty"`
}

// Rate is one ICP/XDR rate observation (ic.icp-xdr-rates.v1).
type Rate struct {
	Kind               string `json:"kind"` // "spot" or "avg30"
	TimestampSeconds   uint64 `json:"timestamp_seconds"`
	XDRPermyriadPerICP int64  `json:"xdr_permyriad_per_icp"`
}

// PoolPeriod is the pool-level result of one period (dao.entitlements.v1).
type PoolPeriod struct {
	DAO              string `json:"dao"`
	Period           string `json:"period"`
	PoolID           string `json:"pool_id"`
	RulesVersion     string `json:"rules_version"`
	RewardEventID    string `json:"reward_event_id"`
	GrossE8s         int64  `json:"gross_e8s"`
	HosterFeeE8s     int64  `json:"hoster_fee_e8s"`
	DAOFeeE8s        int64  `json:"dao_fee_e8s"`
	DistributableE8s int64  `json:"distributable_e8s"`
	Whale            string `json:"whale"`
	Recipients       int    `json:"recipients"`
	InputsSHA256     string `json:"inputs_sha256"`
	ManifestSHA256   string `json:"manifest_sha256"`
	// AllocationJSON is the full `nodeshare allocate` output of the pool, so
	// an auditor can recompute it byte for byte from the same input.
	AllocationJSON string `json:"allocation_json"`
	InputJSON      string `json:"input_json"`
	// WeightSource is "nrc" when the pool's level-1 weight came from the
	// Node Rewards Canister (ic.node-period-weights.v1), with that weight in
	// WeightXDRPermyriad; both are absent when the configured node weights of
	// dao.pools.v1 were used.
	WeightSource       string `json:"weight_source,omitempty"`
	WeightXDRPermyriad int64  `json:"weight_xdr_permyriad,omitempty"`
	// Votes are the evidence of the pool's passed votes that decided how
	// this period is allocated (docs/governance.md "What a passed vote
	// changes"): each vote, the instant its effect starts and what it did
	// (or why it did nothing). Absent when no passed vote applies, so a
	// period without one keeps the bytes it had before the field existed.
	Votes []VoteEffect `json:"votes,omitempty"`
}

// VoteEffect is one passed vote as a decision used it: the vote, when its
// effect starts (its close, in Unix seconds, rounded up to a whole second)
// and what it changed, in words.
type VoteEffect struct {
	VoteID               string `json:"vote_id"`
	Kind                 string `json:"kind"`
	ClosesAt             string `json:"closes_at"`
	EffectiveUnixSeconds int64  `json:"effective_unix_seconds"`
	Effect               string `json:"effect"`
}

// Entitlement is what one recipient is owed for one pool period.
type Entitlement struct {
	DAO            string `json:"dao"`
	Period         string `json:"period"`
	PoolID         string `json:"pool_id"`
	Recipient      string `json:"recipient"`
	Role           string `json:"role"` // "sponsor" or "hoster"
	RulesVersion   string `json:"rules_version"`
	StakeE8s       int64  `json:"stake_e8s"`
	ShareE8s       int64  `json:"share_e8s"`
	CarryInE8s     int64  `json:"carry_in_e8s"`
	OwedE8s        int64  `json:"owed_e8s"`
	TransferE8s    int64  `json:"transfer_e8s"`
	FeeE8s         int64  `json:"fee_e8s"`
	CarryOutE8s    int64  `json:"carry_out_e8s"`
	ManifestSHA256 string `json:"manifest_sha256"`
	Explanation    string `json:"explanation"`
}

// PayoutIntent is written before anything is signed. Memo and
// CreatedAtNanos are fixed at plan time and reused on every retry, so the
// ledger de-duplicates a resend inside its 24-hour window.
type PayoutIntent struct {
	IntentID       string `json:"intent_id"`
	DAO            string `json:"dao"`
	Period         string `json:"period"`
	PoolID         string `json:"pool_id"`
	Recipient      string `json:"recipient"`
	Role           string `json:"role"`
	AmountE8s      int64  `json:"amount_e8s"`
	FeeE8s         int64  `json:"fee_e8s"`
	MemoHex        string `json:"memo_hex"`
	CreatedAtNanos uint64 `json:"created_at_nanos"`
	ManifestSHA256 string `json:"manifest_sha256"`
}

// Payout result statuses.
const (
	PayoutPaid   = "paid"
	PayoutFailed = "failed"
)

// PayoutResult is the verified outcome of one intent.
type PayoutResult struct {
	IntentID   string `json:"intent_id"`
	Status     string `json:"status"`
	BlockIndex uint64 `json:"block_index"`
	Duplicate  bool   `json:"duplicate"`
	VerifiedBy string `json:"verified_by"`
	Error      string `json:"error"`
	AmountE8s  int64  `json:"amount_e8s"`
	Recipient  string `json:"recipient"`
}

// DeadLetter is a record that could not be processed, kept with its reason,
// its coordinates and its raw bytes (dao.dlq.v1).
type DeadLetter struct {
	SourceTopic string `json:"source_topic"`
	Partition   int    `json:"partition"`
	Offset      int64  `json:"offset"`
	Key         string `json:"key"`
	Reason      string `json:"reason"`
	RawBase64   string `json:"raw_base64"`
}
