package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/connectors/vault"
	"github.com/nodeshare/nodeshare/schemas"
)

// TestSanityHoldThenRelease: a period whose NNS rate is far from the
// 30-day average is allocated but not planned; `payout release` records
// why, and the plan then goes through. The release is in the event log
// and in ClickHouse (the audit trail).
func TestSanityHoldThenRelease(t *testing.T) {
	cfg := requireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	store, err := clickhouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := kafka.EnsureTopics(ctx, cfg.brokers(), schemas.Topics(), 1); err != nil {
		t.Fatal(err)
	}
	producer := kafka.NewProducer(cfg.brokers())
	defer producer.Close()
	vc, err := vault.New(cfg.Vault)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := vault.NewTransitIdentity(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	dao := fmt.Sprintf("it-hold-%d", time.Now().UnixNano())
	// A reward far in the past of the other tests' (so no earlier avg30
	// rate of theirs is near it), and the CMC's 30-day average an hour
	// before it at 2.0 XDR per ICP against the reward's 3.5.
	rewardAt := time.Date(2019, 3, 4, 6, 0, 0, 0, time.UTC).Add(time.Duration(time.Now().UnixNano() % int64(time.Hour*24*300)))
	avg := schemas.Rate{Kind: "avg30", TimestampSeconds: uint64(rewardAt.Add(-time.Hour).Unix()), XDRPermyriadPerICP: 20_000}
	f, err := schemas.NewFact(schemas.TopicRates, schemas.TypeRate, schemas.RateKey("test-"+dao, "avg30", avg.TimestampSeconds), schemas.Provenance{Source: "test"}, avg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&kafka.Log{Brokers: cfg.brokers(), Producer: producer}).PublishOnce(ctx, []schemas.Fact{f}); err != nil {
		t.Fatal(err)
	}
	treasury := ic.AccountText(ic.Account{Owner: signer.Sender()})
	period, _, err := allocateLegacyPeriod(ctx, cfg, store, producer, dao, rewardAt, treasury, 10_000, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	cli := func(want int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		args = append(args, "--dao", dao, "--period", period, "--local-dir", cfg.LocalDir, "--sanity-treasury", signer.Sender().String())
		if code := dispatch(ctx, args, strings.NewReader(""), &out, &errb); code != want {
			t.Fatalf("%v: exit %d, want %d\n%s\n%s", args, code, want, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}
	if out := cli(1, "payout", "plan"); !strings.Contains(out, "period on hold") || !strings.Contains(out, "rate_deviation") {
		t.Fatalf("plan of a held period:\n%s", out)
	}
	if h, _ := store.Manifest(ctx, dao, period); h != nil {
		t.Fatal("a held period was planned")
	}
	cli(2, "payout", "release", "--releaser", "ops") // --reason is required
	if out := cli(0, "payout", "release", "--reason", "the CMC average lagged a market move; rate checked on the dashboard", "--releaser", "ops"); !strings.Contains(out, "rate_deviation") {
		t.Fatalf("release:\n%s", out)
	}
	cli(0, "payout", "plan")
	rels, err := store.Releases(ctx, dao, period)
	if err != nil || len(rels) != 1 || rels[0].Releaser != "ops" || !strings.Contains(rels[0].Reason, "dashboard") {
		t.Fatalf("stored releases %+v %v", rels, err)
	}
	msgs, err := kafka.ReadAll(ctx, cfg.brokers(), schemas.TopicPayoutReleases)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range msgs {
		if strings.HasPrefix(string(m.Key), dao+"/"+period+"/") {
			found = true
		}
	}
	if !found {
		t.Fatal("the release is not on dao.payout-releases.v1")
	}
}
