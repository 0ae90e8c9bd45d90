package votes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/allocation"
	rules "github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/pools"
	"github.com/nodeshare/nodeshare/schemas"
)

// Log is the event log as the votes door uses it (connectors/kafka.Log).
type Log interface {
	stage.Publisher
	// ReadAll returns every record of topic up to its end, in order.
	ReadAll(ctx context.Context, topic string) ([]schemas.Message, error)
}

// Verifier checks a signature over message under publicKeyDER.
type Verifier interface {
	Verify(publicKeyDER, message, signature []byte) error
}

// Box is the votes door of one deployment.
type Box struct {
	Log      Log
	Verifier Verifier
	Clock    stage.Clock
}

// Refused is a ballot or a vote refused at the door: the asker's input
// (the HTTP endpoint answers 400 with the reason).
type Refused struct{ Reason string }

func (r *Refused) Error() string   { return r.Reason }
func (r *Refused) BadInput() bool  { return true }
func (r *Refused) IsInvalid() bool { return true }

func refuse(format string, args ...any) error { return &Refused{Reason: fmt.Sprintf(format, args...)} }

var provenance = schemas.Provenance{Source: "nodeshare", Method: "votes"}

// Spec is a vote to open (POOL_RULES "Votes").
type Spec struct {
	VoteID       string
	Kind         string
	Subject      string
	ClosesAt     time.Time
	ThresholdBps int64
}

var kinds = []rules.VoteKind{rules.VoteGrantHosterAccess, rules.VoteTerminateHoster, rules.VoteChangeHosterTerms,
	rules.VoteAdoptRulesVersion, rules.VoteApproveManifest}

func (s Spec) check(now time.Time) error {
	var errs []error
	if s.VoteID == "" || strings.ContainsAny(s.VoteID, "/ ") {
		errs = append(errs, fmt.Errorf("vote id %q: non-empty, without '/' or spaces", s.VoteID))
	}
	if !slices.Contains(kinds, rules.VoteKind(s.Kind)) {
		errs = append(errs, fmt.Errorf("kind %q: must be one of %v", s.Kind, kinds))
	} else if subj, err := schemas.DecodeVoteSubject(s.Kind, s.Subject); err != nil {
		// What a passed vote changes is read from its subject
		// (docs/governance.md): a subject nobody can apply is refused now,
		// not discovered when the vote passes.
		errs = append(errs, err)
	} else if a, ok := subj.(*schemas.AdoptRulesVersionSubject); ok {
		if _, err := allocation.Lookup(a.RulesVersion); err != nil {
			errs = append(errs, fmt.Errorf("subject.rules_version: %w", err))
		}
	}
	if s.ThresholdBps < 1 || s.ThresholdBps > int64(money.BpsDenominator) {
		errs = append(errs, fmt.Errorf("threshold_bps %d: must be in 1..10000", s.ThresholdBps))
	}
	if !s.ClosesAt.After(now) {
		errs = append(errs, fmt.Errorf("closes_at %s: must be after now (%s)", s.ClosesAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}

// Open publishes the vote_opened fact of dao's pool (once: the same vote
// again is Unchanged, another vote under the same id is refused). Its at is
// now: the snapshot of the weights.
func (b *Box) Open(ctx context.Context, dao, pool string, s Spec) (schemas.PoolFact, bool, error) {
	now := b.Clock.Now().UTC().Truncate(time.Second)
	if err := s.check(now); err != nil {
		return schemas.PoolFact{}, false, &Refused{Reason: err.Error()}
	}
	facts, err := b.poolFacts(ctx, dao, pool)
	if err != nil {
		return schemas.PoolFact{}, false, err
	}
	closes := s.ClosesAt.UTC().Format(time.RFC3339Nano)
	for _, f := range facts {
		if f.Type == string(rules.FactVoteOpened) && f.VoteID == s.VoteID {
			if f.Kind == s.Kind && f.Subject == s.Subject && f.ClosesAt == closes && f.ThresholdBps != nil && *f.ThresholdBps == s.ThresholdBps {
				return f, false, nil
			}
			return schemas.PoolFact{}, false, refuse("vote %s of pool %s/%s was already opened at %s with other terms: a vote does not change", s.VoteID, dao, pool, f.At)
		}
	}
	t := s.ThresholdBps
	f := schemas.PoolFact{DAO: dao, PoolID: pool, Type: string(rules.FactVoteOpened), At: now.Format(time.RFC3339Nano),
		VoteID: s.VoteID, Kind: s.Kind, Subject: s.Subject, ClosesAt: closes, ThresholdBps: &t}
	return f, true, b.publish(ctx, f)
}

// Receipt is what Cast answers once the broker acknowledged the ballot.
type Receipt = schemas.BallotReceipt

// Cast checks a signed ballot at the door and publishes it; it returns
// once the broker acknowledged it. A refusal is a *Refused naming why.
func (b *Box) Cast(ctx context.Context, dao, pool string, ballot schemas.SignedBallot) (Receipt, error) {
	now := b.Clock.Now().UTC()
	if err := b.checkSigned(dao, pool, ballot); err != nil {
		return Receipt{}, err
	}
	facts, err := b.poolFacts(ctx, dao, pool)
	if err != nil {
		return Receipt{}, err
	}
	var opened *schemas.PoolFact
	for i, f := range facts {
		switch {
		case f.Type == string(rules.FactVoteOpened) && f.VoteID == ballot.VoteID:
			opened = &facts[i]
		case f.Type == string(rules.FactBallot) && f.Ballot != nil && f.Ballot.VoteID == ballot.VoteID &&
			f.Ballot.Voter == ballot.Voter && f.Ballot.Nonce >= ballot.Nonce &&
			// Only the voter's own (signed) ballots count as earlier ones: a
			// forged one on the log cannot block the voter.
			b.checkSigned(dao, pool, *f.Ballot) == nil:
			return Receipt{}, refuse("ballot replayed: voter %s already cast nonce %d in vote %s (received %s); a new ballot needs a higher nonce",
				ballot.Voter, f.Ballot.Nonce, ballot.VoteID, f.At)
		}
	}
	if opened == nil {
		return Receipt{}, refuse("vote %q: no such vote opened on pool %s/%s", ballot.VoteID, dao, pool)
	}
	if closes, err := time.Parse(time.RFC3339Nano, opened.ClosesAt); err == nil && now.After(closes) {
		return Receipt{}, refuse("late ballot: vote %s closed at %s", ballot.VoteID, opened.ClosesAt)
	}
	f := schemas.PoolFact{DAO: dao, PoolID: pool, Type: string(rules.FactBallot), At: now.Format(time.RFC3339Nano), Ballot: &ballot}
	if err := b.publish(ctx, f); err != nil {
		var conflict *schemas.ConflictError
		if errors.As(err, &conflict) {
			return Receipt{}, refuse("ballot replayed: this ballot (vote %s, voter %s, nonce %d) is already on the log", ballot.VoteID, ballot.Voter, ballot.Nonce)
		}
		return Receipt{}, err
	}
	return Receipt{Key: schemas.PoolFactKey(f), ReceivedAt: f.At, Status: "published"}, nil
}

// checkSigned is the stateless part of the door: fields, ownership and
// signature (the lifecycle processor checks the same again).
func (b *Box) checkSigned(dao, pool string, ballot schemas.SignedBallot) error {
	if err := schemas.ValidateAccountIdentifier(ballot.Voter); err != nil {
		return refuse("voter: %v", err)
	}
	switch rules.Choice(ballot.Choice) {
	case rules.ChoiceYes, rules.ChoiceNo, rules.ChoiceAbstain:
	default:
		return refuse("choice %q: must be one of yes, no, abstain", ballot.Choice)
	}
	if ballot.VoteID == "" {
		return refuse("vote_id: is required")
	}
	if ballot.Nonce == 0 {
		return refuse("nonce: must be at least 1")
	}
	der, _, err := ballot.Owner()
	if err != nil {
		return &Refused{Reason: err.Error()}
	}
	sig, err := ballot.BallotSignature()
	if err != nil {
		return &Refused{Reason: err.Error()}
	}
	if err := b.Verifier.Verify(der, ballot.Message(dao, pool), sig); err != nil {
		return refuse("signature: mis-signed: %v", err)
	}
	return nil
}

func (b *Box) publish(ctx context.Context, f schemas.PoolFact) error {
	fact, err := schemas.NewFact(schemas.TopicPoolFacts, schemas.TypePoolFact, schemas.PoolFactKey(f), provenance, f)
	if err != nil {
		return err
	}
	_, err = b.Log.PublishOnce(ctx, []schemas.Fact{fact})
	return err
}

// poolFacts are the facts of dao's pool on dao.pool-facts.v1, in order.
func (b *Box) poolFacts(ctx context.Context, dao, pool string) ([]schemas.PoolFact, error) {
	return pools.Facts(ctx, b.Log, dao, pool)
}

// Vote is one vote of a pool with its tally as the lifecycle processor
// last published it.
type Vote struct {
	VoteID       string `json:"vote_id"`
	Kind         string `json:"kind"`
	Subject      string `json:"subject"`
	OpenedAt     string `json:"opened_at"`
	ClosesAt     string `json:"closes_at"`
	ThresholdBps int64  `json:"threshold_bps"`
	// Status, the tally and the total weight W, from the pool's latest
	// state (status "unknown" until the processor applied the vote).
	Status         string `json:"status"`
	YesE8s         int64  `json:"yes_e8s"`
	NoE8s          int64  `json:"no_e8s"`
	AbstainE8s     int64  `json:"abstain_e8s"`
	WeightTotalE8s int64  `json:"weight_total_e8s"`
	StateAsOf      string `json:"state_as_of"`
}

// List is every vote of dao's pool, by vote id.
func (b *Box) List(ctx context.Context, dao, pool string) ([]Vote, error) {
	facts, err := b.poolFacts(ctx, dao, pool)
	if err != nil {
		return nil, err
	}
	st, err := b.latestState(ctx, dao, pool)
	if err != nil {
		return nil, err
	}
	tallies := map[string]Vote{}
	if st != nil {
		var o struct {
			Votes []Vote `json:"votes"`
		}
		if err := json.Unmarshal([]byte(st.Output), &o); err != nil {
			return nil, fmt.Errorf("pool %s/%s: state output: %w", dao, pool, err)
		}
		for _, v := range o.Votes {
			v.StateAsOf = st.AsOf
			tallies[v.VoteID] = v
		}
	}
	var out []Vote
	for _, f := range facts {
		if f.Type != string(rules.FactVoteOpened) {
			continue
		}
		v, ok := tallies[f.VoteID]
		if !ok {
			v = Vote{Status: "unknown"}
		}
		v.VoteID, v.Kind, v.Subject, v.OpenedAt, v.ClosesAt = f.VoteID, f.Kind, f.Subject, f.At, f.ClosesAt
		if f.ThresholdBps != nil {
			v.ThresholdBps = *f.ThresholdBps
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Vote) int { return strings.Compare(a.VoteID, b.VoteID) })
	return out, nil
}

// Access is dao's pool's access register (rules.Access) from the votes of
// its latest state, with that state's as_of ("" when the processor
// published no state yet: the register is then empty).
type Access struct {
	DAO       string `json:"dao"`
	PoolID    string `json:"pool_id"`
	StateAsOf string `json:"state_as_of"`
	rules.AccessRegister
}

// Access reads the pool's latest state and builds its access register.
func (b *Box) Access(ctx context.Context, dao, pool string) (Access, error) {
	out := Access{DAO: dao, PoolID: pool, AccessRegister: rules.AccessRegister{Entries: []rules.AccessEntry{}}}
	st, err := b.latestState(ctx, dao, pool)
	if err != nil || st == nil {
		return out, err
	}
	reg, err := rules.Access(st.Votes)
	if err != nil {
		return out, fmt.Errorf("pool %s/%s: access register: %w", dao, pool, err)
	}
	out.StateAsOf, out.AccessRegister = st.AsOf, reg
	return out, nil
}

// latestState is the pool's latest state on dao.pool-lifecycle.v1 (nil
// when the processor published none yet).
func (b *Box) latestState(ctx context.Context, dao, pool string) (*schemas.PoolState, error) {
	msgs, err := b.Log.ReadAll(ctx, schemas.TopicPoolLifecycle)
	if err != nil {
		return nil, err
	}
	key := schemas.PoolStateKey(dao, pool)
	var st *schemas.PoolState
	for _, m := range msgs {
		if string(m.Key) != key {
			continue
		}
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil {
			continue
		}
		var s schemas.PoolState
		if env.DecodePayload(schemas.TypePoolState, &s) == nil {
			st = &s
		}
	}
	return st, nil
}

// BallotStatus is one ballot of a voter and what became of it.
type BallotStatus struct {
	Key        string `json:"key"`
	VoteID     string `json:"vote_id"`
	Choice     string `json:"choice"`
	Nonce      uint64 `json:"nonce"`
	ReceivedAt string `json:"received_at"`
	// Status: "refused" (Reason is the dead letter's), or "accepted"
	// (applied, or waiting for the processor).
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Ballots are the ballots cast as voter in dao's pool, in log order, each
// with its dead letter's reason when the processor refused it.
func (b *Box) Ballots(ctx context.Context, dao, pool, voter string) ([]BallotStatus, error) {
	msgs, err := b.Log.ReadAll(ctx, schemas.TopicPoolFacts)
	if err != nil {
		return nil, err
	}
	dead, err := b.Log.ReadAll(ctx, schemas.TopicDLQ)
	if err != nil {
		return nil, err
	}
	reasons := map[string]string{}
	for _, m := range dead {
		if dl, err := schemas.ReadDeadLetter(m.Key, m.Value, m.Headers); err == nil {
			reasons[string(m.Key)] = dl.Reason
		}
	}
	var out []BallotStatus
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil || env.Type != schemas.TypePoolFact {
			continue
		}
		var f schemas.PoolFact
		if env.DecodePayload(schemas.TypePoolFact, &f) != nil || f.DAO != dao || f.PoolID != pool || f.Ballot == nil || f.Ballot.Voter != voter {
			continue
		}
		s := BallotStatus{Key: string(m.Key), VoteID: f.Ballot.VoteID, Choice: f.Ballot.Choice, Nonce: f.Ballot.Nonce, ReceivedAt: f.At, Status: "accepted"}
		if r, ok := reasons[schemas.DeadLetterKey(m.Topic, m.Partition, m.Offset)]; ok {
			s.Status, s.Reason = "refused", r
		}
		out = append(out, s)
	}
	return out, nil
}
