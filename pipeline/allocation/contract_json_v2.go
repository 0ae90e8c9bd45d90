package allocation

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// This file is the JSON of `nodeshare allocate --rules v2`
// (docs/allocation-rules.md "Version v2"): v1's document with "hoster"
// replaced by "hosters" and two more fields, "period_start" and
// "period_end". The strictness is v1's (contract_json.go), and so are the
// helpers; a v1 "hoster" in a v2 document is an unknown field, as
// "hosters" is in a v1 document.

type wirePeriodV2 struct {
	wireCommon
	PeriodStart json.RawMessage `json:"period_start"`
	PeriodEnd   json.RawMessage `json:"period_end"`
	Hosters     json.RawMessage `json:"hosters"`
}

type wireEngagement struct {
	Account           json.RawMessage `json:"account"`
	FixedXDRPermyriad json.RawMessage `json:"fixed_xdr_permyriad"`
	Bps               json.RawMessage `json:"bps"`
	From              json.RawMessage `json:"from"`
	To                json.RawMessage `json:"to"`
	CarryInE8s        json.RawMessage `json:"carry_in_e8s"`
}

// DecodePoolPeriodJSONV2 reads one rules-v2 allocate input document as
// strictly as DecodePoolPeriodJSON reads v1's. Required: every field of v1's
// document except "hoster", plus "hosters" (an array, [] when no hoster was
// engaged), "period_start" and "period_end"; optional as in v1: carry_in,
// proposal, and each engagement's carry_in_e8s (default 0). An engagement's
// errors name it as the input does: `hosters[1].to must be greater than
// from (200), got 100`. It runs every check Allocate("v2", ...) runs before
// computing (bounds, disjoint engagements), so a decoded input allocates
// unless its contributions or carries are wrong.
func DecodePoolPeriodJSONV2(r io.Reader) (PoolPeriod, error) {
	data, err := readInput(r)
	if err != nil {
		return PoolPeriod{}, err
	}
	return decodePoolPeriodV2(data)
}

func decodePoolPeriodV2(data []byte) (PoolPeriod, error) {
	if err := checkDocument(data); err != nil {
		return PoolPeriod{}, err
	}
	var w wirePeriodV2
	if err := strictUnmarshal(data, "", &w); err != nil {
		var ie *InputError
		if errors.As(err, &ie) && ie.Path == "" && ie.Field == "hoster" {
			ie.Msg += `; rules v2 takes "hosters", a list of engagements`
		}
		return PoolPeriod{}, err
	}
	var in PoolPeriod
	if err := decodeCommon(&w.wireCommon, &in, func() (err error) {
		if in.PeriodStartUnixSeconds, err = reqInt(w.PeriodStart, "", "period_start"); err != nil {
			return err
		}
		in.PeriodEndUnixSeconds, err = reqInt(w.PeriodEnd, "", "period_end")
		return err
	}, func() (err error) {
		in.Hosters, err = decodeHosters(w.Hosters)
		return err
	}); err != nil {
		return PoolPeriod{}, err
	}
	if _, err := validateV2(in); err != nil {
		return PoolPeriod{}, err
	}
	return in, nil
}

// decodeHosters reads the engagements. It always returns a non-nil slice,
// so a decoded v2 input is never mistaken for a v1 one.
func decodeHosters(raw json.RawMessage) ([]HosterEngagement, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return nil, inputErr("", "hosters", "is required (a list of engagements, [] when no hoster was engaged)")
	}
	var items []json.RawMessage
	if t[0] != '[' || json.Unmarshal(t, &items) != nil {
		return nil, inputErr("", "hosters", "must be an array of engagements, got %s", snippet(t))
	}
	out := make([]HosterEngagement, len(items))
	for i, item := range items {
		path := "hosters[" + strconv.Itoa(i) + "]"
		if err := reqObject(item, "", path); err != nil {
			return nil, err
		}
		var w wireEngagement
		if err := strictUnmarshal(item, path, &w); err != nil {
			// strictUnmarshal says "hosters[1]: vat"; say "hosters[1].vat".
			var ie *InputError
			if errors.As(err, &ie) && ie.Path != "" {
				ie.Field, ie.Path = ie.Path+"."+ie.Field, ""
			}
			return nil, err
		}
		e := &out[i]
		var err error
		var v int64
		if e.Account, err = reqString(w.Account, "", path+".account"); err != nil {
			return nil, err
		}
		if v, err = reqInt(w.FixedXDRPermyriad, "", path+".fixed_xdr_permyriad"); err != nil {
			return nil, err
		}
		e.FixedXDRPermyriad = money.XDRPermyriad(v)
		if v, err = reqInt(w.Bps, "", path+".bps"); err != nil {
			return nil, err
		}
		e.FeeBps = money.Bps(v)
		if e.FromUnixSeconds, err = reqInt(w.From, "", path+".from"); err != nil {
			return nil, err
		}
		if e.ToUnixSeconds, err = reqInt(w.To, "", path+".to"); err != nil {
			return nil, err
		}
		if w.CarryInE8s != nil {
			if v, err = reqInt(w.CarryInE8s, "", path+".carry_in_e8s"); err != nil {
				return nil, err
			}
			e.CarryInE8s = money.E8s(v)
		}
	}
	return out, nil
}

// outputHosters writes the "hosters" member of a v2 output: per engagement,
// in order of from, exactly the contract's fields.
func (e *enc) outputHosters(hs []EngagementPayout) {
	e.raw(",\n  \"hosters\": [")
	for j := range hs {
		h := &hs[j]
		if j > 0 {
			e.raw(",")
		}
		e.raw("\n    {\"account\": ")
		e.str(h.Account)
		e.raw(", \"overlap_seconds\": ")
		e.int(h.OverlapSeconds)
		e.raw(", \"owed_e8s\": ")
		e.e8s(h.OwedE8s)
		e.raw(", \"transfer_e8s\": ")
		e.e8s(h.TransferE8s)
		e.raw(", \"fee_e8s\": ")
		e.e8s(h.FeeE8s)
		e.raw(", \"carry_out_e8s\": ")
		e.e8s(h.CarryOutE8s)
		e.raw("}")
	}
	if len(hs) > 0 {
		e.raw("\n  ")
	}
	e.raw("]")
}

// EncodePoolPeriodJSONV2 writes in as a rules-v2 allocate input document,
// the inverse of DecodePoolPeriodJSONV2. Contributions and engagements are
// written in the order given; carry_in keys sorted.
func EncodePoolPeriodJSONV2(w io.Writer, in PoolPeriod) error {
	b := bufio.NewWriterSize(w, 64<<10)
	e := &enc{w: b}
	e.raw("{\n  \"pool_id\": ")
	e.str(in.PoolID)
	e.raw(", \"period\": ")
	e.str(in.Period)
	e.raw(",\n  \"period_start\": ")
	e.int(in.PeriodStartUnixSeconds)
	e.raw(", \"period_end\": ")
	e.int(in.PeriodEndUnixSeconds)
	e.raw(",\n  \"gross_e8s\": ")
	e.e8s(in.GrossE8s)
	e.raw(", \"xdr_permyriad_per_icp\": ")
	e.int(int64(in.RateXDRPermyriadPerICP))
	e.raw(",\n  \"hosters\": [")
	for i := range in.Hosters {
		h := &in.Hosters[i]
		if i > 0 {
			e.raw(",")
		}
		e.raw("\n    {\"account\": ")
		e.str(h.Account)
		e.raw(", \"fixed_xdr_permyriad\": ")
		e.int(int64(h.FixedXDRPermyriad))
		e.raw(", \"bps\": ")
		e.int(int64(h.FeeBps))
		e.raw(", \"from\": ")
		e.int(h.FromUnixSeconds)
		e.raw(", \"to\": ")
		e.int(h.ToUnixSeconds)
		e.raw(", \"carry_in_e8s\": ")
		e.e8s(h.CarryInE8s)
		e.raw("}")
	}
	if len(in.Hosters) > 0 {
		e.raw("\n  ")
	}
	e.raw("],\n  \"dao_fee_bps\": ")
	e.int(int64(in.DAOFeeBps))
	e.raw(", \"whale_premium_bps\": ")
	e.int(int64(in.WhalePremiumBps))
	e.raw(",\n  \"ledger_fee_e8s\": ")
	e.e8s(in.LedgerFeeE8s)
	e.raw(", \"min_payout_e8s\": ")
	e.e8s(in.MinPayoutE8s)
	e.inputTail(&in)
	e.raw("\n}\n")
	if e.err != nil {
		return e.err
	}
	return b.Flush()
}
