package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// JSONPosition is where byte offset lies in data, as people count: line
// and column from 1 (a column counts bytes).
func JSONPosition(data []byte, offset int64) (line, column int) {
	if offset < 0 {
		offset = 0
	}
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte{'\n'}) + 1
	column = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, column
}

// JSONErrorAt rewrites a decoding error of data to name the line and
// column of a syntax or type error (the message keeps encoding/json's
// words); other errors are returned as they are.
func JSONErrorAt(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset counts the bytes read, the offending one included.
		l, c := JSONPosition(data, se.Offset-1)
		return fmt.Errorf("invalid JSON at line %d, column %d (byte %d): %w", l, c, se.Offset, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		l, c := JSONPosition(data, te.Offset-1)
		return fmt.Errorf("at line %d, column %d: %w", l, c, err)
	}
	return err
}

// ValidateID checks an id that becomes part of a record key: not empty,
// and without the key separator "/" (docs/pipeline.md "Keys").
func ValidateID(field, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s is empty", field)
	case bytes.IndexByte([]byte(id), '/') >= 0:
		return fmt.Errorf("%s must not contain '/' (the key separator), got %q", field, id)
	}
	return nil
}
