// Package schema reads schema files: one stream's topic, columns (nested
// objects allowed) and event-time column. A schema drives the generator,
// ingest validation, rule type-checking, Parquet columns and the Athena DDL.
package schema

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/yamlfile"
)

// Type is a column type.
type Type string

// Column types. Timestamps are parsed with the column's Go layout (Format)
// in the column's or schema's zone.
const (
	String    Type = "string"
	Int       Type = "int"
	Float     Type = "float"
	Bool      Type = "bool"
	Timestamp Type = "timestamp"
	Struct    Type = "struct"
)

// Column is one field of an event.
type Column struct {
	Name        string   `yaml:"name"`
	Type        Type     `yaml:"type"`
	Description string   `yaml:"description,omitempty"`
	Format      string   `yaml:"format,omitempty"`   // timestamp: Go layout, or rfc3339
	Zone        string   `yaml:"zone,omitempty"`     // timestamp: IANA zone for values without one
	Enum        []string `yaml:"enum,omitempty"`     // string: the allowed values
	Optional    bool     `yaml:"optional,omitempty"` // may be absent or null: a NULL in Parquet
	Fields      []Column `yaml:"fields,omitempty"`   // struct: nested columns
	Gen         *Gen     `yaml:"gen,omitempty"`      // how the generator fills it

	loc *time.Location
}

// Gen tells the generator how to fill a column.
type Gen struct {
	Kind     string             `yaml:"kind"` // event_time, insertion_time, user, user_ip, alnum, hex, weighted, int, float, bool, const
	Length   int                `yaml:"length,omitempty"`
	Min      float64            `yaml:"min,omitempty"`
	Max      float64            `yaml:"max,omitempty"`
	Decimals int                `yaml:"decimals,omitempty"`
	Weights  map[string]float64 `yaml:"weights,omitempty"`
	Value    string             `yaml:"value,omitempty"`
}

// Schema describes one stream.
type Schema struct {
	Name        string   `yaml:"name"`
	Topic       string   `yaml:"topic"`
	Description string   `yaml:"description,omitempty"`
	Key         string   `yaml:"key,omitempty"`  // column whose value keys the Kafka record
	EventTime   string   `yaml:"event_time"`     // timestamp column that windows and partitions use
	Zone        string   `yaml:"zone,omitempty"` // default zone for timestamps without one (UTC)
	Columns     []Column `yaml:"columns"`

	// Source is the file the schema came from (or "builtin:NAME").
	Source string `yaml:"-"`
}

//go:embed builtin/*.yaml
var builtin embed.FS

// Builtin lists the names of the schemas that ship with Sluice.
func Builtin() []string {
	ents, _ := builtin.ReadDir("builtin")
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Resolve loads a schema given as a built-in name or a file path.
func Resolve(nameOrFile string) (*Schema, error) {
	if data, err := builtin.ReadFile("builtin/" + nameOrFile + ".yaml"); err == nil && !strings.ContainsAny(nameOrFile, "/.") {
		return Parse("builtin:"+nameOrFile, data)
	}
	data, err := os.ReadFile(nameOrFile)
	if err != nil {
		return nil, fmt.Errorf("reading schema %q (not a file, and built-ins are %s): %w",
			nameOrFile, strings.Join(Builtin(), ", "), err)
	}
	return Parse(nameOrFile, data)
}

// ResolveAll loads every named schema, keyed by schema name.
func ResolveAll(names []string) (map[string]*Schema, error) {
	out := make(map[string]*Schema, len(names))
	for _, n := range names {
		s, err := Resolve(n)
		if err != nil {
			return nil, err
		}
		out[s.Name] = s
	}
	return out, nil
}

// LoadDir loads every *.yaml schema file in dir.
func LoadDir(dir string) ([]*Schema, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("listing schemas in %s: %w", dir, err)
	}
	var out []*Schema
	for _, f := range files {
		s, err := Resolve(f)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Parse decodes and validates a schema file.
func Parse(name string, data []byte) (*Schema, error) {
	var s Schema
	doc, err := yamlfile.Parse(name, data, &s)
	if err != nil {
		return nil, err
	}
	s.Source = name
	if err := s.validate(doc); err != nil {
		return nil, err
	}
	return &s, nil
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (s *Schema) validate(doc *yamlfile.Doc) error {
	if !identRe.MatchString(s.Name) {
		return doc.Errorf("$.name", "schema name %q must be an identifier", s.Name)
	}
	if s.Topic == "" {
		s.Topic = s.Name
	}
	if s.Zone == "" {
		s.Zone = "UTC"
	}
	loc, err := time.LoadLocation(s.Zone)
	if err != nil {
		return doc.Errorf("$.zone", "unknown time zone %q", s.Zone)
	}
	if len(s.Columns) == 0 {
		return doc.Errorf("$.columns", "a schema needs at least one column")
	}
	if err := validateColumns(doc, "$.columns", s.Columns, loc); err != nil {
		return err
	}
	et := s.Column(s.EventTime)
	if et == nil || et.Type != Timestamp {
		return doc.Errorf("$.event_time", "event_time %q must name a top-level timestamp column", s.EventTime)
	}
	if s.Key != "" {
		if k := s.Column(s.Key); k == nil || k.Type == Struct {
			return doc.Errorf("$.key", "key %q must name a top-level scalar column", s.Key)
		}
	}
	return nil
}

func validateColumns(doc *yamlfile.Doc, path string, cols []Column, loc *time.Location) error {
	seen := map[string]bool{}
	for i := range cols {
		c := &cols[i]
		p := fmt.Sprintf("%s[%d]", path, i)
		if !identRe.MatchString(c.Name) {
			return doc.Errorf(p+".name", "column name %q must be an identifier", c.Name)
		}
		if seen[c.Name] {
			return doc.Errorf(p+".name", "duplicate column %q", c.Name)
		}
		seen[c.Name] = true
		switch c.Type {
		case String, Int, Float, Bool:
		case Timestamp:
			if c.Format == "" {
				c.Format = "rfc3339"
			}
			c.loc = loc
			if c.Zone != "" {
				l, err := time.LoadLocation(c.Zone)
				if err != nil {
					return doc.Errorf(p+".zone", "unknown time zone %q", c.Zone)
				}
				c.loc = l
			}
		case Struct:
			if len(c.Fields) == 0 {
				return doc.Errorf(p, "struct column %q needs fields", c.Name)
			}
			if err := validateColumns(doc, p+".fields", c.Fields, loc); err != nil {
				return err
			}
		default:
			return doc.Errorf(p+".type", "unknown type %q (want string, int, float, bool, timestamp or struct)", c.Type)
		}
		if len(c.Enum) > 0 && c.Type != String {
			return doc.Errorf(p+".enum", "enum is only for string columns")
		}
	}
	return nil
}

// Column returns the top-level column named name, or nil.
func (s *Schema) Column(name string) *Column {
	for i := range s.Columns {
		if s.Columns[i].Name == name {
			return &s.Columns[i]
		}
	}
	return nil
}

// Location is the zone timestamps without their own zone are read in.
func (c *Column) Location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// ParseTime parses a timestamp value of this column.
func (c *Column) ParseTime(v string) (time.Time, error) {
	if c.Location() == time.UTC {
		sep, ok := fastLayouts[c.Format]
		if c.Format == "rfc3339" {
			sep, ok = 'T', true // a zone-less RFC 3339 value; zoned ones fall through
		}
		if ok {
			if t, ok := parseFast(v, sep); ok {
				return t, nil
			}
		}
	}
	if c.Format == "rfc3339" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t, nil
		}
		return time.ParseInLocation("2006-01-02T15:04:05.999999999", v, c.Location())
	}
	return time.ParseInLocation(c.Format, v, c.Location())
}

// FormatTime renders t the way this column's producers write it: fractional
// seconds at a fixed width, in the column's zone.
func (c *Column) FormatTime(t time.Time) string {
	if c.Format == "rfc3339" {
		return t.In(c.Location()).Format(time.RFC3339Nano)
	}
	return t.In(c.Location()).Format(fixedFraction.ReplaceAllStringFunc(c.Format, func(m string) string {
		return "." + strings.Repeat("0", len(m)-1)
	}))
}

// fixedFraction matches Go's optional fractional-second digits (".999").
var fixedFraction = regexp.MustCompile(`\.9+`)
