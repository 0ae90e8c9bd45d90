package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/entitle"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/pools"
	"github.com/nodeshare/nodeshare/schemas"
)

// Approver is the name of the demo's one approver (threshold 1,
// docs/payouts.md): its key is a PEM identity the demo keeps in its local
// folder, and it signs every manifest the demo plans. Production
// configures its own set.
const Approver = "demo"

// Approval is the demo's approver set: Approver with the public key of its
// identity, threshold 1.
func Approval(publicKeyDER []byte) rules.Approval {
	return rules.Approval{Approvers: []rules.Approver{{Name: Approver, PublicKeyDER: publicKeyDER}}, Threshold: 1}
}

// Wallets are the sponsors' own keys on the ledger: each name holds one.
type Wallets interface {
	// AccountID is the account identifier (64 hex) of name's wallet.
	AccountID(name string) (string, error)
	// Fund mints e8s to name's wallet: ICP the sponsor brings.
	Fund(ctx context.Context, name string, e8s int64) error
	// Send is name's own transfer of e8s to an account: icrc1_transfer to
	// its ICRC-1 text, or the legacy transfer to its account identifier
	// when legacy is set.
	Send(ctx context.Context, name string, to schemas.Account, e8s int64, legacy bool) error
}

// NNS is what the Internet Computer does that nodeshare only watches, as
// the IC simulator plays it: time passing, proposals and their outcome,
// nodes joining the node rewards data.
type NNS interface {
	Time(ctx context.Context) (time.Time, error)
	Advance(ctx context.Context, d time.Duration) error
	SubmitProposal(ctx context.Context, title string, at time.Time) (uint64, error)
	ExecuteProposal(ctx context.Context, id uint64, at time.Time) error
	NodeJoins(ctx context.Context, nodeProvider, nodeID string, fromDay time.Time) error
}

// Ports are what the demo drives: the event log, the sponsors' wallets,
// the NNS, the NNS minting a reward to the DAO, the connector (one poll),
// the processors and the sink (each run until it has consumed everything
// on its topics), and the payout engines: Engine(pool, source) signs from
// a pool's deposit or bond account, Engine("", "") from the treasury.
type Ports struct {
	Log      pools.Log
	Wallets  Wallets
	NNS      NNS
	Mint     func(ctx context.Context, account string, e8s int64) error
	Connect  func(ctx context.Context) error
	Process  func(ctx context.Context) error
	Engine   func(pool, source string) (*payout.Engine, error)
	Treasury string // the treasury principal (the Vault transit key's)
	// Approver signs the demo approver's approvals.
	Approver payout.ApprovalSigner
}

// Result is what one demo run did.
type Result struct {
	DAO, Period, Treasury string
	// Deposited counts the sponsors' transfers this run sent (0 on a
	// second run).
	Deposited int
	// Minted: this run saw the reward first and minted it.
	Minted bool
	// Lifecycle are the pools' lifecycle manifests paid (settlements,
	// refunds), Payout the reward's.
	Lifecycle []payout.Summary
	Payout    payout.Summary
}

var simulated = schemas.Provenance{Source: "demo", Canister: "rrkah-fqaaa-aaaaa-aaaaq-cai" /* NNS governance */, Method: "get_most_recent_monthly_node_provider_rewards (simulated)"}

// Run is the whole demo, each step done once however often it runs: the
// pools are created with their terms, the sponsors send their ICP to the
// deposit accounts from their own wallets and the purchaser posts the
// bonds; the connector publishes the blocks and the lifecycle processor
// funds the pools; the DAO proposes each node, the NNS adopts it and the
// node joins the node rewards data two days later; the pools settle (the
// purchaser is paid the stake) and become active; one NNS reward is minted
// and allocated by the stakes from the ledger, and paid.
func Run(ctx context.Context, p Ports, dao string, log *slog.Logger) (Result, error) {
	out := Result{DAO: dao, Treasury: p.Treasury}
	now, err := p.NNS.Time(ctx)
	if err != nil {
		return out, err
	}
	purchaser, err := p.Wallets.AccountID("hardware-vendor")
	if err != nil {
		return out, err
	}
	sc := Build(dao, now, purchaser)
	// The pools: created once; a second run keeps the first run's terms.
	accounts := map[string]pools.Pool{}
	for _, pl := range sc.Pools {
		got, found, err := pools.Show(ctx, p.Log, dao, pl.PoolID)
		if err != nil {
			return out, err
		}
		if !found {
			if got, _, err = pools.Create(ctx, p.Log, pl, p.Treasury); err != nil {
				return out, err
			}
		}
		accounts[pl.PoolID] = got
	}
	if err := p.Connect(ctx); err != nil {
		return out, err
	}
	if out.Deposited, err = fund(ctx, p, sc, accounts); err != nil {
		return out, err
	}
	if err := p.Connect(ctx); err != nil {
		return out, err
	}
	if err := p.Process(ctx); err != nil {
		return out, err
	}
	// The NNS: each funded pool is proposed and adopted, its node joins.
	states, err := poolStates(ctx, p.Log, dao)
	if err != nil {
		return out, err
	}
	waiting := false
	if now, err = p.NNS.Time(ctx); err != nil {
		return out, err
	}
	for _, pl := range sc.Pools {
		st := states[pl.PoolID]
		switch st.State {
		case "funded":
			// A second after the funding deposit, in whole seconds as
			// Governance keeps time.
			at := now.Add(time.Second).Truncate(time.Second)
			id, err := p.NNS.SubmitProposal(ctx, "Add node "+pl.Nodes[0].NodeID+" ("+dao+"/"+pl.PoolID+")", at)
			if err != nil {
				return out, err
			}
			if _, _, err := pools.Propose(ctx, p.Log, dao, pl.PoolID, id, at.Format(time.RFC3339), at); err != nil {
				return out, err
			}
			if err := p.NNS.ExecuteProposal(ctx, id, at.Add(time.Minute)); err != nil {
				return out, err
			}
			if err := p.NNS.NodeJoins(ctx, sc.NodeProvider, pl.Nodes[0].NodeID, now.Add(24*time.Hour)); err != nil {
				return out, err
			}
			waiting = true
		case "proposed", "adopted":
			waiting = true // a run stopped half way: time passes again
		case "active":
		default:
			return out, fmt.Errorf("demo %s: pool %s is %q after funding, want funded (is the stack's simulator the one the pools were funded on?)", dao, pl.PoolID, st.State)
		}
	}
	if waiting {
		// The node's first whole day is in the node rewards data two days
		// on: the connector sees the decision and the node, and the
		// lifecycle settles each pool.
		if err := p.NNS.Advance(ctx, 49*time.Hour); err != nil {
			return out, err
		}
		if err := p.Connect(ctx); err != nil {
			return out, err
		}
		if err := p.Process(ctx); err != nil {
			return out, err
		}
		if states, err = poolStates(ctx, p.Log, dao); err != nil {
			return out, err
		}
	}
	var settled time.Time
	for _, pl := range sc.Pools {
		st := states[pl.PoolID]
		if st.State != "active" {
			return out, fmt.Errorf("demo %s: pool %s is %q, want active once its node is up", dao, pl.PoolID, st.State)
		}
		at, err := time.Parse(time.RFC3339Nano, st.SettledAt)
		if err != nil {
			return out, fmt.Errorf("demo %s: pool %s settled_at %q: %w", dao, pl.PoolID, st.SettledAt, err)
		}
		if at.After(settled) {
			settled = at
		}
		sums, err := payPool(ctx, p, dao, pl.PoolID, log)
		if err != nil {
			return out, err
		}
		out.Lifecycle = append(out.Lifecycle, sums...)
	}

	// One NNS reward, an hour after the last settlement.
	reward := rewardOf(sc, settled.Add(time.Hour).Truncate(time.Hour), p.Treasury)
	out.Period = entitle.PeriodOf(reward.TimestampSeconds)
	f, err := schemas.NewFact(schemas.TopicNodeRewards, schemas.TypeNodeReward, entitle.RewardEventID(reward), simulated, reward)
	if err != nil {
		return out, err
	}
	st, err := p.Log.PublishOnce(ctx, []schemas.Fact{f})
	if err != nil {
		return out, err
	}
	if st.Published == 1 {
		// The NNS mints the reward to the DAO's account once, when the
		// reward is first seen.
		if err := p.Mint(ctx, reward.RewardAccount, reward.AmountE8s); err != nil {
			return out, err
		}
		out.Minted = true
	}
	if err := p.Process(ctx); err != nil {
		return out, err
	}
	eng, err := p.Engine("", "")
	if err != nil {
		return out, err
	}
	m, _, err := eng.Plan(ctx, dao, out.Period, true)
	if err != nil {
		return out, err
	}
	if _, _, err := eng.Approve(ctx, dao, out.Period, m.SHA256, Approver, p.Approver); err != nil {
		return out, err
	}
	if out.Payout, err = eng.Run(ctx, dao, out.Period, payout.RunOptions{ExpectSHA256: m.SHA256}); err != nil {
		return out, err
	}
	// The payouts' blocks read back (and everything into the audit trail),
	// so finance can reconcile them.
	if err := p.Connect(ctx); err != nil {
		return out, err
	}
	return out, p.Process(ctx)
}

// fund sends every deposit of the scenario that is not on the ledger yet
// (its block is on ic.ledger-blocks.v1 once the connector ran), and the
// purchaser's bonds. It returns the number of transfers sent.
func fund(ctx context.Context, p Ports, sc Scenario, accounts map[string]pools.Pool) (int, error) {
	msgs, err := p.Log.ReadAll(ctx, schemas.TopicLedgerBlocks)
	if err != nil {
		return 0, err
	}
	done := map[string]bool{} // from/to
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil || env.Type != schemas.TypeLedgerBlock {
			continue
		}
		var b schemas.LedgerBlock
		if env.DecodePayload(schemas.TypeLedgerBlock, &b) == nil && b.Op == "transfer" {
			done[b.From+"/"+b.To] = true
		}
	}
	sent := 0
	send := func(name string, to schemas.Account, e8s int64, legacy bool) error {
		from, err := p.Wallets.AccountID(name)
		if err != nil {
			return err
		}
		if done[from+"/"+to.ID] {
			return nil
		}
		if err := p.Wallets.Fund(ctx, name, e8s+10_000); err != nil {
			return err
		}
		if err := p.Wallets.Send(ctx, name, to, e8s, legacy); err != nil {
			return fmt.Errorf("demo: %s's deposit: %w", name, err)
		}
		sent++
		return nil
	}
	for _, d := range sc.Deposits {
		if err := send(d.Sponsor, accounts[d.Pool].Deposit, d.AmountE8s, d.Legacy); err != nil {
			return sent, err
		}
	}
	for _, pl := range sc.Pools {
		if err := send(sc.Purchaser, accounts[pl.PoolID].Bond, bondE8s, false); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// poolStates reads the latest lifecycle state of each of dao's pools.
func poolStates(ctx context.Context, log pools.Log, dao string) (map[string]schemas.PoolState, error) {
	msgs, err := log.ReadAll(ctx, schemas.TopicPoolLifecycle)
	if err != nil {
		return nil, err
	}
	out := map[string]schemas.PoolState{}
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil || env.Type != schemas.TypePoolState {
			continue
		}
		var st schemas.PoolState
		if env.DecodePayload(schemas.TypePoolState, &st) == nil && st.DAO == dao {
			out[st.PoolID] = st
		}
	}
	return out, nil
}

// payPool plans, approves and pays the pool's lifecycle transfers not
// paid yet, out of its deposit and its bond account; a manifest planned by
// an earlier run is paid (or found paid) too.
func payPool(ctx context.Context, p Ports, dao, pool string, log *slog.Logger) ([]payout.Summary, error) {
	var out []payout.Summary
	for _, source := range []string{rules.SourceDeposit, rules.SourceBond} {
		eng, err := p.Engine(pool, source)
		if err != nil {
			return out, err
		}
		from, err := eng.Ledger.AccountID(eng.Ledger.TreasuryText())
		if err != nil {
			return out, err
		}
		intents, err := eng.Store.PoolIntents(ctx, dao, pool)
		if err != nil {
			return out, err
		}
		periods := map[string]bool{}
		for _, in := range intents {
			if _, src, _, ok := rules.ParseLifecyclePeriod(in.Period); ok && src == source {
				periods[in.Period] = true
			}
		}
		m, created, err := eng.PlanLifecycle(ctx, dao, pool, source, fmt.Sprintf("%x", from[:]), true)
		switch {
		case errors.Is(err, rules.ErrNothingToPlan):
		case err != nil:
			return out, err
		default:
			periods[m.Period] = true
			if created {
				log.Info("lifecycle transfers planned", "pool", pool, "source", source, "period", m.Period, "intents", len(m.Intents))
			}
		}
		for period := range periods {
			stored, found, err := eng.Stored(ctx, dao, period)
			if err != nil || !found {
				return out, fmt.Errorf("demo: lifecycle manifest %s: found %v: %v", period, found, err)
			}
			if _, _, err := eng.Approve(ctx, dao, period, stored.SHA256, Approver, p.Approver); err != nil {
				return out, err
			}
			sum, err := eng.Run(ctx, dao, period, payout.RunOptions{ExpectSHA256: stored.SHA256})
			if err != nil {
				return out, err
			}
			out = append(out, sum)
		}
	}
	return out, nil
}
