package allocation

import (
	"bytes"
	"fmt"
	"io"
)

// RunContract is the `nodeshare allocate` contract end to end: decode one
// pool period from r in the input shape of rules (v1's "hoster", or v2's
// "hosters" with the period bounds), allocate it under rules, and return
// the output document (the JSON result, or with explain the plain-words
// statements). The whole output is built in memory, so a failure returns
// nothing.
func RunContract(r io.Reader, rules string, explain bool) ([]byte, error) {
	if _, err := Lookup(rules); err != nil {
		return nil, err
	}
	decode := DecodePoolPeriodJSON
	if rules == versionV2 {
		decode = DecodePoolPeriodJSONV2
	}
	in, err := decode(r)
	if err != nil {
		return nil, err
	}
	res, err := Allocate(rules, in)
	if err != nil {
		return nil, fmt.Errorf("pool %s period %s: %w", in.PoolID, in.Period, err)
	}
	var buf bytes.Buffer
	if explain {
		err = Explain(&buf, res)
	} else {
		err = EncodeResultJSON(&buf, res)
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
