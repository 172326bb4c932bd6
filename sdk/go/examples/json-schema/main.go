// json-schema: rejects events whose JSON value does not match a JSON Schema;
// the same behaviour as plugins/json-schema (its README is the
// specification), with github.com/santhosh-tekuri/jsonschema/v6 wording
// each violation.
//
// The rejection reason lists up to ten violations as `<instance location>:
// <problem>`, separated by `; `, then `; and N more`. The locations match
// the Rust plugin's; the problems are worded by the library (`got string,
// want number` where the Rust plugin says `"1000" is not of type "number"`).
package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"weir.dev/sdk"
	"weir.dev/sdk/json"
	"weir.dev/sdk/validate"
)

const maxReported = 10

var printer = message.NewPrinter(language.English)

type SchemaCheck struct {
	schema *jsonschema.Schema
}

// noLoader refuses every external schema: a plugin has no network or files.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schemas are not loaded: %s", url)
}

func New(config *weir.Config) (*SchemaCheck, error) {
	text, err := config.Require("schema")
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("config `schema`: not json: %v", err)
	}
	compiler := jsonschema.NewCompiler()
	compiler.UseLoader(noLoader{})
	const url = "weir:///schema.json"
	if err := compiler.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("config `schema`: invalid schema: %v", err)
	}
	schema, err := compiler.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("config `schema`: invalid schema: %v", err)
	}
	return &SchemaCheck{schema: schema}, nil
}

func (s *SchemaCheck) Validate(event *weir.Event) error {
	if err := json.Validate(event.Value); err != nil {
		return fmt.Errorf("value is not json: %w", err)
	}
	instance, err := jsonschema.UnmarshalJSON(bytes.NewReader(event.Value))
	if err != nil {
		return fmt.Errorf("value is not json: %v", err)
	}
	err = s.schema.Validate(instance)
	if err == nil {
		return nil
	}
	var invalid *jsonschema.ValidationError
	if !errors.As(err, &invalid) {
		return fmt.Errorf("validation failed: %v", err)
	}
	var problems []string
	leaves(invalid, &problems)
	if len(problems) > maxReported {
		problems = append(problems[:maxReported], fmt.Sprintf("and %d more", len(problems)-maxReported))
	}
	return errors.New(strings.Join(problems, "; "))
}

// leaves lists the violations without causes, as the Rust plugin's library
// reports them: `<instance location>: <problem>`.
func leaves(e *jsonschema.ValidationError, out *[]string) {
	if len(e.Causes) > 0 {
		for _, cause := range e.Causes {
			leaves(cause, out)
		}
		return
	}
	location := ""
	for _, token := range e.InstanceLocation {
		location += "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(token)
	}
	if location == "" {
		location = "/"
	}
	*out = append(*out, location+": "+e.ErrorKind.LocalizedString(printer))
}

func init() { validate.Export(New) }

func main() {}
