package entitle

import (
	"bytes"

	"github.com/nodeshare/nodeshare/pipeline/allocation"
)

// The allocate contract's JSON (docs/allocation-rules.md "The nodeshare allocate
// contract") is kept with each pool period, input and output, so an auditor
// can run `nodeshare allocate --in` on the stored input and compare the
// manifest. Both encoders are package allocation's, the contract's owner.

func encodeInput(in allocation.PoolPeriod) ([]byte, error) {
	var b bytes.Buffer
	encode := allocation.EncodePoolPeriodJSON
	if in.Hosters != nil {
		encode = allocation.EncodePoolPeriodJSONV2 // rules v2's document
	}
	if err := encode(&b, in); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func encodeResult(r allocation.PoolResult) ([]byte, error) {
	var b bytes.Buffer
	if err := allocation.EncodeResultJSON(&b, r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// explain is each recipient's statement from allocation's explanation,
// keyed "role:account".
func explain(r allocation.PoolResult) map[string]string {
	out := map[string]string{}
	if !r.HasEngagements() {
		out[RoleHoster+":"+r.Hoster.Account] = allocation.HosterStatement(r)
	}
	for i, s := range r.Shares {
		out[RoleSponsor+":"+s.Sponsor] = allocation.SponsorStatement(r, i)
	}
	return out
}
