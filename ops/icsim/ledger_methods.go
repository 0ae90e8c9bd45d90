package icsim

import (
	"fmt"
	"time"

	"github.com/aviate-labs/agent-go/principal"
	"github.com/fxamacker/cbor/v2"
)

var ledgerMethods = map[string]method{
	"icrc1_transfer":   {fn: ledgerTransfer},
	"icrc1_balance_of": {query: true, fn: ledgerBalanceOf},
	"icrc1_fee":        {query: true, fn: func(*Server, callContext, []byte) ([]byte, error) { return encode(nat(LedgerFeeE8s)) }},
	"icrc1_decimals":   {query: true, fn: func(*Server, callContext, []byte) ([]byte, error) { return encode(uint8(8)) }},
	"icrc1_symbol":     {query: true, fn: func(*Server, callContext, []byte) ([]byte, error) { return encode("ICP") }},
	"icrc1_name":       {query: true, fn: func(*Server, callContext, []byte) ([]byte, error) { return encode("Internet Computer") }},
	"icrc1_total_supply": {query: true, fn: func(s *Server, _ callContext, _ []byte) ([]byte, error) {
		return encode(nat(s.ledger.supply))
	}},
	"icrc1_minting_account": {query: true, fn: func(s *Server, _ callContext, _ []byte) ([]byte, error) {
		a := candidAccount{Owner: s.ledger.minting.Owner}
		return encode(&a)
	}},
	"transfer":        {fn: ledgerLegacyTransfer},
	"account_balance": {query: true, fn: ledgerAccountBalance},
	"transfer_fee": {query: true, fn: func(*Server, callContext, []byte) ([]byte, error) {
		return encode(candidTransferFee{TransferFee: candidTokens{LedgerFeeE8s}})
	}},
	"query_blocks": {query: true, fn: ledgerQueryBlocks},
	"archives":     {query: true, fn: ledgerArchives},
}

func ledgerTransfer(s *Server, c callContext, arg []byte) ([]byte, error) {
	var a candidTransferArg
	if err := decodeArgs(arg, &a); err != nil {
		return nil, err
	}
	b, terr, err := s.ledger.transfer(c.caller, a, c.now, c.faults.temporarilyUnavailable)
	if err != nil {
		return nil, err
	}
	if terr != nil {
		return encode(candidTransferResult{Err: terr})
	}
	if err := s.commitBlock(*b); err != nil {
		return nil, err
	}
	idx := nat(b.Index)
	return encode(candidTransferResult{Ok: &idx})
}

func ledgerBalanceOf(s *Server, _ callContext, arg []byte) ([]byte, error) {
	var a candidAccount
	if err := decodeArgs(arg, &a); err != nil {
		return nil, err
	}
	acct, err := toAccount(a.Owner, a.Subaccount)
	if err != nil {
		return nil, err
	}
	return encode(nat(s.ledger.balanceOf(acct)))
}

type candidArchiveInfo struct {
	CanisterID principal.Principal `ic:"canister_id"`
}

type candidArchives struct {
	Archives []candidArchiveInfo `ic:"archives"`
}

func ledgerArchives(s *Server, _ callContext, _ []byte) ([]byte, error) {
	out := candidArchives{Archives: []candidArchiveInfo{}}
	for _, n := range s.ledger.archive.Nodes {
		out.Archives = append(out.Archives, candidArchiveInfo{CanisterID: principal.MustDecode(n.CanisterID)})
	}
	return encode(out)
}

// ledgerCertMaxAge bounds how long one certificate of the ledger's
// certified data is handed out again: the IC returns the certificate of the
// last certified state, not a fresh one per query, and a BLS signature per
// query_blocks would dominate a client paging through blocks.
const ledgerCertMaxAge = time.Second

// ledgerCert is the cached certificate of the ledger's certified data.
type ledgerCert struct {
	tip  [32]byte
	at   time.Time
	cert []byte
}

// ledgerCertificate is a certificate of canister/<ledger>/certified_data
// (the tip hash) and /time; callers hold s.mu. ForgeCertificateNext
// corrupts its signature, as a replica could.
func (s *Server) ledgerCertificate() ([]byte, error) {
	tip := s.ledger.tipHash()
	now := s.wall()
	c := s.ledgerCert
	if c == nil || c.tip != tip || now.Sub(c.at) > ledgerCertMaxAge || now.Before(c.at) {
		t := newStateTree()
		s.addCanister(t, ledgerID)
		cert, err := s.certify(t)
		if err != nil {
			return nil, err
		}
		c = &ledgerCert{tip: tip, at: now, cert: cert}
		s.ledgerCert = c
	}
	out := append([]byte{}, c.cert...)
	if s.faults.ForgeCertificateNext > 0 {
		s.faults.ForgeCertificateNext--
		forged, err := forgeSignature(out)
		if err != nil {
			return nil, err
		}
		out = forged
	}
	return out, nil
}

// forgeSignature flips a bit of a certificate's BLS signature.
func forgeSignature(cert []byte) ([]byte, error) {
	var m map[string]cbor.RawMessage
	if err := cbor.Unmarshal(cert, &m); err != nil {
		return nil, fmt.Errorf("forge certificate: %w", err)
	}
	var sig []byte
	if err := cbor.Unmarshal(m["signature"], &sig); err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("forge certificate: no signature: %v", err)
	}
	sig[len(sig)-1] ^= 1
	raw, err := cbor.Marshal(sig)
	if err != nil {
		return nil, err
	}
	m["signature"] = raw
	return cbor.Marshal(m)
}
