package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/stage/members"
	"github.com/nodeshare/nodeshare/pipeline/stage/pools"
	"github.com/nodeshare/nodeshare/schemas"
)

// poolsCmd is `nodeshare pools`: pool terms as events and the pool
// lifecycle (docs/pools.md, docs/pool-rules.md).
type poolsCmd struct {
	Create  poolsCreateCmd  `cmd:"" help:"Publish a pool's terms on dao.pools.v1 (once; a change is refused once a block moves ICP to or from its accounts) and print its deposit account."`
	Show    poolsShowCmd    `cmd:"" help:"Print a pool's latest terms with its deposit and bond accounts (ICRC-1 text and account identifier)."`
	List    poolsListCmd    `cmd:"" help:"List a DAO's pools."`
	Propose poolsProposeCmd `cmd:"" help:"Publish the DAO's proposal_submitted fact for a funded pool on dao.pool-facts.v1 (once; a second, different submission is refused); connect then publishes the decision."`
	Replay  poolsReplayCmd  `cmd:"" help:"Apply lifecycle facts to a pool's terms and print its state, stakes, transfers and votes (the lifecycle-v1 contract)."`
}

// poolsTopicFlags isolate a run's topics, as connect's --topic-prefix does.
type poolsTopicFlags struct {
	TopicPrefix string `name:"topic-prefix" env:"NODESHARE_TOPIC_PREFIX" help:"Prefix of every topic read and written (tests only)."`
}

// poolsLog connects the pools stage's event log.
func poolsLog(e env, k kafkaFlags, t poolsTopicFlags) (pools.Log, func(), error) {
	brokers := k.brokers()
	topics := schemas.Topics()
	for i := range topics {
		topics[i].Name = t.TopicPrefix + topics[i].Name
	}
	if err := kafka.EnsureTopicsWith(e.ctx, brokers, topics, k.topicOptions()); err != nil {
		return nil, nil, err
	}
	p := kafka.NewProducer(brokers)
	return &kafka.Log{Brokers: brokers, Producer: p, TopicPrefix: t.TopicPrefix}, func() { p.Close() }, nil
}

// poolsCreateCmd reads a pool (its allocation settings and its "terms",
// docs/pools.md) and publishes it.
type poolsCreateCmd struct {
	kafkaFlags
	poolsTopicFlags
	In                    string `name:"in" required:"" placeholder:"FILE|-" help:"The pool document; - reads standard input."`
	Treasury              string `name:"treasury" env:"NODESHARE_TREASURY_PRINCIPAL" required:"" help:"The DAO treasury principal: the deposit and bond accounts are its subaccounts derived from the pool id."`
	IdentitiesFromMembers bool   `name:"identities-from-members" help:"Take the terms' identities from the DAO's attested members (nodeshare members list): one member, one sponsor cap, one vote."`
	attesterKeyFlag
}

func (c *poolsCreateCmd) Validate() error {
	if c.IdentitiesFromMembers {
		if _, err := c.key(); err != nil {
			return err
		}
	}
	return c.kafkaFlags.Validate()
}

func (c *poolsCreateCmd) Run(e env) error {
	r, closeIn, err := openInput(c.In, e.stdin)
	if err != nil {
		return err
	}
	defer closeIn()
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("--in: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p schemas.Pool
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("--in: %w", schemas.JSONErrorAt(data, err))
	}
	log, closeLog, err := poolsLog(e, c.kafkaFlags, c.poolsTopicFlags)
	if err != nil {
		return err
	}
	defer closeLog()
	if c.IdentitiesFromMembers {
		if p.Terms == nil {
			return fmt.Errorf("--identities-from-members: pool %s/%s has no terms (only a crowdfunded pool has identities)", p.DAO, p.PoolID)
		}
		if len(p.Terms.Identities) > 0 {
			return fmt.Errorf("--identities-from-members: pool %s/%s already lists identities in its document: give them there or from the members, not both", p.DAO, p.PoolID)
		}
		key, _ := c.key()
		l, err := members.List(e.ctx, log, ic.Verifier{}, key, p.DAO)
		if err != nil {
			return err
		}
		for _, r := range l.Refused {
			fmt.Fprintf(e.stderr, "members: refused %s\n", r)
		}
		if ids := l.Identities(); len(ids) > 0 {
			p.Terms.Identities = ids
		}
	}
	got, outcome, err := pools.Create(e.ctx, log, p, c.Treasury)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "pool %s/%s: %s (terms version %d)\n", got.DAO, got.PoolID, outcome, got.Terms.TermsVersion)
	return printJSON(e, got)
}

type poolsShowCmd struct {
	kafkaFlags
	poolsTopicFlags
	DAO    string `name:"dao" env:"NODESHARE_DAO" required:"" help:"DAO name."`
	PoolID string `name:"pool-id" required:"" help:"Pool id."`
}

func (c *poolsShowCmd) Validate() error { return c.kafkaFlags.Validate() }

func (c *poolsShowCmd) Run(e env) error {
	log, closeLog, err := poolsLog(e, c.kafkaFlags, c.poolsTopicFlags)
	if err != nil {
		return err
	}
	defer closeLog()
	p, ok, err := pools.Show(e.ctx, log, c.DAO, c.PoolID)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no pool %s/%s on %s", c.DAO, c.PoolID, schemas.TopicPools)
	}
	return printJSON(e, p)
}

type poolsListCmd struct {
	kafkaFlags
	poolsTopicFlags
	DAO  string `name:"dao" env:"NODESHARE_DAO" help:"DAO name (empty: every DAO)."`
	JSON bool   `name:"json" help:"Print JSON."`
}

func (c *poolsListCmd) Validate() error { return c.kafkaFlags.Validate() }

func (c *poolsListCmd) Run(e env) error {
	log, closeLog, err := poolsLog(e, c.kafkaFlags, c.poolsTopicFlags)
	if err != nil {
		return err
	}
	defer closeLog()
	all, err := pools.List(e.ctx, log, c.DAO)
	if err != nil || c.JSON {
		if err == nil {
			err = printJSON(e, all)
		}
		return err
	}
	return pools.WriteTable(e.stdout, all)
}

// poolsProposeCmd records that the DAO submitted an NNS proposal for a
// pool: the proposal_submitted fact the lifecycle starts the proposal
// from (docs/pools.md).
type poolsProposeCmd struct {
	kafkaFlags
	poolsTopicFlags
	DAO        string `name:"dao" env:"NODESHARE_DAO" required:"" help:"DAO name."`
	PoolID     string `name:"pool-id" required:"" help:"Pool id."`
	ProposalID uint64 `name:"proposal-id" required:"" help:"The NNS proposal id Governance gave the submission."`
	At         string `name:"at" placeholder:"RFC3339" help:"When the proposal was submitted (default: now); it must not be before the deposit that funded the pool, nor after Governance's decision."`
}

func (c *poolsProposeCmd) Validate() error { return c.kafkaFlags.Validate() }

func (c *poolsProposeCmd) Run(e env) error {
	log, closeLog, err := poolsLog(e, c.kafkaFlags, c.poolsTopicFlags)
	if err != nil {
		return err
	}
	defer closeLog()
	f, outcome, err := pools.Propose(e.ctx, log, c.DAO, c.PoolID, c.ProposalID, c.At, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "pool %s/%s: proposal %d %s (at %s)\n", f.DAO, f.PoolID, *f.ProposalID, outcome, f.At)
	return printJSON(e, f)
}

func printJSON(e env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// poolsReplayCmd prints one JSON object on success; on invalid input it
// exits 1 with the reason (naming the field and the value) on stderr and
// nothing on stdout.
type poolsReplayCmd struct {
	In string `name:"in" required:"" placeholder:"FILE|-" help:"The input document {\"terms\": ..., \"facts\": [...]}; - reads standard input."`
}

func (c *poolsReplayCmd) Run(e env) error {
	r, closeIn, err := openInput(c.In, e.stdin)
	if err != nil {
		return err
	}
	defer closeIn()
	out, err := lifecycle.ReplayJSON(r)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(out)
	return err
}
