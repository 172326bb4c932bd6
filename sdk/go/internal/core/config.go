package core

import "fmt"

// Config is a stage's configuration: its `config` table, in order.
type Config struct {
	entries [][2]string
}

// NewConfig makes a Config from key/value pairs (for tests).
func NewConfig(entries ...[2]string) *Config { return &Config{entries: entries} }

// Lookup returns the first value of name.
func (c *Config) Lookup(name string) (string, bool) {
	for _, e := range c.entries {
		if e[0] == name {
			return e[1], true
		}
	}
	return "", false
}

// Get returns the value of name, or fallback when it is not set.
func (c *Config) Get(name, fallback string) string {
	if v, ok := c.Lookup(name); ok {
		return v
	}
	return fallback
}

// Require returns the value of name, or the error
// "missing config key `name`".
func (c *Config) Require(name string) (string, error) {
	if v, ok := c.Lookup(name); ok {
		return v, nil
	}
	return "", fmt.Errorf("missing config key `%s`", name)
}

// Entries returns every key/value pair in order.
func (c *Config) Entries() [][2]string { return c.entries }
