package core

import (
	"runtime/debug"
	"unsafe"
)

// State is the keyed state of one input event's key in this stage: small
// named values weir keeps per key-by key, so that a plugin remembers what it
// has seen of a key without keeping anything itself. Get one with
// Event.State; see the package weir documentation.
type State struct {
	index uint32
}

// State returns the keyed state of the event's key. Only the input events
// of a transform have one: State panics (a trap) for an event the plugin
// built and for a validator's.
func (e *Event) State() State {
	if e.slot == 0 {
		panic("weir: keyed state belongs to the input events of a transform; " +
			"this event was built by the plugin or given to a validator")
	}
	return State{index: e.slot - 1}
}

// Get returns a copy of the value stored under name, and whether there is
// one.
func (s State) Get(name string) ([]byte, bool) {
	stateRet = [3]uint32{}
	// The host lowers the value through cabi_realloc while this import call
	// is under way. A collection that starts inside that allocation reaches
	// imports beyond the adapter's paused clock, which the component model
	// forbids there: the call would trap with "cannot leave component
	// instance" (tests/state-gc). So the collector is off for the call;
	// turning it off first finishes a collection already under way, here,
	// where imports are allowed.
	gcPercent := debug.SetGCPercent(-1)
	stateGet(s.index, unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)), unsafe.Pointer(&stateRet))
	debug.SetGCPercent(gcPercent)
	if uint8(stateRet[0]) == 0 {
		return nil, false
	}
	// The host allocated the bytes through cabi_realloc, which pins them
	// until the call's post-return; the copy is the plugin's to keep.
	value := make([]byte, stateRet[2])
	copy(value, Bytes(stateRet[1], stateRet[2]))
	return value, true
}

// Set stores value under name.
func (s State) Set(name string, value []byte) {
	s.set(name, value, 0, 0)
}

// SetWithTTL stores value under name until the pipeline's watermark passes
// this event's time plus ttlMs milliseconds.
func (s State) SetWithTTL(name string, value []byte, ttlMs uint64) {
	s.set(name, value, 1, ttlMs)
}

func (s State) set(name string, value []byte, hasTTL uint32, ttlMs uint64) {
	stateSet(s.index,
		unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)),
		unsafe.Pointer(unsafe.SliceData(value)), uint32(len(value)),
		hasTTL, ttlMs)
}

// Delete deletes the value stored under name (nothing when there is none).
func (s State) Delete(name string) {
	stateDelete(s.index, unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)))
}

// stateRet is where the host writes `get`'s `option<list<u8>>`: the case
// (a byte) at offset 0, then the list's address and length. It is not on a
// goroutine's stack, which may move while the host calls cabi_realloc.
var stateRet [3]uint32

// The canonical ABI of `interface state` (wit/weir.wit), lowered by hand.
// A plugin that never calls State imports none of them: Go's linker drops
// functions nothing calls, and `wasm-tools component new` then leaves
// `weir:plugin/state` out of the component.

//go:wasmimport weir:plugin/state@0.1.0 get
func stateGet(event uint32, name unsafe.Pointer, nameLen uint32, ret unsafe.Pointer)

//go:wasmimport weir:plugin/state@0.1.0 set
func stateSet(event uint32, name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32, hasTTL uint32, ttlMs uint64)

//go:wasmimport weir:plugin/state@0.1.0 delete
func stateDelete(event uint32, name unsafe.Pointer, nameLen uint32)
