// panic: a test-only plugin that panics on events whose JSON has
// "mark": true, and keeps the others.
package main

import (
	"bytes"
	"fmt"
	"regexp"

	"weir.dev/sdk"
	"weir.dev/sdk/transform"
)

type Panic struct{}

var id = regexp.MustCompile(`"id":(\d+)`)

func (Panic) Transform(event *weir.Event, out *weir.Emitter) error {
	if bytes.Contains(event.Value, []byte(`"mark":true`)) {
		panic(fmt.Sprintf("poisoned event %s", id.FindSubmatch(event.Value)[1]))
	}
	out.Keep()
	return nil
}

func New(*weir.Config) (Panic, error) { return Panic{}, nil }

func init() { transform.Export(New) }

func main() {}
