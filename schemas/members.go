package schemas

// Attested members (docs/governance.md "Attested identities"): where the DAO
// has a legal wrapper, its attester (the association, after KYC) states
// which ledger accounts belong to one member. Each statement is signed by
// the attester's key (a Vault transit key) and kept on dao.members.v1; a
// pool created with --identities-from-members takes the DAO's attested
// identities as its terms' `identities`, so one member counts once for the
// sponsor cap and for votes.

// TopicMembers holds the attestations and revocations, one per account
// (compacted: the latest statement about an account is in force; the audit
// trail keeps them all).
const TopicMembers = "dao.members.v1"

// TypeMemberAttestation is the event type on TopicMembers.
const TypeMemberAttestation = "member_attestation"

// Member actions.
const (
	MemberAttest = "attest"
	MemberRevoke = "revoke"
)

// MemberAttestation is the attester's signed statement that Account (64
// hex account identifier) belongs to member Identity (attest), or no longer
// does (revoke), from At (RFC 3339).
type MemberAttestation struct {
	DAO          string `json:"dao"`
	Identity     string `json:"identity"`
	Account      string `json:"account"`
	Action       string `json:"action"`
	At           string `json:"at"`
	PublicKeyDER string `json:"public_key_der"`
	Signature    string `json:"signature"`
}

// Message is what the attester signs.
func (m MemberAttestation) Message() []byte {
	return SignedMessage(DomainMemberAttest, m.DAO, m.Identity, m.Account, m.Action, m.At)
}

// MemberKey is an attestation's key on TopicMembers.
func MemberKey(dao, account string) string { return dao + "/" + account }

// MemberTopics are the members' topics; Topics() includes them.
func MemberTopics() []TopicSpec {
	return []TopicSpec{{Name: TopicMembers, Partitions: 1, Compacted: true, Key: "<dao>/<account>"}}
}
