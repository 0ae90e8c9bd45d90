package serve

import "fmt"

// InputError is a request the pages cannot answer as asked: a value that
// does not parse. It names the field and the value (connectors/web
// answers 400 with the message, escaped).
type InputError struct {
	Field, Value, Reason string
}

func (e *InputError) Error() string { return fmt.Sprintf("%s %q: %s", e.Field, e.Value, e.Reason) }

// BadInput marks the error as the asker's (HTTP 400).
func (e *InputError) BadInput() bool { return true }

// NotFoundError is a DAO, a period or a page that is not served here
// (HTTP 404).
type NotFoundError struct {
	What, Value string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s %q is not served here", e.What, e.Value)
}

// NotFound marks the error as a missing page (HTTP 404).
func (e *NotFoundError) NotFound() bool { return true }
