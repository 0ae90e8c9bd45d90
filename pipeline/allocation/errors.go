package allocation

import (
	"errors"
	"fmt"
	"strconv"
)

// The error classes of this package. Every error returned by Allocate,
// SplitReward, VotingWeights and DecodePoolPeriodJSON matches exactly one of
// them with errors.Is.
var (
	// ErrInvalidInput: the input breaks the contract. Dead-letter it with the
	// message; retrying cannot help. Nothing was computed.
	ErrInvalidInput = errors.New("invalid allocation input")
	// ErrInvariant: a conservation or payout invariant failed. This is a bug
	// in the rules or the money code, never an input problem: stop and alert.
	ErrInvariant = errors.New("allocation invariant violated")
	// ErrUnknownRules: the rules version is not registered (there is no
	// default version).
	ErrUnknownRules = errors.New("unknown rules version")
)

// InputError names the offending field. Path locates the element
// (`contributions[3] (id "c17")`), Field is the JSON field name and Msg says
// what is wrong and what value was found.
type InputError struct {
	Path  string
	Field string
	Msg   string
}

func (e *InputError) Error() string {
	if e.Path != "" {
		return e.Path + ": " + e.Field + " " + e.Msg
	}
	return e.Field + " " + e.Msg
}

// Is makes every InputError match ErrInvalidInput.
func (e *InputError) Is(target error) bool { return target == ErrInvalidInput }

func inputErr(path, field, format string, args ...any) error {
	return &InputError{Path: path, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func contributionPath(i int, id string) string {
	return "contributions[" + strconv.Itoa(i) + "] (id " + strconv.Quote(id) + ")"
}

func invariantErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvariant, fmt.Sprintf(format, args...))
}
