// Package rates computes the ICP/XDR rate the NNS pays node providers with:
// the 30-day average of the CMC's daily rates, floored by the network's
// minimum rate (docs/ic-interfaces.md §2.1, §3). It is pure.
//
// Model (documented choice): a day's rate is its last spot observation by
// timestamp (ties: the larger rate); the 30-day average as of an instant is
// the integer floor of the mean of the daily rates of the 30 UTC days ending
// with the instant's day, over the days that have a rate; the NNS rate is
// max(average, minimum_icp_xdr_rate * 100) in XDR permyriad per ICP.
//
// It also holds the cross-check of the certified CMC rate against the
// uncertified dashboard's (crosscheck.go): the rule that decides when two
// sources disagree enough to raise a source_mismatch alarm.
package rates
