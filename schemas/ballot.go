package schemas

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/aviate-labs/agent-go/principal"
)

// SignedBallot is a sponsor's ballot in a pool vote (docs/governance.md),
// signed with the key of the principal that owns the sponsor's account:
// the same key as the sponsor's dfx identity, Ed25519 or secp256k1.
//
// The voter is the sponsor's ledger account (64 hex account identifier).
// It must be the account of the key's self-authenticating principal with
// Subaccount (64 hex; "" is the default, all-zero subaccount), so only the
// account's owner can vote its weight. Nonce orders one voter's ballots in
// one vote: a ballot whose nonce is not above the voter's last accepted one
// is a replay and is refused (the wallets use the time in nanoseconds).
type SignedBallot struct {
	VoteID       string `json:"vote_id"`
	Voter        string `json:"voter"`
	Subaccount   string `json:"subaccount,omitempty"`
	Choice       string `json:"choice"`
	Nonce        uint64 `json:"nonce"`
	PublicKeyDER string `json:"public_key_der"`
	Signature    string `json:"signature"`
}

// BallotMessage is what a sponsor signs to cast choice in vote voteID of
// dao's pool poolID as voter, with nonce.
func BallotMessage(dao, poolID, voteID, voter, choice string, nonce uint64) []byte {
	return SignedMessage(DomainBallot, dao, poolID, voteID, voter, choice, strconv.FormatUint(nonce, 10))
}

// Message is b's signed message in dao's pool poolID.
func (b SignedBallot) Message(dao, poolID string) []byte {
	return BallotMessage(dao, poolID, b.VoteID, b.Voter, b.Choice, b.Nonce)
}

// Owner checks that the ballot's key owns its voter account: the key's
// self-authenticating principal with the ballot's subaccount hashes to the
// voter's account identifier. It returns the key (DER) and the principal.
func (b SignedBallot) Owner() (publicKeyDER []byte, owner principal.Principal, err error) {
	if b.PublicKeyDER == "" || b.Signature == "" {
		return nil, principal.Principal{}, fmt.Errorf("signature: the ballot is unsigned (public_key_der and signature are required)")
	}
	der, err := DecodeHexField("public_key_der", b.PublicKeyDER)
	if err != nil {
		return nil, principal.Principal{}, err
	}
	var sub [32]byte
	if b.Subaccount != "" {
		s, err := DecodeHexField("subaccount", b.Subaccount)
		if err != nil {
			return nil, principal.Principal{}, err
		}
		if len(s) != 32 {
			return nil, principal.Principal{}, fmt.Errorf("subaccount %q: must be 32 bytes (64 hex), got %d bytes", shorten(b.Subaccount), len(s))
		}
		copy(sub[:], s)
	}
	owner = principal.NewSelfAuthenticating(der)
	id := principal.NewAccountID(owner, sub)
	if got := hex.EncodeToString(id.Bytes()); got != b.Voter {
		return nil, principal.Principal{}, fmt.Errorf("voter %q: not the account of the signing key (principal %s with subaccount %s has account %s)",
			shorten(b.Voter), owner, hex.EncodeToString(sub[:]), got)
	}
	return der, owner, nil
}

// BallotSignature decodes the ballot's signature.
func (b SignedBallot) BallotSignature() ([]byte, error) {
	return DecodeHexField("signature", b.Signature)
}

// BallotRequest is what a wallet posts to `nodeshare serve`'s ballot
// endpoint (POST /api/ballots, docs/governance.md).
type BallotRequest struct {
	DAO    string       `json:"dao"`
	PoolID string       `json:"pool_id"`
	Ballot SignedBallot `json:"ballot"`
}

// BallotReceipt is the answer once the broker acknowledged a ballot: its
// key on dao.pool-facts.v1 and the time it was received (the ballot's at).
// Status "published": the lifecycle processor counts it unless it refuses
// it (GET /api/ballots shows which, with the reason).
type BallotReceipt struct {
	Key        string `json:"key"`
	ReceivedAt string `json:"received_at"`
	Status     string `json:"status"`
}
