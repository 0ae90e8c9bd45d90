package allocation

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// Explain writes a plain-words statement of r: how the gross was split, then
// one paragraph per recipient (hoster first, then sponsors in id order) with
// the stake, its share of the pool, whether a premium applied and why, the
// ledger fee, the carry and the transfer. It uses only r, so any stored
// result can be explained again. Amounts are shown in ICP with all eight
// decimals; percentages are truncated, never rounded up.
func Explain(w io.Writer, r PoolResult) error {
	b := bufio.NewWriterSize(w, 64<<10)
	icp := func(e money.E8s) string { return money.FormatICP(e) + " ICP" }
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }

	p("Pool %s, period %s, computed under allocation rules %s.\n", r.PoolID, r.Period, r.RulesVersion)
	p("Ledger fee per transfer: %s, paid by the recipient. Minimum payout: %s.\n", icp(r.LedgerFeeE8s), icp(max(r.MinPayoutE8s, 1)))
	refund := r.Proposal != nil && r.Proposal.Status == ProposalRejected
	if refund {
		p("The pool's proposal was rejected: every contribution is refunded less a slash of %s (rounded down per contribution).\n", money.FormatBps(r.Proposal.SlashBps))
		p("Principal: %s. Slashed to the DAO: %s. Refunded: %s.\n", icp(r.GrossE8s), icp(r.DAOFeeE8s), icp(r.DistributableE8s))
	} else if r.HasEngagements() {
		p("Gross reward: %s.\n", icp(r.GrossE8s))
		p("Hoster fee: %s, the sum over %d hoster engagement(s) of (fixed fee at %s XDR per ICP + bps of the gross) times the engagement's seconds inside the period over the period's %d seconds, rounded down, each capped at what the earlier engagements left of the gross.\n",
			icp(r.HosterFeeE8s), len(r.Hosters), money.FormatXDRPermyriad(int64(r.RateXDRPermyriadPerICP)), r.PeriodEndUnixSeconds-r.PeriodStartUnixSeconds)
		p("DAO fee: %s = %s of what is left after the hoster fee; it stays in the DAO account.\n", icp(r.DAOFeeE8s), money.FormatBps(r.DAOFeeBps))
		p("Distributable to sponsors: %s.\n", icp(r.DistributableE8s))
		explainWhale(p, r)
		p("Pro-rata shares are rounded down; the e8s left over go one each to the largest remainders, ties to the smallest account id.\n")
	} else {
		fixed, fits := money.XDRToE8s(r.HosterFixedXDRPermyriad, r.RateXDRPermyriadPerICP)
		fixedText := icp(fixed)
		if !fits {
			fixedText = "more than the gross"
		}
		p("Gross reward: %s.\n", icp(r.GrossE8s))
		p("Hoster fee: %s = fixed %s XDR at %s XDR per ICP (%s) + %s of the gross, capped at the gross.\n",
			icp(r.HosterFeeE8s), money.FormatXDRPermyriad(int64(r.HosterFixedXDRPermyriad)),
			money.FormatXDRPermyriad(int64(r.RateXDRPermyriadPerICP)), fixedText, money.FormatBps(r.HosterFeeBps))
		p("DAO fee: %s = %s of what is left after the hoster fee; it stays in the DAO account.\n", icp(r.DAOFeeE8s), money.FormatBps(r.DAOFeeBps))
		p("Distributable to sponsors: %s.\n", icp(r.DistributableE8s))
		explainWhale(p, r)
		p("Pro-rata shares are rounded down; the e8s left over go one each to the largest remainders, ties to the smallest account id.\n")
	}
	total := money.FormatICPUint64(r.StakeTotalE8s) + " ICP"
	p("Total stake: %s from %d sponsors.\n", total, len(r.Shares))

	if r.HasEngagements() {
		p("Period: [%d, %d) in Unix seconds, %d seconds; %d hoster engagement(s), each paid as its own recipient.\n",
			r.PeriodStartUnixSeconds, r.PeriodEndUnixSeconds, r.PeriodEndUnixSeconds-r.PeriodStartUnixSeconds, len(r.Hosters))
		for j := range r.Hosters {
			p("\n%s\n", EngagementStatement(r, j))
		}
	} else {
		p("\n%s\n", HosterStatement(r))
	}
	for i := range r.Shares {
		p("\n%s\n", SponsorStatement(r, i))
	}
	return b.Flush()
}

// explainWhale writes step 5's sentence.
func explainWhale(p func(string, ...any), r PoolResult) {
	icp := icpText
	switch {
	case r.Whale != "":
		p("Whale premium: %s of the distributable is %s, more than the %s the whale %s would get pro rata, so the whale gets the premium and the other sponsors share the remaining %s by stake.\n",
			money.FormatBps(r.WhalePremiumBps), icp(r.PremiumE8s), icp(r.WhaleProRataE8s), r.Whale, icp(r.DistributableE8s-r.PremiumE8s))
	case len(r.Shares) < 2:
		p("Whale premium: not applied, the pool has a single sponsor; it gets the whole distributable.\n")
	default:
		p("Whale premium: not applied: %s of the distributable is %s, not more than the %s the largest sponsor %s gets pro rata (the premium never lowers a share), so everyone shares the distributable by stake.\n",
			money.FormatBps(r.WhalePremiumBps), icp(r.PremiumE8s), icp(r.WhaleProRataE8s), r.WhaleCandidate)
	}
}

// EngagementStatement is the paragraph of Explain for the v2 engagement
// r.Hosters[j], in one line: its interval and seconds in the period, how its
// fee H_j was computed (and whether it was capped), carry and transfer.
func EngagementStatement(r PoolResult, j int) string {
	h := &r.Hosters[j]
	L := r.PeriodEndUnixSeconds - r.PeriodStartUnixSeconds
	var b strings.Builder
	fmt.Fprintf(&b, "Hoster %s, engagement [%d, %d) (%d of the period's %d seconds): ", h.Account, h.FromUnixSeconds, h.ToUnixSeconds, h.OverlapSeconds, L)
	refund := r.Proposal != nil && r.Proposal.Status == ProposalRejected
	switch {
	case refund:
		b.WriteString("no fee, the proposal was rejected. ")
	case h.OverlapSeconds == 0:
		b.WriteString("no fee, the engagement is outside the period. ")
	default:
		fixed, fits := money.XDRToE8s(h.FixedXDRPermyriad, r.RateXDRPermyriadPerICP)
		fixedText := icpText(fixed)
		if !fits {
			fixedText = "more than the gross"
		}
		fmt.Fprintf(&b, "fee %s = (fixed %s XDR at %s XDR per ICP (%s) + %s of the gross (%s)) x %d / %d, rounded down",
			icpText(h.HosterFeeE8s), money.FormatXDRPermyriad(int64(h.FixedXDRPermyriad)), money.FormatXDRPermyriad(int64(r.RateXDRPermyriadPerICP)),
			fixedText, money.FormatBps(h.FeeBps), icpText(money.ApplyBps(r.GrossE8s, h.FeeBps)), h.OverlapSeconds, L)
		// Recomputed uncapped only for a result that could be computed
		// (an explanation of a damaged result must not divide by zero).
		if r.RateXDRPermyriadPerICP > 0 && L > 0 && h.OverlapSeconds <= L {
			if uncapped := engagementFee(r.GrossE8s, r.RateXDRPermyriadPerICP, h.FixedXDRPermyriad, h.FeeBps, h.OverlapSeconds, L, money.MaxE8s); uncapped > h.HosterFeeE8s {
				b.WriteString(", capped at what the earlier engagements left of the gross")
			}
		}
		b.WriteString(". ")
	}
	fmt.Fprintf(&b, "Carry-in %s makes %s owed. %s", icpText(h.CarryInE8s), icpText(h.OwedE8s), settlement(h.Payout, r))
	return b.String()
}

// HosterStatement is the hoster's paragraph of Explain, in one line.
func HosterStatement(r PoolResult) string {
	h := r.Hoster
	return fmt.Sprintf("Hoster %s: fee %s plus carry-in %s makes %s owed. %s", h.Account, icpText(r.HosterFeeE8s), icpText(h.CarryInE8s), icpText(h.OwedE8s), settlement(h.Payout, r))
}

// SponsorStatement is the paragraph of Explain for r.Shares[i], in one
// line: stake, share of the pool, premium or not and why, carry, transfer.
func SponsorStatement(r PoolResult, i int) string {
	icp := icpText
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	s := &r.Shares[i]
	refund := r.Proposal != nil && r.Proposal.Status == ProposalRejected
	p("Sponsor %s: stake %s of %s (%s%% of the pool). ", s.Sponsor, icp(s.StakeE8s),
		money.FormatICPUint64(r.StakeTotalE8s)+" ICP", money.FormatPercent(uint64(s.StakeE8s), r.StakeTotalE8s, 4))
	switch {
	case refund:
		p("Refund of the stake less the %s slash: %s. ", money.FormatBps(r.Proposal.SlashBps), icp(s.ShareE8s))
	case s.Sponsor == r.Whale:
		p("Whale (largest stake; ties go to the earliest first contribution, then the smallest id): premium %s instead of %s pro rata. ", icp(s.ShareE8s), icp(r.WhaleProRataE8s))
	case r.Whale != "":
		p("No premium (not the whale): pro-rata share of the %s left after the premium: %s. ", icp(r.DistributableE8s-r.PremiumE8s), icp(s.ShareE8s))
	case s.Sponsor == r.WhaleCandidate && len(r.Shares) >= 2:
		p("Largest stake, but no premium because it would not be more than the pro-rata share: %s. ", icp(s.ShareE8s))
	default:
		p("No premium applied: pro-rata share of the distributable: %s. ", icp(s.ShareE8s))
	}
	p("Carry-in %s makes %s owed. %s", icp(s.CarryInE8s), icp(s.OwedE8s()), settlement(Payout{
		OwedE8s: s.OwedE8s(), TransferE8s: s.TransferE8s, FeeE8s: s.FeeE8s, CarryOutE8s: s.CarryOutE8s,
	}, r))
	return b.String()
}

func icpText(e money.E8s) string { return money.FormatICP(e) + " ICP" }

func settlement(pay Payout, r PoolResult) string {
	if pay.TransferE8s > 0 {
		return fmt.Sprintf("Transfer %s ICP after the %s ICP ledger fee; nothing carried forward.",
			money.FormatICP(pay.TransferE8s), money.FormatICP(pay.FeeE8s))
	}
	return fmt.Sprintf("No transfer: %s ICP less the %s ICP ledger fee is below the minimum payout of %s ICP, so all %s ICP is carried to the next period.",
		money.FormatICP(pay.OwedE8s), money.FormatICP(r.LedgerFeeE8s), money.FormatICP(max(r.MinPayoutE8s, 1)), money.FormatICP(pay.CarryOutE8s))
}
