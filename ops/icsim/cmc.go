package icsim

import (
	"fmt"

	"github.com/aviate-labs/agent-go/certification/hashtree"
)

// CMC certified-data labels (docs/ic-interfaces.md §3), in byte order.
const (
	labelAverageRate = "AVERAGE_ICP_XDR_CONVERSION_RATE"
	labelRate        = "ICP_XDR_CONVERSION_RATE"
)

// cmcState holds the ICP/XDR rates the simulated CMC serves.
type cmcState struct {
	Rate    *ConversionRate `json:"rate,omitempty"`
	Average *ConversionRate `json:"average,omitempty"`
}

// ConversionRate is the CMC's IcpXdrConversionRate.
type ConversionRate struct {
	TimestampSeconds   uint64 `json:"timestamp_seconds"`
	XDRPermyriadPerICP uint64 `json:"xdr_permyriad_per_icp"`
}

func newCMCState() *cmcState { return &cmcState{} }

type candidIcpXdrConversionRate struct {
	TimestampSeconds   uint64 `ic:"timestamp_seconds"`
	XDRPermyriadPerICP uint64 `ic:"xdr_permyriad_per_icp"`
}

type candidIcpXdrConversionRateResponse struct {
	Data        candidIcpXdrConversionRate `ic:"data"`
	HashTree    []byte                     `ic:"hash_tree"`
	Certificate []byte                     `ic:"certificate"`
}

func (r ConversionRate) candid() candidIcpXdrConversionRate {
	return candidIcpXdrConversionRate{TimestampSeconds: r.TimestampSeconds, XDRPermyriadPerICP: r.XDRPermyriadPerICP}
}

// leaves are the certified labels and their Candid-encoded leaves, sorted.
func (c *cmcState) leaves() ([][2][]byte, error) {
	var out [][2][]byte
	for _, e := range []struct {
		label string
		rate  *ConversionRate
	}{{labelAverageRate, c.Average}, {labelRate, c.Rate}} {
		if e.rate == nil {
			continue
		}
		b, err := encode(e.rate.candid())
		if err != nil {
			return nil, err
		}
		out = append(out, [2][]byte{[]byte(e.label), b})
	}
	return out, nil
}

// witness is the hash tree with every label but keep pruned.
func (c *cmcState) witness(keep string) (hashtree.Node, error) {
	leaves, err := c.leaves()
	if err != nil {
		return nil, err
	}
	nodes := make([]hashtree.Node, len(leaves))
	for i, l := range leaves {
		n := hashtree.Labeled{Label: append([]byte{}, l[0]...), Tree: hashtree.Leaf(l[1])}
		if keep != "" && string(l[0]) != keep {
			nodes[i] = hashtree.Pruned(n.Reconstruct())
		} else {
			nodes[i] = n
		}
	}
	return forks(nodes), nil
}

// certifiedData is the CMC's certified data (root hash of the rate tree),
// or nil when no rate is set.
func (c *cmcState) certifiedData() []byte {
	if c.Rate == nil && c.Average == nil {
		return nil
	}
	n, err := c.witness("")
	if err != nil {
		return nil
	}
	d := n.Reconstruct()
	return d[:]
}

var cmcMethods = map[string]method{
	"get_icp_xdr_conversion_rate":         {query: true, fn: cmcRate(labelRate)},
	"get_average_icp_xdr_conversion_rate": {query: true, fn: cmcRate(labelAverageRate)},
}

// cmcRate answers with the rate, its witness, and — in a non-replicated
// query only, like the real CMC — a certificate covering
// canister/<cmc>/certified_data.
func cmcRate(label string) func(*Server, callContext, []byte) ([]byte, error) {
	return func(s *Server, c callContext, _ []byte) ([]byte, error) {
		rate := s.cmc.Rate
		if label == labelAverageRate {
			rate = s.cmc.Average
		}
		if rate == nil {
			return nil, trap("%s is not set", label)
		}
		w, err := s.cmc.witness(label)
		if err != nil {
			return nil, err
		}
		tree, err := hashtree.Serialize(w)
		if err != nil {
			return nil, fmt.Errorf("serialize witness: %w", err)
		}
		resp := candidIcpXdrConversionRateResponse{Data: rate.candid(), HashTree: tree, Certificate: []byte{}}
		if c.query {
			t := newStateTree()
			s.addCanister(t, cmcID)
			cert, err := s.certify(t)
			if err != nil {
				return nil, err
			}
			resp.Certificate = cert
		}
		return encode(resp)
	}
}
