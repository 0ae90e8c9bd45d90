package icsim

import (
	"bytes"
	stdecdsa "crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/aviate-labs/agent-go/certification"
	"github.com/aviate-labs/agent-go/principal"
	"github.com/consensys/gnark-crypto/ecc/secp256k1/ecdsa"
	"github.com/fxamacker/cbor/v2"
)

// maxIngressTTL is the IC's maximum ingress_expiry distance; maxDrift the
// permitted clock drift on top of it.
const (
	maxIngressTTL = 5 * time.Minute
	maxDrift      = 60 * time.Second
	maxNonceBytes = 32
)

// request is a decoded, authenticated request envelope.
type request struct {
	id            [32]byte
	typ           string
	sender        principal.Principal
	canisterID    principal.Principal
	method        string
	arg           []byte
	ingressExpiry uint64
	paths         [][][]byte
}

// envelopeError carries the HTTP status the replica answers with.
type envelopeError struct {
	status int
	msg    string
}

func (e *envelopeError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &envelopeError{status: 400, msg: fmt.Sprintf(format, a...)}
}

func forbidden(format string, a ...any) error {
	return &envelopeError{status: 403, msg: fmt.Sprintf(format, a...)}
}

var anonymous = []byte{0x04}

// decodeEnvelope decodes body, recomputes the request id from the decoded
// content (the client's CBOR map order is random, so raw bytes are never
// hashed), checks the sender's signature and the ingress expiry against now.
// It never panics on any input.
func decodeEnvelope(body []byte, now time.Time) (req *request, err error) {
	defer func() {
		if r := recover(); r != nil {
			req, err = nil, badRequest("malformed request: %v", r)
		}
	}()
	var env struct {
		Content          cbor.RawMessage `cbor:"content"`
		SenderPubKey     []byte          `cbor:"sender_pubkey"`
		SenderSig        []byte          `cbor:"sender_sig"`
		SenderDelegation cbor.RawMessage `cbor:"sender_delegation"`
	}
	if err := cbor.Unmarshal(body, &env); err != nil {
		return nil, badRequest("decode envelope: %v", err)
	}
	if len(env.Content) == 0 {
		return nil, badRequest("envelope has no content")
	}
	if len(env.SenderDelegation) != 0 {
		return nil, forbidden("sender_delegation is not supported by the simulator")
	}
	var content map[string]any
	if err := cbor.Unmarshal(env.Content, &content); err != nil {
		return nil, badRequest("decode content: %v", err)
	}
	id, err := certification.HashAny(content)
	if err != nil {
		return nil, badRequest("request id: %v", err)
	}
	r := &request{id: id}
	var ok bool
	if r.typ, ok = content["request_type"].(string); !ok {
		return nil, badRequest("content.request_type must be text")
	}
	sender, ok := content["sender"].([]byte)
	if !ok {
		return nil, badRequest("content.sender must be bytes")
	}
	r.sender = principal.Principal{Raw: sender}
	if r.ingressExpiry, ok = content["ingress_expiry"].(uint64); !ok {
		return nil, badRequest("content.ingress_expiry must be a nat")
	}
	if nonce, present := content["nonce"]; present {
		b, ok := nonce.([]byte)
		if !ok || len(b) > maxNonceBytes {
			return nil, badRequest("content.nonce must be at most %d bytes", maxNonceBytes)
		}
	}
	switch r.typ {
	case "call", "query":
		cid, ok := content["canister_id"].([]byte)
		if !ok {
			return nil, badRequest("content.canister_id must be bytes")
		}
		r.canisterID = principal.Principal{Raw: cid}
		if r.method, ok = content["method_name"].(string); !ok {
			return nil, badRequest("content.method_name must be text")
		}
		if r.arg, ok = content["arg"].([]byte); !ok {
			return nil, badRequest("content.arg must be bytes")
		}
	case "read_state":
		raw, ok := content["paths"].([]any)
		if !ok {
			return nil, badRequest("content.paths must be an array")
		}
		for _, p := range raw {
			labels, ok := p.([]any)
			if !ok {
				return nil, badRequest("content.paths: each path must be an array")
			}
			var path [][]byte
			for _, l := range labels {
				b, ok := l.([]byte)
				if !ok {
					return nil, badRequest("content.paths: each label must be bytes")
				}
				path = append(path, b)
			}
			r.paths = append(r.paths, path)
		}
	default:
		return nil, badRequest("unknown request_type %q", r.typ)
	}
	if err := checkSender(r, env.SenderPubKey, env.SenderSig); err != nil {
		return nil, err
	}
	nowNanos := uint64(now.UnixNano())
	if r.ingressExpiry < nowNanos {
		return nil, badRequest("ingress_expiry %d is in the past (replica time %d)", r.ingressExpiry, nowNanos)
	}
	if r.ingressExpiry > nowNanos+uint64(maxIngressTTL+maxDrift) {
		return nil, badRequest("ingress_expiry %d is too far in the future (replica time %d, max %s)", r.ingressExpiry, nowNanos, maxIngressTTL+maxDrift)
	}
	return r, nil
}

// checkSender enforces the IC's authentication rules: the anonymous sender
// carries no key and no signature; any other sender must be the
// self-authenticating principal of sender_pubkey and sign
// "\x0Aic-request" || request_id with it.
func checkSender(r *request, pubDER, sig []byte) error {
	if bytes.Equal(r.sender.Raw, anonymous) {
		if len(pubDER) != 0 || len(sig) != 0 {
			return forbidden("anonymous request must not carry sender_pubkey or sender_sig")
		}
		return nil
	}
	if len(pubDER) == 0 || len(sig) == 0 {
		return forbidden("non-anonymous sender %s requires sender_pubkey and sender_sig", r.sender)
	}
	if !bytes.Equal(principal.NewSelfAuthenticating(pubDER).Raw, r.sender.Raw) {
		return forbidden("sender %s does not match sender_pubkey", r.sender)
	}
	msg := append([]byte("\x0Aic-request"), r.id[:]...)
	if !verifySenderSig(pubDER, msg, sig) {
		return forbidden("invalid sender signature")
	}
	return nil
}

var (
	oidEd25519     = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	oidP256        = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
)

// verifySenderSig supports Ed25519, ECDSA secp256k1 and ECDSA P-256 (the
// latter two with 64-byte r||s signatures over SHA-256, as the IC specifies).
func verifySenderSig(pubDER, msg, sig []byte) bool {
	var spki struct {
		Algo struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(pubDER, &spki); err != nil || len(rest) != 0 {
		return false
	}
	switch {
	case spki.Algo.Algorithm.Equal(oidEd25519):
		if len(spki.PublicKey.Bytes) != ed25519.PublicKeySize {
			return false
		}
		return ed25519.Verify(ed25519.PublicKey(spki.PublicKey.Bytes), msg, sig)
	case spki.Algo.Algorithm.Equal(oidECPublicKey):
		var curve asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(spki.Algo.Parameters.FullBytes, &curve); err != nil {
			return false
		}
		if len(sig) != 64 {
			return false
		}
		switch {
		case curve.Equal(oidSecp256k1):
			return verifySecp256k1(spki.PublicKey.Bytes, msg, sig)
		case curve.Equal(oidP256):
			pub, err := x509.ParsePKIXPublicKey(pubDER)
			if err != nil {
				return false
			}
			return verifyP256(pub, msg, sig)
		}
	}
	return false
}

func verifySecp256k1(point, msg, sig []byte) bool {
	if len(point) != 65 || point[0] != 0x04 {
		return false
	}
	var pub ecdsa.PublicKey
	if _, err := pub.SetBytes(point[1:]); err != nil {
		return false
	}
	if !pub.A.IsOnCurve() {
		return false
	}
	ok, err := pub.Verify(sig, msg, sha256.New())
	return err == nil && ok
}

func verifyP256(pub any, msg, sig []byte) bool {
	k, ok := pub.(*stdecdsa.PublicKey)
	if !ok {
		return false
	}
	h := sha256.Sum256(msg)
	return stdecdsa.Verify(k, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}
