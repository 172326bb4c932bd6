package core

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Header is one event header.
type Header struct {
	Name  string
	Value []byte
}

// Event is one event. Its byte slices point into the input batch and are
// valid only during the call that received it; copy what you keep.
type Event struct {
	// Time is the event time in milliseconds since the Unix epoch.
	Time int64
	// Key is nil when the event has no key (an empty key is a non-nil,
	// empty slice).
	Key     []byte
	Headers []Header
	Value   []byte

	// slot is one more than the event's index in its input batch, which
	// keyed state names it by; 0 for events the plugin builds and a
	// validator's.
	slot uint32
}

// Header returns the value of the first header called name.
func (e *Event) Header(name string) ([]byte, bool) {
	for _, h := range e.Headers {
		if h.Name == name {
			return h.Value, true
		}
	}
	return nil, false
}

// Batch is an input batch in weir's packed layout.
type Batch struct {
	frames []byte
	ends   []uint32
}

// ReadBatch views the batch the host lowered at these addresses.
func ReadBatch(framesPtr, framesLen, endsPtr, endsLen uint32) Batch {
	return Batch{frames: Bytes(framesPtr, framesLen), ends: Words(endsPtr, endsLen)}
}

// Len is the number of events.
func (b Batch) Len() int { return len(b.ends) }

// Frame is the packed frame of event i.
func (b Batch) Frame(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.frames[start:b.ends[i]]
}

// DecodeInput unpacks frame index of a transform's input batch: an event
// with keyed state (Event.State).
func DecodeInput(frame []byte, index int) Event {
	e := Decode(frame)
	e.slot = uint32(index) + 1
	return e
}

// Decode unpacks a frame; a malformed frame is weir's bug and panics.
func Decode(frame []byte) Event {
	r := reader{b: frame}
	e := Event{Time: int64(r.u64())}
	if n := r.u32(); n != 0xffffffff {
		e.Key = r.bytes(n)
	}
	count := r.u32()
	if count > 0 {
		e.Headers = make([]Header, count)
		for i := range e.Headers {
			e.Headers[i].Name = string(r.bytes(r.u32()))
			e.Headers[i].Value = r.bytes(r.u32())
		}
	}
	e.Value = r.b[r.at:]
	return e
}

type reader struct {
	b  []byte
	at int
}

func (r *reader) bytes(n uint32) []byte {
	if uint64(len(r.b)-r.at) < uint64(n) {
		panic(fmt.Sprintf("malformed frame from weir: %d bytes wanted at %d of %d", n, r.at, len(r.b)))
	}
	s := r.b[r.at : r.at+int(n) : r.at+int(n)]
	r.at += int(n)
	return s
}

func (r *reader) u32() uint32 { return binary.LittleEndian.Uint32(r.bytes(4)) }
func (r *reader) u64() uint64 { return binary.LittleEndian.Uint64(r.bytes(8)) }

// Encode appends e's packed frame to dst.
func Encode(dst []byte, e *Event) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Time))
	if e.Key == nil {
		dst = binary.LittleEndian.AppendUint32(dst, 0xffffffff)
	} else {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(e.Key)))
		dst = append(dst, e.Key...)
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(e.Headers)))
	for _, h := range e.Headers {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(h.Name)))
		dst = append(dst, h.Name...)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(h.Value)))
		dst = append(dst, h.Value...)
	}
	return append(dst, e.Value...)
}

// Emitter collects what a transform emits for one input event.
type Emitter struct {
	out   *Output
	in    *Event
	index uint32
}

// Keep passes the input event on unchanged, without copying it.
func (o *Emitter) Keep() {
	o.out.ends = append(o.out.ends, uint32(len(o.out.frames)))
	o.out.origins = append(o.out.origins, o.index)
}

// EmitValue emits an event with the input's key, headers and time and
// this value.
func (o *Emitter) EmitValue(value []byte) {
	e := *o.in
	e.Value = value
	o.Emit(&e)
}

// Emit emits e.
func (o *Emitter) Emit(e *Event) {
	o.out.frames = Encode(o.out.frames, e)
	o.out.ends = append(o.out.ends, uint32(len(o.out.frames)))
	o.out.origins = append(o.out.origins, o.index)
}

// Output is a transform's or validator's result under construction.
type Output struct {
	frames  []byte
	ends    []uint32
	origins []uint32
	errors  []uint32 // index, message pointer, message length
	mark    [3]int
}

// Begin starts the outputs of input event index.
func (o *Output) Begin(index int, in *Event) *Emitter {
	o.mark = [3]int{len(o.frames), len(o.ends), len(o.origins)}
	return &Emitter{out: o, in: in, index: uint32(index)}
}

// Reject refuses input event index, discarding what it emitted.
func (o *Output) Reject(index int, message string) {
	o.frames, o.ends, o.origins = o.frames[:o.mark[0]], o.ends[:o.mark[1]], o.origins[:o.mark[2]]
	p, n := Lower([]byte(message))
	o.errors = append(o.errors, uint32(index), p, n)
}

// LowerTransformed lowers the output as a `transformed` record.
func (o *Output) LowerTransformed() uint32 {
	retArea[0], retArea[1] = Lower(o.frames)
	retArea[2], retArea[3] = LowerWords(o.ends)
	retArea[4], retArea[5] = LowerWords(o.origins)
	retArea[6], retArea[7] = o.lowerErrors()
	return addr(unsafe.Pointer(&retArea))
}

// LowerErrors lowers the rejections as a `list<event-error>`.
func (o *Output) LowerErrors() uint32 {
	retArea[0], retArea[1] = o.lowerErrors()
	return addr(unsafe.Pointer(&retArea))
}

func (o *Output) lowerErrors() (uint32, uint32) {
	p, _ := LowerWords(o.errors)
	return p, uint32(len(o.errors) / 3)
}
