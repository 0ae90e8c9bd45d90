package icsim

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

// certifiedData is the CMC's certified data (root hash of its rate tree),
// or nil when no rate is set.
func (c *cmcState) certifiedData() []byte { return nil }

var cmcMethods = map[string]method{}
