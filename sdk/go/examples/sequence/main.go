// sequence: numbers the events of each key with weir's keyed state; the
// same behaviour and messages as plugins/sequence (its doc comment is the
// specification).
//
// Each event that is a JSON object gets a member `"seq":N` in front, where N
// counts the events of its key-by key so far, this one included. Config
// (optional): `field`, the member's name (default `seq`); `ttl_ms`, how long
// after a key's last event its count is kept (by event time). An event whose
// value is not a JSON object is refused.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"weir.dev/sdk"
	"weir.dev/sdk/json"
	"weir.dev/sdk/transform"
)

// count is the state name the count is stored under: 8 bytes, a
// little-endian uint64.
const count = "count"

type Sequence struct {
	member []byte // `"<field>":`, escaped once
	ttlMs  uint64 // 0: no time-to-live
}

func New(config *weir.Config) (*Sequence, error) {
	field := config.Get("field", "seq")
	if field == "" {
		return nil, errors.New("config `field`: must not be empty")
	}
	s := &Sequence{member: append(jsonString(nil, field), ':')}
	if text, ok := config.Lookup("ttl_ms"); ok {
		ttl, ok := parseU64(text)
		if !ok || ttl == 0 {
			return nil, fmt.Errorf("config `ttl_ms`: expected a positive whole number of milliseconds, got `%s`", text)
		}
		s.ttlMs = ttl
	}
	return s, nil
}

// parseU64 accepts what Rust's `str::parse::<u64>` does: an optional `+`
// and ASCII digits, at most 2^64-1.
func parseU64(text string) (uint64, bool) {
	digits := strings.TrimPrefix(text, "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}

// jsonString appends text as a JSON string, escaped as weir-json's
// push_string does: quote, backslash and control characters only.
func jsonString(dst []byte, text string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '"':
			dst = append(dst, '\\', '"')
		case c == '\\':
			dst = append(dst, '\\', '\\')
		case c < 0x20:
			dst = fmt.Appendf(dst, "\\u%04x", c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// trimASCII drops ASCII whitespace at both ends, as Rust's `trim_ascii`.
func trimASCII(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// numbered returns value with the member for n in front, if it is a JSON
// object.
func (s *Sequence) numbered(value []byte, n uint64) ([]byte, error) {
	if err := json.Validate(value); err != nil {
		return nil, fmt.Errorf("value is not json: %w", err)
	}
	text := trimASCII(value)
	if len(text) < 2 || text[0] != '{' || text[len(text)-1] != '}' {
		return nil, errors.New("value is not a json object")
	}
	inner := text[1 : len(text)-1]
	out := make([]byte, 0, len(value)+len(s.member)+24)
	out = append(out, '{')
	out = append(out, s.member...)
	out = strconv.AppendUint(out, n, 10)
	if len(trimASCII(inner)) > 0 {
		out = append(out, ',')
		out = append(out, inner...)
	}
	return append(out, '}'), nil
}

func (s *Sequence) Transform(event *weir.Event, out *weir.Emitter) error {
	state := event.State()
	var seen uint64
	if stored, ok := state.Get(count); ok {
		if len(stored) != 8 {
			return fmt.Errorf("stored count is %d bytes, not 8", len(stored))
		}
		seen = binary.LittleEndian.Uint64(stored)
	}
	n := seen + 1 // wraps as the Rust plugin's release build does
	value, err := s.numbered(event.Value, n)
	if err != nil {
		return err
	}
	stored := binary.LittleEndian.AppendUint64(nil, n)
	if s.ttlMs != 0 {
		state.SetWithTTL(count, stored, s.ttlMs)
	} else {
		state.Set(count, stored)
	}
	out.EmitValue(value)
	return nil
}

func init() { transform.Export(New) }

func main() {}
