package sanity

import (
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/schemas"
)

func kinds(hs []Hold) string {
	var ks []string
	for _, h := range hs {
		ks = append(ks, string(h.Kind))
	}
	return strings.Join(ks, ",")
}

func TestCheck(t *testing.T) {
	prev := schemas.NodeReward{NodeProvider: "np", AmountE8s: 1_000_000_000, XDRPermyriadPerICP: 35_000, RewardAccount: "treasury"}
	base := func() Input {
		r := prev
		r.AmountE8s = 1_200_000_000
		return Input{Reward: r, Previous: &prev, Avg30: 35_000, Treasuries: []string{"treasury", "treasury-id"}, Providers: []string{"np"}}
	}
	cases := []struct {
		name string
		edit func(*Input)
		want string
	}{
		{"within bounds", func(in *Input) {}, ""},
		{"first period: nothing to compare", func(in *Input) { in.Previous, in.Avg30 = nil, 0; in.Reward.AmountE8s = 99 * prev.AmountE8s }, ""},
		{"exactly at the bound is allowed", func(in *Input) { in.Reward.AmountE8s = 1_500_000_000 }, ""},
		{"one e8s past the bound", func(in *Input) { in.Reward.AmountE8s = 1_500_000_001 }, "reward_jump"},
		{"a drop counts too", func(in *Input) { in.Reward.AmountE8s = 400_000_000 }, "reward_jump"},
		{"rate off the average", func(in *Input) { in.Reward.XDRPermyriadPerICP = 42_001 }, "rate_deviation"},
		{"minted elsewhere", func(in *Input) { in.Reward.RewardAccount = "someone-else" }, "foreign_reward_account"},
		{"the treasury's other form", func(in *Input) { in.Reward.RewardAccount = "treasury-id" }, ""},
		{"a node provider the DAO does not run", func(in *Input) { in.Reward.NodeProvider = "other" }, "unknown_node_provider"},
		{"everything at once, in a fixed order", func(in *Input) {
			in.Reward.AmountE8s, in.Reward.XDRPermyriadPerICP, in.Reward.RewardAccount, in.Reward.NodeProvider = 1, 1, "x", "y"
		}, "reward_jump,rate_deviation,foreign_reward_account,unknown_node_provider"},
	}
	for _, c := range cases {
		in := base()
		c.edit(&in)
		if got := kinds(Check(in, Bounds{})); got != c.want {
			t.Errorf("%s: holds %q, want %q", c.name, got, c.want)
		}
	}
	a, b := Check(Input{Reward: schemas.NodeReward{RewardAccount: "x"}, Treasuries: []string{"t"}}, Bounds{}), Check(Input{Reward: schemas.NodeReward{RewardAccount: "y"}, Treasuries: []string{"t"}}, Bounds{})
	if SHA256(a) == SHA256(b) || SHA256(a) != SHA256(Check(Input{Reward: schemas.NodeReward{RewardAccount: "x"}, Treasuries: []string{"t"}}, Bounds{})) {
		t.Fatal("the holds' hash does not tell other holds apart, or is not stable")
	}
}
