package icsim

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"fmt"

	"github.com/aviate-labs/agent-go/certification"
	"github.com/aviate-labs/agent-go/certification/bls"
	"github.com/aviate-labs/agent-go/certification/hashtree"
	"github.com/aviate-labs/agent-go/principal"
	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"
	"github.com/fxamacker/cbor/v2"
)

// keys are the simulator's identity: the BLS root key that signs every
// certificate (no delegation: the simulator is the NNS subnet) and the Ed25519
// key of its only node, which signs query responses.
type keys struct {
	rootSK      *bls.SecretKey
	rootKeyDER  []byte
	nodeSK      ed25519.PrivateKey
	nodeKeyDER  []byte
	nodeID      principal.Principal
	rootSubnet  principal.Principal
	rootSKBytes [32]byte
	nodeSeed    []byte
}

// newKeys generates fresh keys, or restores them from their persisted seeds.
func newKeys(rootSecret []byte, nodeSeed []byte) (*keys, error) {
	var sk fr.Element
	if len(rootSecret) == 0 {
		if _, err := sk.SetRandom(); err != nil {
			return nil, fmt.Errorf("icsim: generate root key: %w", err)
		}
	} else {
		if len(rootSecret) != fr.Bytes {
			return nil, fmt.Errorf("icsim: root key secret must be %d bytes, got %d", fr.Bytes, len(rootSecret))
		}
		if err := sk.SetBytesCanonical(rootSecret); err != nil {
			return nil, fmt.Errorf("icsim: root key secret: %w", err)
		}
	}
	if len(nodeSeed) == 0 {
		nodeSeed = make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(nodeSeed); err != nil {
			return nil, fmt.Errorf("icsim: generate node key: %w", err)
		}
	}
	if len(nodeSeed) != ed25519.SeedSize {
		return nil, fmt.Errorf("icsim: node key seed must be %d bytes, got %d", ed25519.SeedSize, len(nodeSeed))
	}
	k := &keys{rootSK: (*bls.SecretKey)(&sk), rootSKBytes: sk.Bytes()}
	pk := (*bls12381.G2Affine)(k.rootSK.PublicKey()).Bytes()
	der, err := certification.PublicBLSKeyToDER(pk[:])
	if err != nil {
		return nil, fmt.Errorf("icsim: root key DER: %w", err)
	}
	k.rootKeyDER = der
	k.nodeSK = ed25519.NewKeyFromSeed(nodeSeed)
	k.nodeSeed = append([]byte{}, nodeSeed...)
	k.nodeKeyDER, err = x509.MarshalPKIXPublicKey(k.nodeSK.Public())
	if err != nil {
		return nil, fmt.Errorf("icsim: node key DER: %w", err)
	}
	k.nodeID = principal.NewSelfAuthenticating(k.nodeKeyDER)
	k.rootSubnet = principal.MustDecode(certification.RootSubnetID)
	return k, nil
}

// certificate is the CBOR shape of a certificate without delegation.
type certificate struct {
	Tree      cbor.RawMessage `cbor:"tree"`
	Signature []byte          `cbor:"signature"`
}

// signRoot signs a state tree's root digest with the root key and returns
// the 48-byte signature. The message is "\x0Dic-state-root" || digest.
func (k *keys) signRoot(digest [32]byte) ([]byte, error) {
	msg := append(hashtree.DomainSeparator("ic-state-root"), digest[:]...)
	sig, err := k.rootSK.Sign(msg)
	if err != nil {
		return nil, fmt.Errorf("icsim: sign certificate: %w", err)
	}
	sig48 := (*bls12381.G1Affine)(sig).Bytes()
	return sig48[:], nil
}

// encodeCertificate is the CBOR certificate of tree and its root signature.
// tree may be pruned: its digest is what was signed.
func encodeCertificate(tree hashtree.Node, sig []byte) ([]byte, error) {
	raw, err := hashtree.Serialize(tree)
	if err != nil {
		return nil, fmt.Errorf("icsim: serialize tree: %w", err)
	}
	return cbor.Marshal(certificate{Tree: raw, Signature: sig})
}

// certKV is one field of a representation-independent hash.
type certKV = certification.KeyValuePair

// signQueryResponse signs the representation-independent hash of a query
// response with the node key ("\x0Bic-response" || hash).
func (k *keys) signQueryResponse(fields []certification.KeyValuePair) ([]byte, error) {
	h, err := certification.RepresentationIndependentHash(fields)
	if err != nil {
		return nil, err
	}
	msg := append([]byte("\x0Bic-response"), h[:]...)
	return ed25519.Sign(k.nodeSK, msg), nil
}
