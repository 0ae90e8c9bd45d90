package schemas

// PoolTerms are a pool's lifecycle terms (docs/pool-rules.md "Terms of a
// pool"), carried on the pool's dao.pools.v1 record. The JSON fields are
// those of the `nodeshare pools replay` contract's terms (its pool_id is
// the record's). Accounts are 64-hex ledger account identifiers; times are
// RFC 3339. A pool with terms is crowdfunded through the ledger: its
// deposit and bond accounts are subaccounts of the DAO treasury derived
// from the pool id (DepositSubaccount, BondSubaccount), and it earns
// rewards only while its lifecycle is active.
type PoolTerms struct {
	// TermsVersion counts the pool's terms records: 1 when created, one
	// more per change (changes are refused after the first accepted
	// deposit). Nothing is edited in place.
	TermsVersion int `json:"terms_version"`
	// Treasury is the DAO treasury principal that owns the deposit and
	// bond subaccounts.
	Treasury           string            `json:"treasury"`
	DepositAccount     string            `json:"deposit_account"`
	TargetE8s          int64             `json:"target_e8s"`
	MinContributionE8s int64             `json:"min_contribution_e8s"`
	MaxSponsorBps      int64             `json:"max_sponsor_bps"`
	FundingDeadline    string            `json:"funding_deadline"`
	Purchaser          string            `json:"purchaser"`
	SlashBps           int64             `json:"slash_bps"`
	BondE8s            int64             `json:"bond_e8s"`
	BondAccount        string            `json:"bond_account"`
	LockupUntil        string            `json:"lockup_until"`
	MaxVotingBps       int64             `json:"max_voting_bps"`
	LedgerFeeE8s       int64             `json:"ledger_fee_e8s"`
	Identities         map[string]string `json:"identities,omitempty"`
}
