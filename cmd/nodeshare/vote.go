package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aviate-labs/agent-go/principal"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/web"
	"github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/votes"
	"github.com/nodeshare/nodeshare/schemas"
)

// voteCmd is `nodeshare vote` (docs/governance.md): the DAO opens a pool
// vote, sponsors cast ballots signed with their own dfx identity, anyone
// lists the votes and their tallies.
type voteCmd struct {
	Open    voteOpenCmd    `cmd:"" help:"Open a vote of a pool's sponsors (the weights are frozen now; the lifecycle processor tallies it)."`
	Cast    voteCastCmd    `cmd:"" help:"Sign a ballot with your dfx identity and cast it (through Kafka, or a nodeshare serve ballot endpoint with --endpoint)."`
	Show    voteShowCmd    `cmd:"" help:"Print one vote with its tally and, with --voter, that voter's ballots (counted or refused with the reason)."`
	List    voteListCmd    `cmd:"" help:"List a pool's votes with their tallies."`
	Access  voteAccessCmd  `cmd:"" help:"A pool's access register: who may access which node, granted by which vote, until when, revoked by which vote."`
	Weights voteWeightsCmd `cmd:"" help:"A pool's weight report from the audit trail: each sponsor's weight if a vote opened now, the cap, and sockpuppet hints from the ledger."`
}

type voteWeightsCmd struct {
	clickhouseFlags
	votePoolFlags
	WindowBlocks uint64 `name:"window-blocks" default:"10" help:"Hint deposits of different identities at most this many ledger blocks apart (0: no such hints)."`
	JSON         bool   `name:"json" help:"Print JSON."`
}

func (c *voteWeightsCmd) Validate() error { return c.clickhouseFlags.Validate() }

func (c *voteWeightsCmd) Run(e env) error {
	store, err := clickhouse.OpenReadOnly(e.ctx, c.clickhouseFlags.config())
	if err != nil {
		return err
	}
	defer store.Close()
	r, err := votes.WeightReport(e.ctx, store, c.DAO, c.PoolID, c.WindowBlocks)
	if err != nil || c.JSON {
		if err == nil {
			err = printJSON(e, r)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "pool %s/%s: accepted %s ICP; cap per identity %s ICP; total weight %s ICP\n", c.DAO, c.PoolID,
		money.FormatICP(r.AcceptedTotalE8s), money.FormatICP(r.CapE8s), money.FormatICP(r.WeightTotalE8s))
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tIDENTITY\tACCEPTED ICP\tIDENTITY ICP\tWEIGHT ICP\tCAPPED\t")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t\n", row.Account, row.Identity, money.FormatICP(row.AcceptedE8s), money.FormatICP(row.IdentityE8s),
			money.FormatICP(row.WeightE8s), row.Capped)
	}
	_ = tw.Flush()
	for _, h := range r.Hints {
		switch h.Kind {
		case "same_funding_source":
			fmt.Fprintf(e.stdout, "hint: %s funded %d sponsors of different identities: %s\n", h.Source, len(h.Accounts), strings.Join(h.Accounts, ", "))
		default:
			fmt.Fprintf(e.stdout, "hint: deposits of different identities in blocks %d..%d: %s\n", h.FirstBlock, h.LastBlock, strings.Join(h.Accounts, ", "))
		}
	}
	return nil
}

type votePoolFlags struct {
	DAO    string `name:"dao" env:"NODESHARE_DAO" required:"" help:"DAO name."`
	PoolID string `name:"pool-id" required:"" help:"Pool id."`
}

// openVotes is the votes door over Kafka.
func openVotes(e env, k kafkaFlags, t poolsTopicFlags) (*votes.Box, func(), error) {
	log, closeLog, err := poolsLog(e, k, t)
	if err != nil {
		return nil, nil, err
	}
	return &votes.Box{Log: log, Verifier: ic.Verifier{}, Clock: stage.SystemClock{}}, closeLog, nil
}

type voteOpenCmd struct {
	kafkaFlags
	poolsTopicFlags
	votePoolFlags
	VoteID       string        `name:"vote-id" required:"" help:"The vote's id (unique in the pool)."`
	Kind         string        `name:"kind" required:"" enum:"grant_hoster_access,terminate_hoster,change_hoster_terms,adopt_rules_version,approve_manifest" help:"What the vote decides: grant_hoster_access, terminate_hoster, change_hoster_terms, adopt_rules_version, approve_manifest."`
	Subject      string        `name:"subject" help:"What the vote decides, as its kind's JSON object (docs/governance.md): terminate_hoster {\"hoster\":ACCOUNT}; change_hoster_terms {\"account\":ACCOUNT,\"fixed_xdr_permyriad\":N,\"bps\":N}; adopt_rules_version {\"rules_version\":\"v2\"}; approve_manifest {\"period\":P,\"manifest_sha256\":HEX}; grant_hoster_access {\"grantee\":WHO,\"node_id\":NODE,\"until\":RFC3339} or with \"revoke\":true."`
	ClosesIn     time.Duration `name:"closes-in" default:"168h" help:"How long the vote stays open (from now)."`
	ThresholdBps int64         `name:"threshold-bps" default:"5001" help:"Yes weight needed, in bps of ALL the weight (not of the ballots cast): 5001 is a majority of the sponsors' weight."`
}

func (c *voteOpenCmd) Validate() error { return c.kafkaFlags.Validate() }

func (c *voteOpenCmd) Run(e env) error {
	box, done, err := openVotes(e, c.kafkaFlags, c.poolsTopicFlags)
	if err != nil {
		return err
	}
	defer done()
	f, created, err := box.Open(e.ctx, c.DAO, c.PoolID, votes.Spec{VoteID: c.VoteID, Kind: c.Kind, Subject: c.Subject,
		ClosesAt: time.Now().Add(c.ClosesIn), ThresholdBps: c.ThresholdBps})
	if err != nil {
		return err
	}
	what := "opened"
	if !created {
		what = "already open (unchanged)"
	}
	fmt.Fprintf(e.stderr, "vote %s of pool %s/%s %s: closes at %s, passes with %s of all the weight\n", c.VoteID, c.DAO, c.PoolID, what, f.ClosesAt,
		money.FormatBps(money.Bps(c.ThresholdBps)))
	return printJSON(e, f)
}

type voteCastCmd struct {
	kafkaFlags
	poolsTopicFlags
	votePoolFlags
	VoteID      string `name:"vote-id" required:"" help:"The vote."`
	Choice      string `name:"choice" required:"" enum:"yes,no,abstain" help:"yes, no or abstain."`
	IdentityPEM string `name:"identity-pem" env:"NODESHARE_VOTER_IDENTITY_PEM" required:"" type:"path" help:"Your dfx identity file (the key of the principal that owns your sponsor account)."`
	Subaccount  string `name:"subaccount" help:"The subaccount of your sponsor account (64 hex; empty: the default account)."`
	Nonce       uint64 `name:"nonce" help:"The ballot's nonce, above your last one in this vote (0: the time now in nanoseconds)."`
	Endpoint    string `name:"endpoint" env:"NODESHARE_BALLOT_ENDPOINT" help:"Base URL of a nodeshare serve ballot endpoint (e.g. https://dao.example/); empty: publish to Kafka directly."`
}

func (c *voteCastCmd) Validate() error {
	if c.Subaccount != "" {
		if b, err := hex.DecodeString(c.Subaccount); err != nil || len(b) != 32 {
			return fmt.Errorf("--subaccount %q: must be 64 hex characters (32 bytes)", c.Subaccount)
		}
	}
	if c.Endpoint == "" {
		return c.kafkaFlags.Validate()
	}
	if !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
		return fmt.Errorf("--endpoint %q: must be an http:// or https:// URL (NODESHARE_BALLOT_ENDPOINT)", c.Endpoint)
	}
	return nil
}

// ballot signs the ballot with the identity file.
func (c *voteCastCmd) ballot(ctx context.Context) (schemas.SignedBallot, error) {
	signer, err := ic.LoadPEMIdentity(c.IdentityPEM)
	if err != nil {
		return schemas.SignedBallot{}, err
	}
	var sub [32]byte
	if c.Subaccount != "" {
		b, _ := hex.DecodeString(c.Subaccount)
		copy(sub[:], b)
	}
	nonce := c.Nonce
	if nonce == 0 {
		nonce = uint64(time.Now().UnixNano())
	}
	acc := principal.NewAccountID(signer.Principal(), sub)
	b := schemas.SignedBallot{VoteID: c.VoteID, Voter: hex.EncodeToString(acc.Bytes()), Subaccount: c.Subaccount, Choice: c.Choice,
		Nonce: nonce, PublicKeyDER: hex.EncodeToString(signer.PublicKeyDER())}
	sig, err := signer.Sign(ctx, b.Message(c.DAO, c.PoolID))
	if err != nil {
		return b, err
	}
	b.Signature = hex.EncodeToString(sig)
	return b, nil
}

func (c *voteCastCmd) Run(e env) error {
	b, err := c.ballot(e.ctx)
	if err != nil {
		return err
	}
	var r schemas.BallotReceipt
	if c.Endpoint != "" {
		r, err = web.PostBallot(e.ctx, &http.Client{Timeout: time.Minute}, c.Endpoint, schemas.BallotRequest{DAO: c.DAO, PoolID: c.PoolID, Ballot: b})
	} else {
		box, done, oerr := openVotes(e, c.kafkaFlags, c.poolsTopicFlags)
		if oerr != nil {
			return oerr
		}
		defer done()
		r, err = box.Cast(e.ctx, c.DAO, c.PoolID, b)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "ballot %s cast by account %s (nonce %d): %s; `nodeshare vote show --voter %s` says whether it counted\n", c.Choice, b.Voter, b.Nonce, r.Status, b.Voter)
	return printJSON(e, r)
}

type voteListCmd struct {
	kafkaFlags
	poolsTopicFlags
	votePoolFlags
	JSON bool `name:"json" help:"Print JSON."`
}

func (c *voteListCmd) Validate() error { return c.kafkaFlags.Validate() }

func (c *voteListCmd) Run(e env) error {
	box, done, err := openVotes(e, c.kafkaFlags, c.poolsTopicFlags)
	if err != nil {
		return err
	}
	defer done()
	vs, err := box.List(e.ctx, c.DAO, c.PoolID)
	if err != nil || c.JSON {
		if err == nil {
			err = printJSON(e, vs)
		}
		return err
	}
	writeVotes(e, vs)
	return nil
}

func writeVotes(e env, vs []votes.Vote) {
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VOTE\tKIND\tSTATUS\tYES ICP\tNO ICP\tABSTAIN ICP\tWEIGHT ICP\tTHRESHOLD\tCLOSES AT\t")
	for _, v := range vs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", v.VoteID, v.Kind, v.Status, money.FormatICP(money.E8s(v.YesE8s)), money.FormatICP(money.E8s(v.NoE8s)),
			money.FormatICP(money.E8s(v.AbstainE8s)), money.FormatICP(money.E8s(v.WeightTotalE8s)), money.FormatBps(money.Bps(v.ThresholdBps)), v.ClosesAt)
	}
	_ = tw.Flush()
}

type voteAccessCmd struct {
	kafkaFlags
	poolsTopicFlags
	votePoolFlags
	JSON bool `name:"json" help:"Print JSON."`
}

func (c *voteAccessCmd) Validate() error { return c.kafkaFlags.Validate() }

// Run prints the pool's access register from its latest state on Kafka,
// each entry with whether it is in force now.
func (c *voteAccessCmd) Run(e env) error {
	box, done, err := openVotes(e, c.kafkaFlags, c.poolsTopicFlags)
	if err != nil {
		return err
	}
	defer done()
	reg, err := box.Access(e.ctx, c.DAO, c.PoolID)
	if err != nil || c.JSON {
		if err == nil {
			err = printJSON(e, reg)
		}
		return err
	}
	now, err := lifecycle.ParseTime(time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s/%s access register (pool state as of %s)\n", c.DAO, c.PoolID, reg.StateAsOf)
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GRANTEE\tNODE\tFROM\tUNTIL\tGRANTED BY\tREVOKED BY\tREVOKED AT\tNOW\t")
	for _, en := range reg.Entries {
		in, err := en.InForceAt(now)
		if err != nil {
			return err
		}
		state := "not in force"
		if in {
			state = "in force"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", en.Grantee, en.NodeID, en.From, en.Until, en.GrantedBy, dash(en.RevokedBy), dash(en.RevokedAt), state)
	}
	_ = tw.Flush()
	for _, ig := range reg.Ignored {
		fmt.Fprintf(e.stdout, "vote %s changed nothing: %s\n", ig.VoteID, ig.Reason)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type voteShowCmd struct {
	kafkaFlags
	poolsTopicFlags
	votePoolFlags
	VoteID string `name:"vote-id" required:"" help:"The vote."`
	Voter  string `name:"voter" help:"A voter's account (64 hex): list its ballots in this vote, counted or refused."`
	JSON   bool   `name:"json" help:"Print JSON."`
}

func (c *voteShowCmd) Validate() error { return c.kafkaFlags.Validate() }

func (c *voteShowCmd) Run(e env) error {
	box, done, err := openVotes(e, c.kafkaFlags, c.poolsTopicFlags)
	if err != nil {
		return err
	}
	defer done()
	vs, err := box.List(e.ctx, c.DAO, c.PoolID)
	if err != nil {
		return err
	}
	var out struct {
		Vote    votes.Vote           `json:"vote"`
		Ballots []votes.BallotStatus `json:"ballots,omitempty"`
	}
	found := false
	for _, v := range vs {
		if v.VoteID == c.VoteID {
			out.Vote, found = v, true
		}
	}
	if !found {
		return fmt.Errorf("no vote %q on pool %s/%s (nodeshare vote list)", c.VoteID, c.DAO, c.PoolID)
	}
	if c.Voter != "" {
		all, err := box.Ballots(e.ctx, c.DAO, c.PoolID, c.Voter)
		if err != nil {
			return err
		}
		for _, b := range all {
			if b.VoteID == c.VoteID {
				out.Ballots = append(out.Ballots, b)
			}
		}
	}
	if c.JSON {
		return printJSON(e, out)
	}
	writeVotes(e, []votes.Vote{out.Vote})
	for _, b := range out.Ballots {
		fmt.Fprintf(e.stdout, "ballot nonce %d (%s, received %s): %s %s\n", b.Nonce, b.Choice, b.ReceivedAt, b.Status, b.Reason)
	}
	return nil
}

// ballotBox is the votes door as the ballot endpoint of serve asks it.
type ballotBox struct{ box *votes.Box }

func (b ballotBox) Cast(ctx context.Context, dao, pool string, ballot schemas.SignedBallot) (schemas.BallotReceipt, error) {
	return b.box.Cast(ctx, dao, pool, ballot)
}

func (b ballotBox) Votes(ctx context.Context, dao, pool string) (any, error) {
	if dao == "" || pool == "" {
		return nil, &votes.Refused{Reason: "dao and pool are required (?dao=&pool=)"}
	}
	return b.box.List(ctx, dao, pool)
}

func (b ballotBox) Access(ctx context.Context, dao, pool string) (any, error) {
	if dao == "" || pool == "" {
		return nil, &votes.Refused{Reason: "dao and pool are required (?dao=&pool=)"}
	}
	return b.box.Access(ctx, dao, pool)
}

func (b ballotBox) Ballots(ctx context.Context, dao, pool, voter string) (any, error) {
	if dao == "" || pool == "" || voter == "" {
		return nil, &votes.Refused{Reason: "dao, pool and voter are required (?dao=&pool=&voter=)"}
	}
	if err := schemas.ValidateAccountIdentifier(voter); err != nil {
		return nil, &votes.Refused{Reason: "voter: " + err.Error()}
	}
	return b.box.Ballots(ctx, dao, pool, voter)
}
