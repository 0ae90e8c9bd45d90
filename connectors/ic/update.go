package ic

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/aviate-labs/agent-go"
	"github.com/aviate-labs/agent-go/certification"
	"github.com/aviate-labs/agent-go/certification/hashtree"
	"github.com/aviate-labs/agent-go/principal"
	"github.com/fxamacker/cbor/v2"
)

// update sends a signed update call and returns the reply bytes, but only
// from a verified certificate. agent-go's CallAndWait does not verify the
// certificate of a synchronous (HTTP 200) reply, so this builds and signs
// the envelope with agent-go's own types, sends it through agent-go's HTTP
// client, and verifies the returned certificate here (root key, /time,
// request_status/<request id>). An HTTP 202 is followed by read_state polls
// whose certificates agent-go verifies.
func (c *Client) update(ctx context.Context, canister principal.Principal, method string, arg []byte) ([]byte, error) {
	nonce := make([]byte, 10)
	if _, err := rand.Read(nonce); err != nil {
		return nil, &Error{Op: method, Err: fmt.Errorf("nonce: %w", err)}
	}
	req := agent.Request{
		Type:          agent.RequestTypeCall,
		Sender:        c.id.Sender(),
		CanisterID:    canister,
		MethodName:    method,
		Arguments:     arg,
		IngressExpiry: uint64(time.Now().Add(c.cfg.IngressExpiry).UnixNano()),
		Nonce:         nonce,
	}
	rid := agent.NewRequestID(req)
	sig, err := rid.Sign(c.id)
	if err != nil {
		return nil, &Error{Op: method, Err: fmt.Errorf("sign request: %w", err)}
	}
	data, err := cbor.Marshal(agent.Envelope{Content: req, SenderPubKey: c.id.PublicKey(), SenderSig: sig})
	if err != nil {
		return nil, &Error{Op: method, Err: fmt.Errorf("encode envelope: %w", err)}
	}
	callCtx, cancel := context.WithTimeout(ctx, c.cfg.IngressExpiry)
	rawCert, err := c.agent.Client().Call(callCtx, canister, data)
	cancel()
	if err != nil {
		return nil, classify(method, err, true, !isDialError(err))
	}
	c.log.Debug("ic update sent", "method", method, "request_id", fmt.Sprintf("%x", rid[:]), "sync", len(rawCert) != 0)
	if len(rawCert) != 0 {
		reply, err := c.verifiedReply(method, canister, rid, rawCert)
		if !errors.Is(err, errPending) && !errors.Is(err, errNoStatus) {
			return reply, err
		}
		// A verified certificate that does not hold the final status yet:
		// fall back to polling.
	}
	return c.poll(ctx, method, canister, rid)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// verifiedReply checks a synchronous call certificate and extracts the reply.
func (c *Client) verifiedReply(method string, canister principal.Principal, rid agent.RequestID, raw []byte) ([]byte, error) {
	unverified := func(err error) error {
		c.certificateFailed("call_reply")
		return &Error{Op: method, OutcomeUnknown: true, Err: fmt.Errorf("%w: %v", ErrUnverified, err)}
	}
	var cert certification.Certificate
	if err := cbor.Unmarshal(raw, &cert); err != nil {
		return nil, unverified(fmt.Errorf("decode certificate: %w", err))
	}
	// The signature check is cached per round; freshness and the lookup of
	// this request's status run for every reply.
	if err := c.certs.Verify(cert, canister, c.agent.GetRootKey()); err != nil {
		return nil, unverified(err)
	}
	if err := cert.VerifyTime(c.cfg.IngressExpiry); err != nil {
		return nil, unverified(err)
	}
	return statusResult(method, cert.Tree.Root, rid)
}

// statusResult reads request_status/<rid> from a verified tree.
func statusResult(method string, root hashtree.Node, rid agent.RequestID) ([]byte, error) {
	path := []hashtree.Label{hashtree.Label("request_status"), rid[:]}
	at := func(l string) []hashtree.Label { return append(append([]hashtree.Label{}, path...), hashtree.Label(l)) }
	status, err := hashtree.Lookup(root, at("status")...)
	if err != nil {
		return nil, errNoStatus
	}
	switch string(status) {
	case "replied":
		reply, err := hashtree.Lookup(root, at("reply")...)
		if err != nil {
			return nil, &Error{Op: method, OutcomeUnknown: true, Err: fmt.Errorf("certified status replied without reply: %w", err)}
		}
		return reply, nil
	case "rejected":
		code, err1 := hashtree.Lookup(root, at("reject_code")...)
		msg, err2 := hashtree.Lookup(root, at("reject_message")...)
		if err1 != nil || err2 != nil {
			return nil, &Error{Op: method, OutcomeUnknown: true, Err: errors.New("certified status rejected without reject_code/reject_message")}
		}
		errorCode, _ := hashtree.Lookup(root, at("error_code")...)
		rc := beUint(code)
		return nil, &Error{Op: method, RejectCode: rc, Transient: rc == 2,
			Err: fmt.Errorf("rejected by the canister (code %d, %s): %s", rc, errorCode, msg)}
	case "done":
		return nil, &Error{Op: method, OutcomeUnknown: true, Err: errors.New("request status is done: the reply was pruned; reconcile from blocks")}
	default: // received, processing
		return nil, errPending
	}
}

var (
	errNoStatus = errors.New("no status yet")
	errPending  = errors.New("pending")
)

// beUint reads a reject code: one byte on the IC; longer values big-endian.
func beUint(b []byte) uint64 {
	if len(b) > 8 {
		return 0
	}
	var buf [8]byte
	copy(buf[8-len(b):], b)
	return binary.BigEndian.Uint64(buf[:])
}

// poll reads request_status until the call is replied or rejected. agent-go
// verifies each read_state certificate (signature and /time).
func (c *Client) poll(ctx context.Context, method string, canister principal.Principal, rid agent.RequestID) ([]byte, error) {
	ticker := time.NewTicker(c.cfg.PollDelay)
	defer ticker.Stop()
	deadline := time.NewTimer(c.cfg.PollTimeout)
	defer deadline.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, &Error{Op: method, OutcomeUnknown: true, Err: fmt.Errorf("polling request %x: %w", rid[:], ctx.Err())}
		case <-deadline.C:
			return nil, &Error{Op: method, Transient: true, OutcomeUnknown: true,
				Err: fmt.Errorf("no certified status for request %x after %s", rid[:], c.cfg.PollTimeout)}
		case <-ticker.C:
		}
		_, node, err := c.agent.RequestStatus(canister, rid)
		if err != nil {
			e := classify(method, err, true, true).(*Error)
			e.OutcomeUnknown = true
			if !e.Transient && e.HTTPStatus == 0 {
				e.Err = fmt.Errorf("read_state: %w: %v", ErrUnverified, err)
			}
			return nil, e
		}
		if node == nil {
			continue // status absent
		}
		reply, err := statusResult(method, node, rid)
		if errors.Is(err, errPending) || errors.Is(err, errNoStatus) {
			continue
		}
		return reply, err
	}
}
