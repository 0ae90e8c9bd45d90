package lifecycle

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// doc builds a replay input from Go values and lets a case break it at the
// JSON level (a map of the terms, a list of fact maps).
func doc(t *testing.T, facts []Fact, mutate func(terms map[string]any, facts []any)) []byte {
	t.Helper()
	d := inputDoc(baseTerms(), facts)
	if mutate != nil {
		mutate(d["terms"].(map[string]any), d["facts"].([]any))
	}
	return mustJSON(t, d)
}

func fact(facts []any, i int) map[string]any { return facts[i].(map[string]any) }

// TestInvalidInput: every kind of invalid input docs/pool-rules.md lists, each with
// the exact place the error must name. Every case is otherwise valid.
func TestInvalidInput(t *testing.T) {
	funded := fullyFunded()
	proposed := with(fullyFunded(), submitted(day(6), 7))
	adopted := adoptedWithBond()
	active := with(adoptedWithBond(), nodeUp(day(9), "n1"))
	withVote := with(fullyFunded(), opened(day(5), "v1", VoteApproveManifest, day(9), 5000))
	setTerm := func(k string, v any) func(map[string]any, []any) {
		return func(tm map[string]any, _ []any) { tm[k] = v }
	}
	setFact := func(i int, k string, v any) func(map[string]any, []any) {
		return func(_ map[string]any, fs []any) { fact(fs, i)[k] = v }
	}
	num := func(s string) json.Number { return json.Number(s) }
	cases := []struct {
		name  string
		input []byte // when set, used as is
		facts []Fact
		mut   func(map[string]any, []any)
		place string
		msg   string // a substring the message must contain (the value)
	}{
		// the document
		{name: "not JSON", input: []byte(`{"terms":`), place: "input"},
		{name: "trailing data", input: []byte(`{} {}`), place: "input"},
		{name: "invalid UTF-8", input: []byte("{\"terms\":\"\xff\"}"), place: "input"},
		{name: "not an object", input: []byte(`[]`), place: "input"},
		{name: "unknown top-level field", mut: func(tm map[string]any, _ []any) {}, place: "extra"},
		{name: "terms missing", input: []byte(`{"facts":[]}`), place: "terms"},
		{name: "terms not an object", input: []byte(`{"terms":[],"facts":[]}`), place: "terms"},
		{name: "facts missing", mut: nil, place: "facts"},
		{name: "facts not an array", mut: nil, place: "facts"},
		{name: "duplicate top-level key", place: "facts"},
		{name: "duplicate term", place: "terms.target_e8s"},
		{name: "duplicate fact field", facts: funded, place: "facts[2].amount_e8s"},

		// terms
		{name: "unknown term", mut: setTerm("target", 1), place: "terms.target"},
		{name: "term missing", mut: func(tm map[string]any, _ []any) { delete(tm, "lockup_until") }, place: "terms.lockup_until", msg: "required"},
		{name: "pool_id a number", mut: setTerm("pool_id", 7), place: "terms.pool_id"},
		{name: "target 0", mut: setTerm("target_e8s", 0), place: "terms.target_e8s", msg: "must be > 0, got 0"},
		{name: "target negative", mut: setTerm("target_e8s", -5), place: "terms.target_e8s", msg: "got -5"},
		{name: "target a string", mut: setTerm("target_e8s", "100"), place: "terms.target_e8s", msg: `got "100"`},
		{name: "target with a fraction", mut: setTerm("target_e8s", num("100.0")), place: "terms.target_e8s", msg: "got 100.0"},
		{name: "target with an exponent", mut: setTerm("target_e8s", num("1e10")), place: "terms.target_e8s", msg: "got 1e10"},
		{name: "target beyond int64", mut: setTerm("target_e8s", num("9223372036854775808")), place: "terms.target_e8s", msg: "9223372036854775808"},
		{name: "target null", mut: setTerm("target_e8s", nil), place: "terms.target_e8s", msg: "got null"},
		{name: "min negative", mut: setTerm("min_contribution_e8s", -1), place: "terms.min_contribution_e8s", msg: "must be >= 0, got -1"},
		{name: "sponsor bps 0", mut: setTerm("max_sponsor_bps", 0), place: "terms.max_sponsor_bps", msg: "got 0"},
		{name: "sponsor bps 10001", mut: setTerm("max_sponsor_bps", 10001), place: "terms.max_sponsor_bps", msg: "got 10001"},
		{name: "slash bps 10001", mut: setTerm("slash_bps", 10001), place: "terms.slash_bps"},
		{name: "slash bps negative", mut: setTerm("slash_bps", -1), place: "terms.slash_bps"},
		{name: "voting bps 0", mut: setTerm("max_voting_bps", 0), place: "terms.max_voting_bps"},
		{name: "bond negative", mut: setTerm("bond_e8s", -1), place: "terms.bond_e8s"},
		{name: "fee negative", mut: setTerm("ledger_fee_e8s", -1), place: "terms.ledger_fee_e8s"},
		{name: "deadline a date", mut: setTerm("funding_deadline", "2026-03-01"), place: "terms.funding_deadline", msg: `"2026-03-01"`},
		{name: "lockup without offset", mut: setTerm("lockup_until", "2027-03-01T00:00:00"), place: "terms.lockup_until"},
		{name: "deposit account checksum", mut: setTerm("deposit_account", "00000000"+depositAcct[8:]), place: "terms.deposit_account", msg: "checksum"},
		{name: "purchaser uppercase", mut: setTerm("purchaser", strings.ToUpper(whale)), place: "terms.purchaser"},
		{name: "purchaser short", mut: setTerm("purchaser", whale[:10]), place: "terms.purchaser", msg: "10 characters"},
		{name: "bond account = deposit account", mut: setTerm("bond_account", depositAcct), place: "terms.bond_account"},
		{name: "identities not an object", mut: setTerm("identities", []any{}), place: "terms.identities"},
		{name: "identities key not an account", mut: setTerm("identities", map[string]any{"ann": "kyc:ann"}), place: "terms.identities", msg: `"ann"`},
		{name: "identity an account", mut: setTerm("identities", map[string]any{s1: s2}), place: "terms.identities." + s1},
		{name: "identity not a string", mut: setTerm("identities", map[string]any{s1: 5}), place: "terms.identities." + s1},

		// facts: shape
		{name: "fact not an object", facts: funded, mut: func(_ map[string]any, fs []any) { fs[1] = 5 }, place: "facts[1]"},
		{name: "type missing", facts: funded, mut: func(_ map[string]any, fs []any) { delete(fact(fs, 1), "type") }, place: "facts[1].type"},
		{name: "unknown type", facts: funded, mut: setFact(1, "type", "withdraw"), place: "facts[1].type", msg: `"withdraw"`},
		{name: "field of another type", facts: funded, mut: setFact(1, "node_id", "n"), place: "facts[1].node_id"},
		{name: "tick with an amount", facts: []Fact{tick(day(2))}, mut: setFact(0, "amount_e8s", 1), place: "facts[0].amount_e8s"},
		{name: "at missing", facts: funded, mut: func(_ map[string]any, fs []any) { delete(fact(fs, 2), "at") }, place: "facts[2].at"},
		{name: "at not RFC 3339", facts: funded, mut: setFact(2, "at", "yesterday"), place: "facts[2].at", msg: `"yesterday"`},
		{name: "out of time order", facts: []Fact{dep(day(3), 1, s1, icp), dep(day(2), 2, s2, icp)}, place: "facts[1].at"},
		{name: "out of order across offsets", facts: []Fact{dep("2026-01-03T00:30:00+01:00", 1, s1, icp), dep("2026-01-02T23:00:00Z", 2, s2, icp)}, place: "facts[1].at"},

		// deposits
		{name: "block_index missing", facts: funded, mut: func(_ map[string]any, fs []any) { delete(fact(fs, 0), "block_index") }, place: "facts[0].block_index"},
		{name: "block_index negative", facts: funded, mut: setFact(0, "block_index", -1), place: "facts[0].block_index", msg: "must be >= 0, got -1"},
		{name: "block_index beyond u64", facts: funded, mut: setFact(0, "block_index", num("18446744073709551616")), place: "facts[0].block_index"},
		{name: "block_index repeated", facts: []Fact{dep(day(2), 5, s1, icp), dep(day(3), 5, s2, icp)}, place: "facts[1].block_index", msg: "5"},
		{name: "block_index repeated across accounts", facts: []Fact{dep(day(2), 5, s1, icp), bond(day(3), 5, whale, icp)}, place: "facts[1].block_index"},
		{name: "to neither account", facts: []Fact{{Type: FactDeposit, At: tm(day(2)), BlockIndex: 1, To: s3, From: s1, AmountE8s: 1}}, place: "facts[0].to", msg: s3},
		{name: "to not an account", facts: funded, mut: setFact(0, "to", "ledger"), place: "facts[0].to"},
		{name: "from not an account", facts: funded, mut: setFact(0, "from", "alice"), place: "facts[0].from", msg: `"alice"`},
		{name: "amount negative", facts: funded, mut: setFact(2, "amount_e8s", -5), place: "facts[2].amount_e8s", msg: "must be >= 0, got -5"},
		{name: "amount fraction", facts: funded, mut: setFact(2, "amount_e8s", num("1.5")), place: "facts[2].amount_e8s"},
		{name: "amount string", facts: funded, mut: setFact(2, "amount_e8s", "5"), place: "facts[2].amount_e8s"},
		{name: "deposits beyond 2^64-1 in total", facts: []Fact{
			dep(day(2), 1, s1, math.MaxInt64), dep(day(2), 2, s1, math.MaxInt64), dep(day(2), 3, s1, 2),
		}, place: "facts[2].amount_e8s"},

		// facts in a state that does not allow them
		{name: "proposal_submitted while funding", facts: []Fact{submitted(day(2), 1)}, place: "facts[0].type", msg: "funding"},
		{name: "proposal_submitted twice", facts: with(proposed, submitted(day(7), 7)), place: "facts[4].type"},
		{name: "proposal_decided while funded", facts: with(fullyFunded(), decided(day(6), 7, ProposalAdopted)), place: "facts[3].type"},
		{name: "proposal_decided for another id", facts: with(proposed, decided(day(7), 8, ProposalAdopted)), place: "facts[4].proposal_id", msg: "8"},
		{name: "proposal_decided unknown status", facts: with(proposed, decided(day(7), 7, "pending")), place: "facts[4].status", msg: `"pending"`},
		{name: "proposal_decided twice", facts: with(adopted, decided(day(9), 7, ProposalAdopted)), place: "facts[6].type"},
		{name: "node_up while proposed", facts: with(proposed, nodeUp(day(7), "n")), place: "facts[4].type"},
		{name: "node_up while active", facts: with(active, nodeUp(day(10), "n1")), place: "facts[7].type"},
		{name: "node_down while adopted", facts: with(adopted, nodeDown(day(9), "n")), place: "facts[6].type"},
		{name: "node_down another node", facts: with(active, nodeDown(day(10), "n2")), place: "facts[7].node_id", msg: `"n2"`},
		{name: "node_down twice", facts: with(active, nodeDown(day(10), "n1"), nodeDown(day(11), "n1")), place: "facts[8].type"},
		{name: "deposit after expiry is fine, proposal not", facts: []Fact{dep(day(2), 1, s1, icp), submitted("2026-03-02T00:00:00Z", 1)}, place: "facts[1].type", msg: "expired"},

		// votes
		{name: "vote_opened while funding", facts: []Fact{opened(day(2), "v", VoteApproveManifest, day(3), 1)}, place: "facts[0].type"},
		{name: "vote_opened after retirement", facts: with(active, nodeDown(day(10), "n1"), opened(day(11), "v", VoteApproveManifest, day(12), 1)), place: "facts[8].type"},
		{name: "vote_opened after rejection", facts: with(proposed, decided(day(7), 7, ProposalRejected), opened(day(8), "v", VoteApproveManifest, day(12), 1)), place: "facts[5].type"},
		{name: "vote kind unknown", facts: with(fullyFunded(), opened(day(5), "v", "fire_everyone", day(9), 1)), place: "facts[3].kind", msg: `"fire_everyone"`},
		{name: "vote threshold 0", facts: with(fullyFunded(), opened(day(5), "v", VoteApproveManifest, day(9), 0)), place: "facts[3].threshold_bps"},
		{name: "vote threshold 10001", place: "facts[3].threshold_bps"}, // built below
		{name: "vote_id repeated", facts: with(withVote, opened(day(6), "v1", VoteApproveManifest, day(9), 1)), place: "facts[4].vote_id"},
		{name: "vote subject missing", facts: withVote, mut: func(_ map[string]any, fs []any) { delete(fact(fs, 3), "subject") }, place: "facts[3].subject"},
		{name: "ballot for an unknown vote", facts: with(withVote, ballot(day(6), "v2", s1, ChoiceYes)), place: "facts[4].vote_id", msg: `"v2"`},
		{name: "ballot after closes_at", facts: with(withVote, ballot("2026-01-09T00:00:00.001Z", "v1", s1, ChoiceYes)), place: "facts[4].at"},
		{name: "ballot from a voter without weight", facts: with(withVote, ballot(day(6), "v1", s3, ChoiceYes)), place: "facts[4].voter"},
		{name: "ballot voter not an account", facts: with(withVote, ballot(day(6), "v1", "ann", ChoiceYes)), place: "facts[4].voter"},
		{name: "ballot choice unknown", facts: with(withVote, ballot(day(6), "v1", s1, "maybe")), place: "facts[4].choice", msg: `"maybe"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			input := c.input
			switch c.name {
			case "unknown top-level field":
				d := inputDoc(baseTerms(), nil)
				d["extra"] = 1
				input = mustJSON(t, d)
			case "facts missing":
				input = []byte(`{"terms":` + string(mustJSON(t, inputDoc(baseTerms(), nil)["terms"])) + `}`)
			case "facts not an array":
				input = []byte(`{"terms":` + string(mustJSON(t, inputDoc(baseTerms(), nil)["terms"])) + `,"facts":{}}`)
			case "duplicate top-level key":
				input = []byte(`{"terms":` + string(mustJSON(t, inputDoc(baseTerms(), nil)["terms"])) + `,"facts":[],"facts":[]}`)
			case "duplicate term":
				input = []byte(strings.Replace(string(doc(t, nil, nil)), `"target_e8s":`, `"target_e8s":1,"target_e8s":`, 1))
			case "duplicate fact field":
				d := string(doc(t, c.facts, nil))
				i := strings.Index(d, `"amount_e8s":3000000000`) // facts[2]: s2's 30 ICP
				input = []byte(d[:i] + `"amount_e8s":1,` + d[i:])
			case "vote threshold 10001":
				f := opened(day(5), "v", VoteApproveManifest, day(9), 1)
				input = doc(t, with(fullyFunded(), f), setFact(3, "threshold_bps", 10001))
				c.place = "facts[3].threshold_bps"
			}
			if input == nil {
				input = doc(t, c.facts, c.mut)
			}
			_, err := Replay(input)
			if err == nil {
				t.Fatalf("accepted:\n%s", input)
			}
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("not ErrInvalidInput: %v", err)
			}
			t.Log(err)
			if got := place(err); got != c.place {
				t.Fatalf("place %q, want %q (error: %v)", got, c.place, err)
			}
			if !strings.HasPrefix(err.Error(), c.place+": ") {
				t.Fatalf("the message does not start with the place: %v", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q lacks %q", err, c.msg)
			}
			out, err2 := ReplayJSON(strings.NewReader(string(input)))
			if out != nil || err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("ReplayJSON: %q, %v", out, err2)
			}
		})
	}
}

func TestErrorMessageShape(t *testing.T) {
	input := doc(t, []Fact{dep(day(2), 1, s1, icp), dep(day(3), 2, s2, icp), dep(day(4), 3, s3, icp), dep(day(5), 4, s4, icp)},
		func(_ map[string]any, fs []any) { fact(fs, 3)["amount_e8s"] = -5 })
	_, err := Replay(input)
	if err == nil || err.Error() != "facts[3].amount_e8s: must be >= 0, got -5" {
		t.Fatalf("got %v", err)
	}
	terms := baseTerms()
	terms.TargetE8s = 0
	if _, err := New(terms); err == nil || err.Error() != "terms.target_e8s: must be > 0, got 0" {
		t.Fatalf("got %v", err)
	}
}

// TestGoCallerGetsTheSameErrors: Apply validates what the decoder cannot
// see for a Go caller (a negative amount, a zero time, an unknown type).
func TestGoCallerGetsTheSameErrors(t *testing.T) {
	cases := []struct {
		f     Fact
		place string
	}{
		{dep(day(2), 1, s1, -5), "facts[0].amount_e8s"},
		{Fact{Type: FactTick}, "facts[0].at"},
		{Fact{Type: "withdraw", At: tm(day(2))}, "facts[0].type"},
		{Fact{Type: FactDeposit, At: tm(day(2)), To: depositAcct, From: "x"}, "facts[0].from"},
	}
	for _, c := range cases {
		if got := place(applyErr(baseTerms(), c.f)); got != c.place {
			t.Errorf("%+v: place %q, want %q", c.f, got, c.place)
		}
	}
	bad := baseTerms()
	bad.FundingDeadline = Time{}
	if got := place(applyErr(bad)); got != "terms.funding_deadline" {
		t.Errorf("zero deadline: %q", got)
	}
	// Ids may be empty, but not invalid UTF-8 (the output is UTF-8 JSON).
	bad = baseTerms()
	bad.PoolID = "pool-\xff"
	if got := place(applyErr(bad)); got != "terms.pool_id" {
		t.Errorf("pool_id not UTF-8: %q", got)
	}
	if got := place(applyErr(baseTerms(), with(adoptedWithBond(), nodeUp(day(9), "n\xff"))...)); got != "facts[6].node_id" {
		t.Errorf("node_id not UTF-8: %q", got)
	}
}

func TestUnpairedSurrogateRejected(t *testing.T) {
	for _, s := range []string{`"\ud800"`, `"\udc00"`, `"a\ud800\u0041"`, `"\ud83d"`} {
		if _, err := Replay([]byte(`{"terms":{"pool_id":` + s + `},"facts":[]}`)); place(err) != "input" {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{`"\ud83d\ude00"`, `"\\ud800"`, `"\"\u0041"`} {
		if _, err := Replay([]byte(`{"terms":{"pool_id":` + s + `},"facts":[]}`)); place(err) != "terms.deposit_account" {
			t.Errorf("%s: %v", s, err)
		}
	}
}
