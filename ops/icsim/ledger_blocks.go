package icsim

func ledgerQueryBlocks(s *Server, c callContext, arg []byte) ([]byte, error) {
	return nil, trap("query_blocks is not implemented yet")
}
