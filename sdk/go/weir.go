// FIXME: keyed state (weir:plugin/state, Event::state in the Rust SDK) has no
// Go helper yet; the Rust SDK is the only one that offers it.

// Package weir is the Go SDK for weir plugins: the event, emitter, config
// and log types a plugin uses. A plugin registers itself with
// transform.Export or validate.Export from an init function.
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
