package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/schemas"
)

// payoutRun moves money for one DAO period. The order is fixed: checks,
// intents durable (Kafka + ClickHouse), then one signed transfer per unpaid
// intent, each result recorded as soon as it is verified.
type payoutRun struct {
	brokers  []string
	store    *clickhouse.Store
	producer *kafka.Producer
	ledger   *ic.Client
	treasury ic.Account
	log      *slog.Logger
	now      func() time.Time
}

// payoutSummary is what a run did.
type payoutSummary struct {
	Manifest payout.Manifest
	Results  map[string]schemas.PayoutResult
	Sent     int // transfers sent in this run (first attempts and retries)
	Skipped  int // intents already paid before this run
}

func (r *payoutRun) run(ctx context.Context, dao, period string) (payoutSummary, error) {
	var sum payoutSummary
	ents, err := r.store.Entitlements(ctx, dao, period)
	if err != nil {
		return sum, err
	}
	if len(ents) == 0 {
		return sum, fmt.Errorf("payout %s %s: no entitlements in ClickHouse (has the processor and the sink run?)", dao, period)
	}
	pools, err := r.store.PoolPeriods(ctx, dao, period)
	if err != nil {
		return sum, err
	}
	if err := checkConservation(pools, ents); err != nil {
		return sum, err
	}

	// Intents: reuse the stored ones (same memo and created_at_time on every
	// retry), or plan and make them durable before anything is signed.
	stored, err := r.store.Intents(ctx, dao, period)
	if err != nil {
		return sum, err
	}
	var m payout.Manifest
	if len(stored) > 0 {
		if m, err = payout.FromIntents(dao, period, stored); err != nil {
			return sum, err
		}
		// The entitlements must still plan to exactly these intents.
		again, err := payout.Plan(dao, period, ents, stored[0].CreatedAtNanos)
		if err != nil {
			return sum, err
		}
		if again.SHA256 != m.SHA256 {
			return sum, fmt.Errorf("payout %s %s: entitlements changed since the manifest %s was planned (now %s): stop and investigate", dao, period, m.SHA256, again.SHA256)
		}
	} else {
		if m, err = payout.Plan(dao, period, ents, uint64(r.now().UnixNano())); err != nil {
			return sum, err
		}
		if err := r.writeIntents(ctx, m); err != nil {
			return sum, err
		}
		r.log.Info("payout planned", "dao", dao, "period", period, "manifest_sha256", m.SHA256, "intents", len(m.Intents))
	}
	sum.Manifest = m

	results, err := r.store.Results(ctx, dao, period)
	if err != nil {
		return sum, err
	}
	sum.Results = results
	var pending []schemas.PayoutIntent
	var need int64
	for _, in := range m.Intents {
		if res, ok := results[in.IntentID]; ok && res.Status == schemas.PayoutPaid {
			sum.Skipped++
			continue
		}
		pending = append(pending, in)
		need += in.AmountE8s + in.FeeE8s
	}
	if len(pending) == 0 {
		r.log.Info("payout: every intent already paid", "dao", dao, "period", period)
		return sum, nil
	}
	// The treasury must cover every pending amount plus its fee before the
	// first signature.
	bal, err := r.ledger.BalanceOf(ctx, r.treasury)
	if err != nil {
		return sum, fmt.Errorf("payout %s %s: treasury balance: %w", dao, period, err)
	}
	if bal < uint64(need) {
		return sum, fmt.Errorf("payout %s %s: treasury %s holds %d e8s, the pending transfers need %d e8s: nothing sent", dao, period, ic.AccountText(r.treasury), bal, need)
	}
	var firstErr error
	for _, in := range pending {
		res := r.transfer(ctx, in)
		sum.Sent++
		if err := r.writeResult(ctx, res); err != nil {
			return sum, err
		}
		sum.Results[in.IntentID] = res
		if res.Status != schemas.PayoutPaid && firstErr == nil {
			firstErr = fmt.Errorf("payout %s %s: intent %s to %s: %s", dao, period, in.IntentID, in.Recipient, res.Error)
		}
		if ctx.Err() != nil {
			return sum, ctx.Err()
		}
	}
	return sum, firstErr
}

// transfer sends one intent, retrying transient failures with the same
// memo and created_at_time, so the ledger de-duplicates any resend.
func (r *payoutRun) transfer(ctx context.Context, in schemas.PayoutIntent) schemas.PayoutResult {
	res := schemas.PayoutResult{IntentID: in.IntentID, AmountE8s: in.AmountE8s, Recipient: in.Recipient, Status: schemas.PayoutFailed}
	to, err := ic.AccountFromText(in.Recipient)
	if err != nil {
		res.Error = fmt.Sprintf("recipient: %v", err)
		return res
	}
	memo, err := hex.DecodeString(in.MemoHex)
	if err != nil || len(memo) > 32 {
		res.Error = fmt.Sprintf("memo_hex %q is not hex of at most 32 bytes", in.MemoHex)
		return res
	}
	fee := uint64(in.FeeE8s)
	req := ic.TransferRequest{To: to, AmountE8s: uint64(in.AmountE8s), FeeE8s: &fee, Memo: memo, CreatedAtNanos: in.CreatedAtNanos}
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		blk, err := r.ledger.Transfer(ctx, req)
		if err == nil {
			res.Status, res.BlockIndex, res.VerifiedBy, res.Error = schemas.PayoutPaid, blk, "certificate", ""
			return res
		}
		if dup, ok := ic.IsDuplicate(err); ok {
			// Paid before (a lost response or an earlier run): the ledger
			// names the block.
			res.Status, res.BlockIndex, res.Duplicate, res.VerifiedBy, res.Error = schemas.PayoutPaid, dup, true, "certificate", ""
			return res
		}
		res.Error = err.Error()
		var te *ic.TransferError
		if errors.As(err, &te) && !te.Transient() {
			return res // a definitive ledger answer: nothing moved
		}
		if attempt >= 5 || !(ic.IsTransient(err) || ic.IsOutcomeUnknown(err)) {
			return res
		}
		r.log.Warn("transfer retry", "intent_id", in.IntentID, "attempt", attempt, "reason", err.Error())
		select {
		case <-ctx.Done():
			return res
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (r *payoutRun) writeIntents(ctx context.Context, m payout.Manifest) error {
	evs := make([]entitle.Event, 0, len(m.Intents))
	for _, in := range m.Intents {
		env, err := schemas.NewEnvelope(schemas.TypePayoutIntent, in.IntentID, schemas.Provenance{Source: "nodeshare", Method: "payout/plan"}, in)
		if err != nil {
			return err
		}
		evs = append(evs, entitle.Event{Topic: schemas.TopicPayoutIntents, Key: in.IntentID, Envelope: env})
	}
	if _, err := publishNew(ctx, r.brokers, r.producer, evs); err != nil {
		return err
	}
	return retry(ctx, 5, func() error { return r.store.InsertIntents(ctx, "intents-"+m.SHA256, m.Intents) })
}

func (r *payoutRun) writeResult(ctx context.Context, res schemas.PayoutResult) error {
	at := r.now().UTC()
	id := fmt.Sprintf("%s/%s/%d", res.IntentID, res.Status, at.UnixNano())
	env, err := schemas.NewEnvelope(schemas.TypePayoutResult, id, schemas.Provenance{Source: "nodeshare", Method: "payout/run"}, res)
	if err != nil {
		return err
	}
	b, err := env.Marshal()
	if err != nil {
		return err
	}
	if err := r.producer.Publish(ctx, kafka.Record{Topic: schemas.TopicPayoutResults, Key: []byte(res.IntentID), Value: b}); err != nil {
		return err
	}
	return retry(ctx, 5, func() error {
		return r.store.InsertResults(ctx, "result-"+id, []clickhouse.ResultRow{{PayoutResult: res, RecordedAt: at}})
	})
}

// checkConservation re-checks, from the stored rows, that every pool period
// conserves its gross and every recipient's owed amount.
func checkConservation(pools []schemas.PoolPeriod, ents []schemas.Entitlement) error {
	byPool := map[string]*[2]int64{} // shares, hoster
	for _, e := range ents {
		if e.TransferE8s+e.FeeE8s+e.CarryOutE8s != e.OwedE8s || e.ShareE8s+e.CarryInE8s != e.OwedE8s {
			return fmt.Errorf("conservation: %s %s %s %s: owed %d != share %d + carry-in %d or != transfer %d + fee %d + carry-out %d",
				e.Period, e.PoolID, e.Role, e.Recipient, e.OwedE8s, e.ShareE8s, e.CarryInE8s, e.TransferE8s, e.FeeE8s, e.CarryOutE8s)
		}
		t := byPool[e.PoolID]
		if t == nil {
			t = &[2]int64{}
			byPool[e.PoolID] = t
		}
		if e.Role == entitle.RoleHoster {
			t[1] += e.ShareE8s
		} else {
			t[0] += e.ShareE8s
		}
	}
	if len(pools) != len(byPool) {
		return fmt.Errorf("conservation: %d pool periods but entitlements for %d pools", len(pools), len(byPool))
	}
	for _, p := range pools {
		t := byPool[p.PoolID]
		if t == nil {
			return fmt.Errorf("conservation: pool %s has no entitlements", p.PoolID)
		}
		if t[1] != p.HosterFeeE8s || p.GrossE8s != p.HosterFeeE8s+p.DAOFeeE8s+t[0] {
			return fmt.Errorf("conservation: pool %s %s: gross %d != hoster %d + dao %d + shares %d (hoster entitlement %d)",
				p.PoolID, p.Period, p.GrossE8s, p.HosterFeeE8s, p.DAOFeeE8s, t[0], t[1])
		}
	}
	return nil
}
