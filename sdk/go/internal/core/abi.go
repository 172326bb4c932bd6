// Package core is the SDK's plumbing: the canonical ABI of weir's contract
// (wit/weir.wit) written by hand over Go's wasip1 `//go:wasmexport`, and the
// packed batch layout. Plugins use the packages weir, transform and validate.
package core

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"
)

// pinned holds every buffer the host was given or will read (arguments it
// lowered through cabi_realloc, results it lifts) so that the garbage
// collector keeps them until the call's post-return releases them. Go's
// collector does not move objects, so their addresses stay valid.
var pinned []any

// retArea is where an export that returns more than one value writes them.
var retArea [8]uint32

// Release drops everything pinned for the call that just finished; every
// `cabi_post_*` export calls it.
func Release() {
	clear(pinned)
	pinned = pinned[:0]
}

func addr(p unsafe.Pointer) uint32 { return uint32(uintptr(p)) }

func ptr(a uint32) unsafe.Pointer { return unsafe.Pointer(uintptr(a)) }

// Bytes is a view of n bytes of linear memory at a.
func Bytes(a, n uint32) []byte {
	if n == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(ptr(a)), n)
}

// Words is a view of n little-endian u32s of linear memory at a.
func Words(a, n uint32) []uint32 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(ptr(a)), n)
}

// String copies n bytes at a into a Go string.
func String(a, n uint32) string { return string(Bytes(a, n)) }

// Lower pins b and returns its address and length for the host.
func Lower(b []byte) (uint32, uint32) {
	if len(b) == 0 {
		return 0, 0
	}
	pinned = append(pinned, b)
	return addr(unsafe.Pointer(unsafe.SliceData(b))), uint32(len(b))
}

// LowerWords pins w and returns its address and length (in elements).
func LowerWords(w []uint32) (uint32, uint32) {
	if len(w) == 0 {
		return 0, 0
	}
	pinned = append(pinned, w)
	return addr(unsafe.Pointer(unsafe.SliceData(w))), uint32(len(w))
}

// cabi_realloc is how the host (and the WASI adapter) allocate in the
// plugin's memory. The adapter calls it while the Go runtime is still
// starting (in `_initialize`, for its own 64 KiB stack and its state), so
// until package initialisation has run it takes memory from a static arena,
// outside the collected heap. After
// that it allocates from the heap and pins the buffer until the call's
// post-return. A collection inside cabi_realloc would read the monotonic
// clock, an import the component model forbids during realloc, so the
// adapter is told to answer from its cached value meanwhile.
//
//go:wasmexport cabi_realloc
func cabiRealloc(oldPtr, oldLen, align, newLen uint32) uint32 {
	if newLen == 0 {
		return align
	}
	if align > 8 {
		panic(fmt.Sprintf("cabi_realloc: alignment %d is not supported", align))
	}
	var p unsafe.Pointer
	if !started {
		at := (earlyUsed + align - 1) &^ (align - 1)
		if uint64(at)+uint64(newLen) > uint64(len(earlyArena)) {
			// The runtime cannot report this yet; the panic ends in a trap.
			panic("cabi_realloc: the arena for allocations before start-up is exhausted")
		}
		earlyUsed = at + newLen
		p = unsafe.Pointer(&earlyArena[at])
	} else {
		adapterClockPaused(true)
		buf := make([]uint64, (newLen+7)/8)
		pinned = append(pinned, buf)
		adapterClockPaused(false)
		p = unsafe.Pointer(unsafe.SliceData(buf))
	}
	if oldPtr != 0 {
		copy(unsafe.Slice((*byte)(p), newLen), Bytes(oldPtr, min(oldLen, newLen)))
	}
	return addr(p)
}

// started is set by package initialisation, after the runtime is up.
var started = false

func init() { started = true }

// earlyArena serves cabi_realloc before the runtime has started.
var (
	earlyArena [256 << 10]byte
	earlyUsed  uint32
)

//go:wasmimport wasi_snapshot_preview1 adapter_monotonic_clock_set_paused
func adapterClockPaused(paused bool)

//go:wasmimport weir:plugin/host@0.1.0 log
func hostLog(level uint32, message unsafe.Pointer, length uint32)

// Log writes message to weir's log at level (0 trace .. 4 error).
func Log(level uint32, message string) {
	hostLog(level, unsafe.Pointer(unsafe.StringData(message)), uint32(len(message)))
}

// ReadConfig lifts a `list<tuple<string, string>>` at a with n entries.
func ReadConfig(a, n uint32) *Config {
	words := Words(a, 4*n)
	entries := make([][2]string, n)
	for i := range entries {
		w := words[4*i:]
		entries[i] = [2]string{String(w[0], w[1]), String(w[2], w[3])}
	}
	return &Config{entries: entries}
}

// ResultOk lowers `result<_, string>`'s ok case.
func ResultOk() uint32 {
	retArea[0] = 0
	return addr(unsafe.Pointer(&retArea))
}

// ResultErr lowers `result<_, string>`'s error case.
func ResultErr(message string) uint32 {
	retArea[0] = 1
	retArea[1], retArea[2] = Lower([]byte(message))
	return addr(unsafe.Pointer(&retArea))
}

// Guard turns a panic in the plugin into a trap that weir dead-letters with
// `plugin panicked at <file>:<line>: <value>`: it writes that line to
// standard error, which weir captures, and traps. Deferred by every export.
func Guard() {
	r := recover()
	if r == nil {
		return
	}
	fmt.Fprintf(os.Stderr, "plugin panicked at %s: %v\n", panicSite(), r)
	// Not os.Exit: weir takes an exit for a broken plugin, not a trap.
	trap()
}

// trap executes wasm's `unreachable` (trap_wasm.s).
func trap()

// panicSite is the file and line of the code that panicked: the first frame
// below runtime.gopanic that is not in the runtime.
func panicSite() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	seenPanic := false
	for {
		frame, more := frames.Next()
		if frame.Function == "runtime.gopanic" {
			seenPanic = true
		} else if seenPanic && !strings.HasPrefix(frame.Function, "runtime.") {
			return fmt.Sprintf("%s:%d", filepath.Base(frame.File), frame.Line)
		}
		if !more {
			return "unknown location"
		}
	}
}
