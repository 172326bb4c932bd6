// A test-only plugin: for every event it stores large values in keyed state
// and reads them back while making garbage, so that the Go collector runs
// often, also while the host lowers a value it reads. It panics when a value
// reads back wrong and otherwise passes the event on.
package main

import (
	"bytes"
	"fmt"

	"weir.dev/sdk"
	"weir.dev/sdk/transform"
)

type StateGC struct{ garbage [][]byte }

func New(*weir.Config) (*StateGC, error) { return &StateGC{}, nil }

func (p *StateGC) Transform(event *weir.Event, out *weir.Emitter) error {
	state := event.State()
	for i := range 16 {
		name := fmt.Sprintf("value-%d", i)
		want := bytes.Repeat([]byte{byte(i), byte(len(event.Value))}, 32<<10+i)
		state.Set(name, want)
		got, ok := state.Get(name)
		if !ok || !bytes.Equal(got, want) {
			panic(fmt.Sprintf("%s read back wrong: found %v, %d bytes", name, ok, len(got)))
		}
		p.garbage = append(p.garbage, make([]byte, 64<<10))
		if len(p.garbage) > 32 {
			p.garbage = p.garbage[1:]
		}
	}
	state.Delete("value-0")
	if _, ok := state.Get("value-0"); ok {
		panic("value-0 is still there after Delete")
	}
	out.Keep()
	return nil
}

func init() { transform.Export(New) }

func main() {}
