package lifecycle

import (
	"fmt"
	"strings"
	"time"
)

// Time is an RFC 3339 instant together with the text it was written as.
// Rules compare instants ("2026-01-01T01:00:00+01:00" equals
// "2026-01-01T00:00:00Z"); the output copies the text verbatim
// (docs/pool-rules.md "Time"). The zero Time is "no time"; ParseTime is the
// only way to make another.
//
// The instant is kept exactly: whole seconds since the Unix epoch, the first
// nine fractional digits as nanoseconds, and any further digits as text
// with trailing zeros removed, so two instants that differ in the 12th
// decimal still compare as different and nothing is rounded.
type Time struct {
	text string
	sec  int64
	nsec int32
	sub  string // fractional digits beyond the ninth, trailing zeros trimmed
}

// ParseTime parses an RFC 3339 date-time (RFC 3339 section 5.6):
// YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), with "T" and "Z" in
// either case as the RFC allows. Anything else is an error: a date alone,
// a space instead of "T", a missing offset, an out-of-range field, or a leap
// second (second 60, which no clock in the pipeline produces).
func ParseTime(s string) (Time, error) {
	bad := func(why string) (Time, error) {
		return Time{}, fmt.Errorf("must be an RFC 3339 time such as \"2026-01-02T00:00:00Z\" (%s), got %s", why, quote(s))
	}
	if len(s) < len("2006-01-02T15:04:05") {
		return bad("too short")
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	second, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || s[4] != '-' || s[7] != '-' ||
		(s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return bad("not YYYY-MM-DDTHH:MM:SS")
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return bad("no such date")
	}
	if hour > 23 || minute > 59 || second > 59 {
		return bad("no such time of day")
	}
	rest := s[19:] // after the seconds
	var nsec int32
	var sub string
	if strings.HasPrefix(rest, ".") {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		digits := rest[1:i]
		if digits == "" {
			return bad("a fraction needs digits")
		}
		for j := 0; j < 9; j++ {
			nsec *= 10
			if j < len(digits) {
				nsec += int32(digits[j] - '0')
			}
		}
		if len(digits) > 9 {
			sub = strings.TrimRight(digits[9:], "0")
		}
		rest = rest[i:]
	}
	var offset int
	switch {
	case rest == "Z" || rest == "z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := num(len(s)-5, 2)
		om, ok2 := num(len(s)-2, 2)
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return bad("bad offset")
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return bad("needs an offset: Z or +HH:MM")
	}
	sec := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC).Unix() - int64(offset)
	return Time{text: s, sec: sec, nsec: nsec, sub: sub}, nil
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// String is the text the time was parsed from.
func (t Time) String() string { return t.text }

// IsZero reports whether t is the zero Time (no time).
func (t Time) IsZero() bool { return t.text == "" }

// Compare compares the instants: -1 if t is before u, 0 if they are the
// same instant (whatever their text), +1 if t is after u.
func (t Time) Compare(u Time) int {
	switch {
	case t.sec != u.sec:
		return cmp3(t.sec < u.sec)
	case t.nsec != u.nsec:
		return cmp3(t.nsec < u.nsec)
	}
	// Both are digit strings without trailing zeros: their byte order is
	// their numeric order as fractions ("05" < "5" < "51").
	return strings.Compare(t.sub, u.sub)
}

// Before reports whether t is strictly before u.
func (t Time) Before(u Time) bool { return t.Compare(u) < 0 }

func cmp3(less bool) int {
	if less {
		return -1
	}
	return 1
}

// CeilUnixSeconds is the first whole Unix second at or after t: the
// instant, in the integer seconds of the allocation rules (ALLOCATION_RULES
// "Version v2"), from which something that happens at t is in force.
func (t Time) CeilUnixSeconds() int64 {
	if t.nsec > 0 || t.sub != "" {
		return t.sec + 1
	}
	return t.sec
}
