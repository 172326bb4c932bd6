module jsonschema

go 1.24

require (
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	golang.org/x/text v0.14.0
	weir.dev/sdk v0.0.0
)

replace weir.dev/sdk => ../..
