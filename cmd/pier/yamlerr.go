package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/agnivade/levenshtein"
	"gopkg.in/yaml.v3"
)

// decodeStrict decodes data into v (a pointer to a struct with yaml tags),
// refusing unknown keys. Its errors speak YAML, not Go: each names the key
// (section.key, list items as [i]) with its line, what the key wants (a
// duration, a size, a whole number, a list, a mapping…) and what it got,
// and an unknown key gets the nearest known keys of its section.
func decodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return err // a syntax error: yaml's own message says where
	}
	idx := indexKeys(&root)
	rootType := reflect.TypeOf(v).Elem()
	var lines []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, e := range te.Errors {
			lines = append(lines, explainYAML(e, idx, rootType))
		}
	} else {
		lines = append(lines, explainYAML(err.Error(), idx, rootType))
	}
	return errors.New(strings.Join(lines, "; "))
}

// keyAt is one key of a YAML document: its path and the lines of its key
// and value.
type keyAt struct {
	path      []string
	keyLine   int
	valueLine int
	// value is the scalar value (yaml.v3 shortens it in its messages).
	value string
}

// indexKeys lists every key of the document (list items as "[i]").
func indexKeys(n *yaml.Node) []keyAt {
	var out []keyAt
	var walk func(n *yaml.Node, path []string)
	walk = func(n *yaml.Node, path []string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, val := n.Content[i], n.Content[i+1]
				p := append(slices.Clip(path), k.Value)
				out = append(out, keyAt{path: p, keyLine: k.Line, valueLine: val.Line, value: scalar(val)})
				walk(val, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := append(slices.Clip(path), "["+strconv.Itoa(i)+"]")
				out = append(out, keyAt{path: p, keyLine: c.Line, valueLine: c.Line, value: scalar(c)})
				walk(c, p)
			}
		}
	}
	walk(n, nil)
	return out
}

func scalar(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// keyOnLine returns the deepest key whose value (or, with key set, whose
// name) is on line.
func keyOnLine(idx []keyAt, line int, key bool) keyAt {
	var best keyAt
	for _, k := range idx {
		l := k.valueLine
		if key {
			l = k.keyLine
		}
		if l == line && len(k.path) > len(best.path) {
			best = k
		}
	}
	return best
}

// joinPath writes a key path as section.key[0].key.
func joinPath(p []string) string {
	var b strings.Builder
	for i, s := range p {
		if i > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

var (
	lineRE      = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unmarshalRE = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (\\S+)$")
	notFoundRE  = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// explainYAML rewrites one decoding error of yaml.v3 ("line 3: cannot
// unmarshal !!str `x` into time.Duration") in YAML terms.
func explainYAML(msg string, idx []keyAt, root reflect.Type) string {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	line, _ := strconv.Atoi(m[1])
	rest := m[2]
	if f := notFoundRE.FindStringSubmatch(rest); f != nil {
		path := keyOnLine(idx, line, true).path
		if len(path) == 0 || path[len(path)-1] != f[1] {
			path = []string{f[1]}
		}
		out := fmt.Sprintf("line %d: unknown key %s", line, joinPath(path))
		if known := knownKeys(root, path[:len(path)-1]); len(known) > 0 {
			if near := nearest(f[1], known); len(near) > 0 {
				out += "; did you mean " + orList(near) + "?"
			} else {
				out += " (known here: " + strings.Join(known, ", ") + ")"
			}
		}
		return out
	}
	k := keyOnLine(idx, line, false)
	path := joinPath(k.path)
	if path == "" {
		path = "the document"
	}
	if u := unmarshalRE.FindStringSubmatch(rest); u != nil {
		got := yamlTag(u[1])
		if v := u[2]; v != "" {
			if strings.HasSuffix(v, "...") && strings.HasPrefix(k.value, strings.TrimSuffix(v, "...")) {
				v = k.value
			}
			got += " " + strconv.Quote(v)
		}
		return fmt.Sprintf("line %d: %s wants %s, got %s", line, path, yamlType(u[3]), got)
	}
	// A value's own check (a size, a name): its message already says what
	// it wants; prefix the key.
	rest = strings.TrimPrefix(rest, fmt.Sprintf("line %d: ", line))
	return fmt.Sprintf("line %d: %s: %s", line, path, rest)
}

// yamlTag names a YAML tag for a user.
func yamlTag(tag string) string {
	switch tag {
	case "!!str":
		return "the string"
	case "!!int", "!!float":
		return "the number"
	case "!!bool":
		return "the boolean"
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!null":
		return "nothing"
	}
	return strings.TrimPrefix(tag, "!!")
}

// yamlType says in YAML terms what a Go type (as reflect prints it) wants.
func yamlType(goType string) string {
	t := strings.TrimLeft(goType, "*")
	switch {
	case t == "time.Duration":
		return "a duration such as 30s, 5m or 1h30m"
	case t == "main.ByteSize":
		return "a size such as 512MiB or 2GiB (or a number of bytes)"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "a list, each item " + yamlType(strings.TrimPrefix(t, "[]"))
	case strings.HasPrefix(t, "map["):
		return "a mapping of keys to values"
	}
	return "a mapping of settings (key: value lines)"
}

// knownKeys lists the YAML keys of the struct at path below t (list items
// step into the element type), or nil when path leads elsewhere.
func knownKeys(t reflect.Type, path []string) []string {
	for _, p := range path {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if strings.HasPrefix(p, "[") {
			if t.Kind() != reflect.Slice {
				return nil
			}
			t = t.Elem()
			continue
		}
		f, ok := yamlField(t, p)
		if !ok {
			return nil
		}
		t = f
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	return yamlNames(t)
}

// yamlField returns the type of t's field with YAML key name (inline
// structs included).
func yamlField(t reflect.Type, name string) (reflect.Type, bool) {
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		key, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if strings.Contains(opts, "inline") {
			if ft, ok := yamlField(f.Type, name); ok {
				return ft, true
			}
			continue
		}
		if key == name {
			return f.Type, true
		}
	}
	return nil, false
}

// yamlNames lists t's YAML keys (inline structs included).
func yamlNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		key, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct:
			out = append(out, yamlNames(f.Type)...)
		case key != "" && key != "-":
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// nearest returns the names within maxSuggestD edits of name, nearest
// first.
func nearest(name string, names []string) []string {
	var out []string
	for d := 0; d <= maxSuggestD; d++ {
		for _, n := range names {
			if levenshtein.ComputeDistance(name, n) == d {
				out = append(out, n)
			}
		}
	}
	return out
}
