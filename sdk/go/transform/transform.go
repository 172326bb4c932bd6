// Package transform exports a Go plugin as weir's `transformer` interface.
//
//	func init() { transform.Export(New) }
//
// New gets the stage config and returns the plugin or an error, which stops
// the pipeline at start. For each event the plugin's Transform emits zero or
// more events; a returned error rejects the event (dead-lettered with the
// error's text, its emitted events discarded); a panic traps.
package transform

import (
	"weir.dev/sdk"
	"weir.dev/sdk/internal/core"
)

// Transform maps one event to zero or more.
type Transform interface {
	Transform(event *weir.Event, out *weir.Emitter) error
}

var (
	factory  func(*weir.Config) (Transform, error)
	instance Transform
)

// Export makes New the plugin's constructor; call it from an init function.
func Export[T Transform](New func(*weir.Config) (T, error)) {
	factory = func(c *weir.Config) (Transform, error) { return New(c) }
}

//go:wasmexport weir:plugin/transformer@0.1.0#init
func initExport(configPtr, configLen uint32) uint32 {
	defer core.Guard()
	if factory == nil {
		return core.ResultErr("the plugin exports no transform: call transform.Export from an init function")
	}
	t, err := factory(core.ReadConfig(configPtr, configLen))
	if err != nil {
		return core.ResultErr(err.Error())
	}
	instance = t
	return core.ResultOk()
}

//go:wasmexport cabi_post_weir:plugin/transformer@0.1.0#init
func initPost(uint32) { core.Release() }

//go:wasmexport weir:plugin/transformer@0.1.0#transform
func transformExport(framesPtr, framesLen, endsPtr, endsLen uint32) uint32 {
	defer core.Guard()
	if instance == nil {
		panic("transform called before a successful init")
	}
	batch := core.ReadBatch(framesPtr, framesLen, endsPtr, endsLen)
	var out core.Output
	for i := range batch.Len() {
		event := core.DecodeInput(batch.Frame(i), i)
		if err := instance.Transform(&event, out.Begin(i, &event)); err != nil {
			out.Reject(i, err.Error())
		}
	}
	return out.LowerTransformed()
}

//go:wasmexport cabi_post_weir:plugin/transformer@0.1.0#transform
func transformPost(uint32) { core.Release() }
