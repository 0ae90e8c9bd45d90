package icsim

var ledgerMethods = map[string]method{
	"icrc1_transfer":   {fn: ledgerTransfer},
	"icrc1_balance_of": {query: true, fn: ledgerBalanceOf},
	"icrc1_fee":        {query: true, fn: func(*Server, callContext, []byte) ([]byte, error) { return encode(nat(LedgerFeeE8s)) }},
	"icrc1_decimals":   {query: true, fn: func(*Server, callContext, []byte) ([]byte, error) { return encode(uint8(8)) }},
	"icrc1_symbol":     {query: true, fn: func(*Server, callContext, []byte) ([]byte, error) { return encode("ICP") }},
	"icrc1_name":       {query: true, fn: func(*Server, callContext, []byte) ([]byte, error) { return encode("Internet Computer") }},
	"icrc1_total_supply": {query: true, fn: func(s *Server, _ callContext, _ []byte) ([]byte, error) {
		var total uint64
		for _, b := range s.ledger.balances {
			total += b
		}
		return encode(nat(total))
	}},
	"query_blocks": {query: true, fn: ledgerQueryBlocks},
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
