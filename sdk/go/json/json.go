// Package json finds one field of a JSON value without reformatting it:
// Find validates the whole document (strict RFC 8259, with encoding/json's
// scanner) and returns the raw bytes of the value at a dotted path, so a
// plugin can compare a field's exact JSON text. Path segments name object
// members; a segment of digits also indexes arrays (`items.0.sku`). When an
// object has a member twice, the first one is followed.
package json

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Path is a parsed dotted field path such as `payer.country` or `items.0`.
type Path struct {
	text     string
	segments []segment
}

type segment struct {
	name  string
	index int // -1 unless the segment is all digits
}

// ParsePath parses a dotted path; it fails on an empty path or segment.
func ParsePath(text string) (Path, error) {
	if text == "" {
		return Path{}, errors.New("empty field path")
	}
	p := Path{text: text}
	for _, part := range strings.Split(text, ".") {
		if part == "" {
			return Path{}, fmt.Errorf("empty segment in field path `%s`", text)
		}
		index := -1
		if strings.Trim(part, "0123456789") == "" {
			if n, err := strconv.Atoi(part); err == nil {
				index = n
			}
		}
		p.segments = append(p.segments, segment{part, index})
	}
	return p, nil
}

// String is the path as written.
func (p Path) String() string { return p.text }

// Validate fails, saying where and why, when value is not JSON.
//
// FIXME: encoding/json accepts lone `\u` surrogate escapes and nesting up
// to 10000 levels, which weir's scanner refuses (it stops at 128), and words
// its errors its own way.
func Validate(value []byte) error {
	if !utf8.Valid(value) {
		return errors.New("invalid json: invalid utf-8")
	}
	if stdjson.Valid(value) {
		return nil
	}
	var raw stdjson.RawMessage
	err := stdjson.Unmarshal(value, &raw)
	var syntax *stdjson.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Errorf("invalid json at byte %d: %s", max(syntax.Offset-1, 0), syntax.Error())
	}
	if err == nil {
		err = errors.New("not a json value")
	}
	return fmt.Errorf("invalid json: %v", err)
}

// Find returns the raw bytes of the value at path, or ok == false when there
// is none; it fails when value is not JSON.
func Find(value []byte, path Path) (raw []byte, ok bool, err error) {
	if err := Validate(value); err != nil {
		return nil, false, err
	}
	i := skipSpace(value, 0)
	for _, seg := range path.segments {
		if value[i] == '{' {
			i = member(value, i, seg.name)
		} else {
			i = element(value, i, seg.index)
		}
		if i < 0 {
			return nil, false, nil
		}
	}
	return value[i:skipValue(value, i)], true, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at i.
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

// skipValue returns the index just past the value starting at i.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
	default:
		for i < len(b) && !bytes.ContainsRune([]byte(",}] \t\n\r"), rune(b[i])) {
			i++
		}
		return i
	}
	depth := 0
	for {
		switch b[i] {
		case '"':
			i = skipString(b, i)
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
}

func member(b []byte, i int, name string) int {
	i = skipSpace(b, i+1)
	for b[i] == '"' {
		end := skipString(b, i)
		key := b[i+1 : end-1]
		matches := string(key) == name
		if bytes.IndexByte(key, '\\') >= 0 {
			var unescaped string
			_ = stdjson.Unmarshal(b[i:end], &unescaped)
			matches = unescaped == name
		}
		i = skipSpace(b, skipSpace(b, end)+1)
		if matches {
			return i
		}
		i = skipSpace(b, skipValue(b, i))
		if b[i] == '}' {
			return -1
		}
		i = skipSpace(b, i+1)
	}
	return -1
}

func element(b []byte, i int, index int) int {
	if b[i] != '[' || index < 0 {
		return -1
	}
	i = skipSpace(b, i+1)
	if b[i] == ']' {
		return -1
	}
	for n := 0; ; n++ {
		if n == index {
			return i
		}
		i = skipSpace(b, skipValue(b, i))
		if b[i] == ']' {
			return -1
		}
		i = skipSpace(b, i+1)
	}
}

// Kind is the kind of a JSON value.
type Kind int

// The kinds of JSON values.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// Scalar is one interpreted JSON value.
type Scalar struct {
	Kind Kind
	// Number for Number, Bool for Bool, String (unescaped) for String.
	Number float64
	Bool   bool
	String string
}

// Interpret reads the raw bytes of one valid JSON value, as Find returns.
func Interpret(raw []byte) Scalar {
	switch raw[0] {
	case '"':
		var s string
		_ = stdjson.Unmarshal(raw, &s)
		return Scalar{Kind: String, String: s}
	case '{':
		return Scalar{Kind: Object}
	case '[':
		return Scalar{Kind: Array}
	case 't':
		return Scalar{Kind: Bool, Bool: true}
	case 'f':
		return Scalar{Kind: Bool}
	case 'n':
		return Scalar{Kind: Null}
	}
	// A JSON number is valid Go float syntax; out of range gives ±Inf.
	n, _ := strconv.ParseFloat(string(raw), 64)
	return Scalar{Kind: Number, Number: n}
}
