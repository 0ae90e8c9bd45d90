package lifecycle

import "strings"

// The timed rules (docs/pool-rules.md "Time"): the funding
// deadline, each vote's close and the lock-up end. Each fires once, when the
// first fact strictly after its due time arrives, before that fact; rules
// due at the same instant fire deadline first, then vote closes by vote_id,
// then lock-up end. A rule due exactly at a fact's at fires after it (with
// the next later fact), and nothing fires after the last fact.

type timedRule int

const (
	ruleNone timedRule = iota
	ruleDeadline
	ruleVoteClose
	ruleLockupEnd
)

// fireBefore fires, in order, every timed rule due strictly before at.
func (p *Pool) fireBefore(at Time) {
	for {
		rule, due := ruleNone, Time{}
		consider := func(r timedRule, t Time) {
			// Candidates are offered in tie order, so only a strictly
			// earlier time displaces the current choice.
			if t.Before(at) && (rule == ruleNone || t.Before(due)) {
				rule, due = r, t
			}
		}
		if !p.deadlineFired {
			consider(ruleDeadline, p.terms.FundingDeadline)
		}
		if len(p.openVotes) > 0 {
			consider(ruleVoteClose, p.openVotes[0].closesAt)
		}
		if !p.lockupFired {
			consider(ruleLockupEnd, p.terms.LockupUntil)
		}
		switch rule {
		case ruleNone:
			return
		case ruleDeadline:
			p.deadlineFired = true
			p.deadline()
		case ruleVoteClose:
			v := p.openVotes[0]
			p.openVotes = p.openVotes[1:]
			v.close()
		case ruleLockupEnd:
			p.lockupFired = true
			p.lockupEnd()
		}
	}
}

// deadline: a pool still funding expires and refunds everything it holds.
func (p *Pool) deadline() {
	if p.state != StateFunding {
		return
	}
	p.state = StateExpired
	p.refundAll(false, "deadline", p.terms.FundingDeadline.String())
}

// lockupEnd: an active pool's bond goes back to the purchaser. In any other
// state it does nothing; a bond still held then goes back at node_down.
func (p *Pool) lockupEnd() {
	if p.state != StateActive {
		return
	}
	p.returnBond("lockup_end", p.terms.LockupUntil.String())
}

// compareClose orders open votes by close time, then vote_id bytes.
func compareClose(a, b *vote) int {
	if c := a.closesAt.Compare(b.closesAt); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}
