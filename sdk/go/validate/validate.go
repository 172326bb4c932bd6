// Package validate exports a Go plugin as weir's `validator` interface.
//
//	func init() { validate.Export(New) }
//
// New gets the stage config and returns the plugin or an error, which stops
// the pipeline at start. Validate returns nil to pass an event unchanged or
// an error to reject it (dead-lettered with the error's text); a panic traps.
package validate

import (
	"weir.dev/sdk"
	"weir.dev/sdk/internal/core"
)

// Validator passes or rejects one event.
type Validator interface {
	Validate(event *weir.Event) error
}

var (
	factory  func(*weir.Config) (Validator, error)
	instance Validator
)

// Export makes New the plugin's constructor; call it from an init function.
func Export[V Validator](New func(*weir.Config) (V, error)) {
	factory = func(c *weir.Config) (Validator, error) { return New(c) }
}

//go:wasmexport weir:plugin/validator@0.1.0#init
func initExport(configPtr, configLen uint32) uint32 {
	defer core.Guard()
	if factory == nil {
		return core.ResultErr("the plugin exports no validator: call validate.Export from an init function")
	}
	v, err := factory(core.ReadConfig(configPtr, configLen))
	if err != nil {
		return core.ResultErr(err.Error())
	}
	instance = v
	return core.ResultOk()
}

//go:wasmexport cabi_post_weir:plugin/validator@0.1.0#init
func initPost(uint32) { core.Release() }

//go:wasmexport weir:plugin/validator@0.1.0#validate
func validateExport(framesPtr, framesLen, endsPtr, endsLen uint32) uint32 {
	defer core.Guard()
	if instance == nil {
		panic("validate called before a successful init")
	}
	batch := core.ReadBatch(framesPtr, framesLen, endsPtr, endsLen)
	var out core.Output
	for i := range batch.Len() {
		event := core.Decode(batch.Frame(i))
		if err := instance.Validate(&event); err != nil {
			out.Reject(i, err.Error())
		}
	}
	return out.LowerErrors()
}

//go:wasmexport cabi_post_weir:plugin/validator@0.1.0#validate
func validatePost(uint32) { core.Release() }
