package lifecycle

import (
	"errors"
	"fmt"
)

// The error classes of this package. Every error returned by New, Apply,
// Replay and ReplayJSON matches exactly one of them with errors.Is.
var (
	// ErrInvalidInput: the terms or a fact break the rules (docs/pool-rules.md
	// "Invalid input"). Dead-letter the fact with the message; retrying
	// cannot help. Apply leaves the pool unchanged when it returns this.
	ErrInvalidInput = errors.New("invalid pool lifecycle input")
	// ErrInvariant: conservation or another invariant failed after a fact.
	// This is a bug in the rules code, never an input problem: stop and
	// alert. The pool must not be used after it.
	ErrInvariant = errors.New("pool lifecycle invariant violated")
)

// InputError names the place of the offending value, the way the contract
// writes it (`terms.target_e8s`, `facts[7].amount_e8s`), and says what is
// wrong with the value found.
//
// Apply does not know a fact's position in a list, so its places are
// relative to the fact (`amount_e8s`); Replay prefixes them with
// `facts[i].`. New's places start with `terms.`.
type InputError struct {
	Place string
	Msg   string
}

func (e *InputError) Error() string {
	if e.Place == "" {
		return e.Msg
	}
	return e.Place + ": " + e.Msg
}

// Is makes every InputError match ErrInvalidInput.
func (e *InputError) Is(target error) bool { return target == ErrInvalidInput }

func inputErr(place, format string, args ...any) *InputError {
	return &InputError{Place: place, Msg: fmt.Sprintf(format, args...)}
}

// within prefixes err's place with prefix ("facts[3]"); any other error
// (an invariant) is wrapped with the prefix, keeping its class.
func within(prefix string, err error) error {
	var ie *InputError
	if !errors.As(err, &ie) {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	place := prefix
	if ie.Place != "" {
		place = prefix + "." + ie.Place
	}
	return &InputError{Place: place, Msg: ie.Msg}
}

func invariantErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvariant, fmt.Sprintf(format, args...))
}

// quote writes a value from the input into a message: quoted, and cut
// after 80 bytes so a megabyte string does not become a megabyte message.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
