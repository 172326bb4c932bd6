// Package weir is the Go SDK for weir plugins: the event, emitter, config,
// keyed state and log types a plugin uses. A plugin registers itself with
// transform.Export or validate.Export from an init function.
//
// # Keyed state
//
// A transform's input event has keyed state, small named values weir keeps
// per key-by key for the stage, so that a plugin remembers what it has seen
// of a key (a running count, the last value) without keeping anything
// itself:
//
//	func (f *FirstPerKey) Transform(event *weir.Event, out *weir.Emitter) error {
//		state := event.State()
//		if _, seen := state.Get("seen"); !seen {
//			state.Set("seen", []byte("1"))
//			out.Keep()
//		}
//		return nil
//	}
//
// event.State() reaches only that event's key in this stage. Get returns a
// copy of the value and whether there is one; Set and SetWithTTL store one
// (with a time-to-live, until the watermark passes the event's time plus
// ttlMs, so expiry needs an [event_time]); Delete removes one. Changes count
// only if the event is not rejected (Transform returns nil) and the call does
// not trap; within a batch, events see the changes made before them, also
// those of an event that was then rejected, so check an event before
// changing state for it. The pipeline needs a [key_by].
//
// A component imports weir:plugin/state only if the plugin calls State
// (Go's linker drops the imports otherwise), and weir opens a state store
// only for such plugins. State on an event the plugin built panics; a
// validator that calls it does not build, since the validate world has no
// keyed state.
package weir

import (
	"fmt"

	"weir.dev/sdk/internal/core"
)

type (
	// Event is one event; its slices are valid only during the call.
	Event = core.Event
	// Header is one event header.
	Header = core.Header
	// Emitter receives what a transform emits for one input event:
	// Keep, EmitValue or Emit; emitting nothing drops the event.
	Emitter = core.Emitter
	// Config is the stage's configuration: Get, Require, Lookup, Entries.
	Config = core.Config
	// State is the keyed state of an input event's key, from Event.State:
	// Get, Set, SetWithTTL, Delete.
	State = core.State
)

// NewConfig makes a Config from key/value pairs, for tests.
func NewConfig(entries ...[2]string) *Config { return core.NewConfig(entries...) }

// Trace writes a line to weir's log (rate limited per stage).
func Trace(format string, args ...any) { core.Log(0, fmt.Sprintf(format, args...)) }

// Debug writes a line to weir's log.
func Debug(format string, args ...any) { core.Log(1, fmt.Sprintf(format, args...)) }

// Info writes a line to weir's log.
func Info(format string, args ...any) { core.Log(2, fmt.Sprintf(format, args...)) }

// Warn writes a line to weir's log.
func Warn(format string, args ...any) { core.Log(3, fmt.Sprintf(format, args...)) }

// Error writes a line to weir's log.
func Error(format string, args ...any) { core.Log(4, fmt.Sprintf(format, args...)) }
