package trigger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FieldError is a problem with a JSON object given from outside (a manual
// payload, a request body). Code is stable: "unknown_field" or
// "invalid_body".
type FieldError struct {
	Code    string
	Message string
}

func (e *FieldError) Error() string { return e.Message }

// DecodeObject reads an optional JSON object whose field names are all in
// allowed, spelled exactly (JSON decoding into a struct would take "MODE"
// for "mode"), each at most once (it would let the last of two win). An
// empty body is an empty object. what names the object in messages
// ("body", "manual payload").
func DecodeObject(body []byte, what string, allowed ...string) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return out, nil
	}
	bad := func(msg string) error { return &FieldError{Code: "invalid_body", Message: what + ": " + msg} }
	if body[0] != '{' {
		return nil, bad("must be a JSON object")
	}
	if !utf8.Valid(body) {
		return nil, bad("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return nil, bad("malformed JSON: " + err.Error())
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("malformed JSON: " + err.Error())
		}
		name, ok := tok.(string)
		if !ok {
			return nil, bad("malformed JSON: expected a field name")
		}
		if !slices.Contains(allowed, name) {
			return nil, &FieldError{Code: "unknown_field", Message: fmt.Sprintf("%s: unknown field %s (allowed: %s)", what, Quote(name, 40), strings.Join(allowed, ", "))}
		}
		if _, dup := out[name]; dup {
			return nil, bad("field " + strconv.Quote(name) + " given twice")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, bad("malformed JSON: " + err.Error())
		}
		out[name] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad("malformed JSON: " + err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad("trailing data after the JSON object")
	}
	return out, nil
}

// Quote shows a bounded, printable form of outside input in a message.
func Quote(s string, max int) string {
	r := []rune(s)
	if len(r) > max {
		return strconv.Quote(string(r[:max])) + "…"
	}
	return strconv.Quote(s)
}
