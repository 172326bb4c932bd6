// filter: keeps the events whose JSON field compares true against a
// configured value and drops the rest; the same behaviour and messages as
// plugins/filter (its README is the specification).
package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"weir.dev/sdk"
	"weir.dev/sdk/json"
	"weir.dev/sdk/transform"
)

var ops = []string{"==", "!=", "<", ">", "<=", ">=", "contains"}

type Filter struct {
	field   json.Path
	op      string
	value   []byte
	number  float64
	numeric bool // value is a JSON number
	missing string
}

func New(config *weir.Config) (*Filter, error) {
	text, err := config.Require("field")
	if err != nil {
		return nil, err
	}
	field, err := json.ParsePath(text)
	if err != nil {
		return nil, fmt.Errorf("config `field`: %w", err)
	}
	op, err := config.Require("op")
	if err != nil {
		return nil, err
	}
	if !slices.Contains(ops, op) {
		return nil, fmt.Errorf("config `op`: unknown operator `%s`, expected one of ==, !=, <, >, <=, >=, contains", op)
	}
	value, err := config.Require("value")
	if err != nil {
		return nil, err
	}
	missing := config.Get("missing", "drop")
	if missing != "drop" && missing != "keep" && missing != "reject" {
		return nil, fmt.Errorf("config `missing`: unknown value `%s`, expected one of drop, keep, reject", missing)
	}
	f := &Filter{field: field, op: op, value: []byte(value), missing: missing}
	if json.Validate([]byte(value)) == nil {
		if s := json.Interpret([]byte(strings.TrimSpace(value))); s.Kind == json.Number {
			f.number, f.numeric = s.Number, true
		}
	}
	return f, nil
}

func (f *Filter) Transform(event *weir.Event, out *weir.Emitter) error {
	raw, found, err := json.Find(event.Value, f.field)
	if err != nil {
		return fmt.Errorf("value is not json: %w", err)
	}
	if !found {
		switch f.missing {
		case "reject":
			return fmt.Errorf("field `%s` is missing", f.field)
		case "keep":
			out.Keep()
		}
		return nil
	}
	if f.matches(raw) {
		out.Keep()
	}
	return nil
}

func (f *Filter) matches(raw []byte) bool {
	s := json.Interpret(raw)
	if s.Kind == json.Number && f.numeric {
		if f.op == "contains" {
			return bytes.Contains(raw, f.value)
		}
		if s.Number != s.Number || f.number != f.number { // NaN
			return f.op == "!="
		}
		return f.holds(cmp(s.Number, f.number))
	}
	// Strings compare their unescaped text; anything else its JSON text.
	text := raw
	if s.Kind == json.String {
		text = []byte(s.String)
	}
	if f.op == "contains" {
		return bytes.Contains(text, f.value)
	}
	return f.holds(bytes.Compare(text, f.value))
}

func cmp(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (f *Filter) holds(ordering int) bool {
	switch f.op {
	case "==":
		return ordering == 0
	case "!=":
		return ordering != 0
	case "<":
		return ordering < 0
	case ">":
		return ordering > 0
	case "<=":
		return ordering <= 0
	}
	return ordering >= 0
}

func init() { transform.Export(New) }

func main() {}
