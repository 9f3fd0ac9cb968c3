package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/chatwidget/chatwidget"
)

// maxInput bounds what a command reads from a file or stdin.
const maxInput = 1 << 20

// readInput reads the file named by arg, or stdin when arg is "" or "-". It
// returns the contents and a name for messages.
func readInput(e *env, arg string) ([]byte, string, error) {
	r, name := e.stdin, "stdin"
	if arg != "" && arg != "-" {
		f, err := os.Open(arg)
		if err != nil {
			return nil, arg, err
		}
		defer f.Close()
		r, name = f, arg
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, name, err
	}
	if len(b) > maxInput {
		return nil, name, fmt.Errorf("%s holds more than %d bytes", name, maxInput)
	}
	return b, name, nil
}

// ignoredClaims are set by the signer; a value in the input is dropped with a
// warning.
var ignoredClaims = map[string]bool{"isLoggedIn": true, "iat": true, "exp": true}

// rejectedClaims are registered JWT claims that a claims file may not set.
var rejectedClaims = map[string]bool{"iss": true, "aud": true, "nbf": true, "jti": true}

// parseVisitor turns a claims JSON object into a Visitor. "name" is required,
// "email" and "sub" are strings, every other key a custom field with a
// string, number or bool value. Claims the signer sets are dropped with a
// warning given to warn; registered claims are an error. src names the
// input in messages.
func parseVisitor(b []byte, src string, warn warnFunc) (*chatwidget.Visitor, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: claims must be a JSON object: %w", src, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%s: claims must be a JSON object, not null", src)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: claims must be a single JSON object; found more after it", src)
	}
	v := &chatwidget.Visitor{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // warnings and errors in a stable order
	for _, k := range keys {
		if err := setClaim(v, k, m[k], warn); err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
	}
	if v.Name == "" {
		return nil, fmt.Errorf(`%s: claim "name" is required: the visitor's display name, a non-empty string`, src)
	}
	return v, nil
}

// setClaim sets the claim k of v to val.
func setClaim(v *chatwidget.Visitor, k string, val any, warn warnFunc) error {
	switch {
	case ignoredClaims[k]:
		warn("claim %q ignored: the signer sets it", k)
		return nil
	case rejectedClaims[k]:
		return fmt.Errorf("claim %q is a registered JWT claim and cannot be set here; rename the field", k)
	case k == "":
		return errors.New("a claim has an empty name")
	case k == "name" || k == "email" || k == "sub":
		s, ok := val.(string)
		if !ok {
			return fmt.Errorf("claim %q must be a string, not %s", k, jsonKind(val))
		}
		switch k {
		case "name":
			v.Name = s
		case "email":
			v.Email = s
		default:
			v.Subject = s
		}
		return nil
	}
	f, err := fieldValue(val)
	if err != nil {
		return fmt.Errorf("field %q: %w", k, err)
	}
	if v.Fields == nil {
		v.Fields = make(map[string]any)
	}
	v.Fields[k] = f
	return nil
}

// fieldValue converts a custom field's JSON value to what Visitor.Fields
// holds: a string, a bool, an int64 when the number is an integer that fits,
// else a float64.
func fieldValue(val any) (any, error) {
	switch x := val.(type) {
	case string, bool:
		return x, nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		if !strings.ContainsAny(x.String(), ".eE") {
			return nil, fmt.Errorf("integer %s does not fit in 64 bits; send it as a string", x)
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s is out of range", x)
		}
		return f, nil
	}
	return nil, fmt.Errorf("value must be a string, number or bool, not %s", jsonKind(val))
}

// jsonKind names the JSON type of a decoded value.
func jsonKind(val any) string {
	switch val.(type) {
	case nil:
		return "null"
	case bool:
		return "a bool"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", val)
}
