package ic

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aviate-labs/agent-go/candid"
	"github.com/aviate-labs/agent-go/certification"
	"github.com/aviate-labs/agent-go/certification/hashtree"
	"github.com/aviate-labs/agent-go/leb128"
	"github.com/fxamacker/cbor/v2"
)

// ICPXDRRate is the CMC's IcpXdrConversionRate, verified against the CMC's
// certified data.
type ICPXDRRate struct {
	TimestampSeconds   uint64
	XDRPermyriadPerICP uint64
	// CertTimeNanos is the /time of the certificate that vouched for the
	// rate (provenance; not part of the fact).
	CertTimeNanos uint64
}

type cmcRate struct {
	TimestampSeconds   uint64 `ic:"timestamp_seconds"`
	XDRPermyriadPerICP uint64 `ic:"xdr_permyriad_per_icp"`
}

type cmcRateResponse struct {
	Data        cmcRate `ic:"data"`
	HashTree    []byte  `ic:"hash_tree"`
	Certificate []byte  `ic:"certificate"`
}

// ICPXDRRate reads get_icp_xdr_conversion_rate (the latest rate).
func (c *Client) ICPXDRRate(ctx context.Context) (ICPXDRRate, error) {
	return c.cmcRate(ctx, "get_icp_xdr_conversion_rate", "ICP_XDR_CONVERSION_RATE")
}

// AverageICPXDRRate reads get_average_icp_xdr_conversion_rate, the 30-day
// average Governance uses for node-provider rewards.
func (c *Client) AverageICPXDRRate(ctx context.Context) (ICPXDRRate, error) {
	return c.cmcRate(ctx, "get_average_icp_xdr_conversion_rate", "AVERAGE_ICP_XDR_CONVERSION_RATE")
}

// cmcRate verifies the reply per docs/ic-interfaces.md §3: certificate signed by
// the root key and fresh, its canister/<cmc>/certified_data equal to the
// witness root, and the witness leaf equal to the returned data.
func (c *Client) cmcRate(ctx context.Context, method, label string) (ICPXDRRate, error) {
	var res cmcRateResponse
	if err := c.query(ctx, CMCCanisterID, method, []any{}, []any{&res}); err != nil {
		return ICPXDRRate{}, err
	}
	unverified := func(err error) error {
		c.certificateFailed("cmc_rate")
		return &Error{Op: method, Err: fmt.Errorf("%w: %v", ErrUnverified, err)}
	}
	if len(res.Certificate) == 0 {
		return ICPXDRRate{}, unverified(fmt.Errorf("reply carries no certificate"))
	}
	var cert certification.Certificate
	if err := cbor.Unmarshal(res.Certificate, &cert); err != nil {
		return ICPXDRRate{}, unverified(fmt.Errorf("decode certificate: %w", err))
	}
	witness, err := hashtree.Deserialize(res.HashTree)
	if err != nil {
		return ICPXDRRate{}, unverified(fmt.Errorf("decode hash_tree: %w", err))
	}
	digest := witness.Reconstruct()
	if err := certification.VerifyCertifiedData(cert, CMCCanisterID, c.agent.GetRootKey(), digest[:]); err != nil {
		return ICPXDRRate{}, unverified(err)
	}
	if err := cert.VerifyTime(c.cfg.IngressExpiry); err != nil {
		return ICPXDRRate{}, unverified(err)
	}
	leaf, err := hashtree.Lookup(witness, hashtree.Label(label))
	if err != nil {
		return ICPXDRRate{}, unverified(fmt.Errorf("witness has no %s: %w", label, err))
	}
	var certified cmcRate
	if err := candid.Unmarshal(leaf, []any{&certified}); err != nil {
		return ICPXDRRate{}, unverified(fmt.Errorf("decode certified %s: %w", label, err))
	}
	if certified != res.Data {
		return ICPXDRRate{}, unverified(fmt.Errorf("returned data %+v differs from the certified %+v", res.Data, certified))
	}
	return ICPXDRRate{TimestampSeconds: res.Data.TimestampSeconds, XDRPermyriadPerICP: res.Data.XDRPermyriadPerICP, CertTimeNanos: certTime(cert)}, nil
}

// certTime is the certificate's /time in ns (0 if absent; VerifyTime has
// already required it where it matters).
func certTime(cert certification.Certificate) uint64 {
	raw, err := cert.Tree.Lookup(hashtree.Label("time"))
	if err != nil {
		return 0
	}
	t, err := leb128.DecodeUnsigned(bytes.NewReader(raw))
	if err != nil || !t.IsUint64() {
		return 0
	}
	return t.Uint64()
}
