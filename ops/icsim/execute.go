package icsim

import (
	"errors"
	"fmt"

	"github.com/aviate-labs/agent-go/candid"
	"github.com/aviate-labs/agent-go/leb128"
	"github.com/aviate-labs/agent-go/principal"

	"github.com/nodeshare/nodeshare/schemas/didl"
)

// method is one canister entry point. fn runs with s.mu held; an update
// method commits through s.commit before it returns.
type method struct {
	query bool
	fn    func(s *Server, c callContext, arg []byte) ([]byte, error)
}

type callContext struct {
	caller   principal.Principal
	canister principal.Principal
	now      uint64 // canister time, ns
	faults   faultShot
	query    bool
}

// rejectError is an explicit canister reject (ic0.msg_reject).
type rejectError struct {
	code uint8
	msg  string
}

func (e *rejectError) Error() string { return e.msg }

func (s *Server) methods(canister principal.Principal) map[string]method {
	switch {
	case canister.Equal(ledgerID):
		return ledgerMethods
	case canister.Equal(governanceID):
		return governanceMethods
	case canister.Equal(cmcID):
		return cmcMethods
	case canister.Equal(nrcID):
		return nrcMethods
	}
	if _, ok := s.ledger.archiveNodeOf(canister); ok {
		return archiveMethods
	}
	return nil
}

// execute runs req against its canister; callers hold s.mu. Queries never
// change state.
func (s *Server) execute(req *request, asQuery bool, f faultShot) (reply []byte, rej *reject) {
	m, ok := s.methods(req.canisterID)[req.method]
	if !ok {
		return nil, &reject{code: 3, errorCode: "IC0536", message: fmt.Sprintf("Canister %s has no %s method '%s'", req.canisterID, kind(asQuery), req.method)}
	}
	if asQuery && !m.query {
		return nil, &reject{code: 3, errorCode: "IC0536", message: fmt.Sprintf("Canister %s has no query method '%s'", req.canisterID, req.method)}
	}
	out, err := m.fn(s, callContext{caller: req.sender, canister: req.canisterID, now: s.canisterNow(), faults: f, query: asQuery}, req.arg)
	if err != nil {
		var rj *rejectError
		if errors.As(err, &rj) {
			return nil, &reject{code: rj.code, errorCode: "IC0406", message: rj.msg}
		}
		var se *storageError
		if errors.As(err, &se) {
			return nil, &reject{code: 2, errorCode: "IC0504", message: se.Error()}
		}
		return nil, &reject{code: 5, errorCode: "IC0503", message: fmt.Sprintf("Canister %s trapped explicitly: %s", req.canisterID, err)}
	}
	return out, nil
}

func kind(q bool) string {
	if q {
		return "query"
	}
	return "update"
}

// decodeArgs Candid-decodes arg into the pointers in out; malformed input
// becomes a trap, never a panic or a crash.
func decodeArgs(arg []byte, out ...any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = trap("failed to decode call arguments: %v", r)
		}
	}()
	if err := candidSane(arg); err != nil {
		return trap("failed to decode call arguments: %v", err)
	}
	if err := candid.Unmarshal(arg, out); err != nil {
		return trap("failed to decode call arguments: %v", err)
	}
	return nil
}

func encode(vals ...any) ([]byte, error) {
	b, err := didl.Marshal(vals...)
	if err != nil {
		return nil, fmt.Errorf("encode reply: %w", err)
	}
	return b, nil
}

func leb(v uint64) []byte {
	var buf [10]byte
	return leb128.AppendUnsignedUint64(buf[:0], v)
}
