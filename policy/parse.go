package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Parse reads a policy document in JSON or YAML, with the field names of the
// json tags. Unknown fields are errors, named by their path. The policy is
// normalized (empty lists become absent) and validated; every error wraps
// ErrInvalid.
//
// Parse fills in no limits: zero blast-radius caps stay zero in the policy
// and Limits resolves them, so a stored policy follows the built-in defaults.
func Parse(data []byte) (*Policy, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, docProblem("empty document")
	}
	var doc any
	var err error
	if looksLikeJSON(trimmed) {
		// JSON is YAML too, but libyaml trips over tab indentation, and the
		// JSON decoder keeps numbers exact and its errors say "json".
		doc, err = decodeJSON(trimmed)
	} else {
		doc, err = decodeYAML(data)
	}
	if err != nil {
		return nil, err
	}
	return fromGeneric(doc)
}

// FromItem reads a policy from a generic map, as attributevalue.UnmarshalMap
// gives it from the policy table: numbers may be float64, any integer type,
// json.Number or attributevalue.Number; lists any slice; maps
// map[string]any. The table's key "id" and the bookkeeping attributes
// "updatedAt" and "updatedBy" are ignored; any other unknown attribute is an
// error.
func FromItem(m map[string]any) (*Policy, error) {
	if m == nil {
		return nil, docProblem("empty item")
	}
	doc := make(map[string]any, len(m))
	for k, v := range m {
		switch k {
		case "id", "updatedAt", "updatedBy":
		default:
			doc[k] = v
		}
	}
	return fromGeneric(doc)
}

func docProblem(format string, args ...any) error {
	var ps problems
	ps.add("", format, args...)
	return ps.err()
}

// looksLikeJSON tells a JSON object from a YAML flow mapping such as
// "{version: v1, ...}": JSON quotes its first key.
func looksLikeJSON(data []byte) bool {
	if len(data) == 0 || data[0] != '{' {
		return false
	}
	rest := bytes.TrimLeft(data[1:], " \t\r\n")
	return len(rest) == 0 || rest[0] == '"' || rest[0] == '}'
}

// decodeJSON reads one JSON document into generic values, token by token,
// so that a key given twice in an object is an error (YAML refuses it too)
// rather than the last one silently winning.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	doc, err := jsonValue(dec, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, docProblem("json: data after the document")
	}
	return doc, nil
}

// jsonValue reads the next value; path names it in errors.
func jsonValue(dec *json.Decoder, path string) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, docProblem("json: %v", err)
	}
	switch tok {
	case json.Delim('{'):
		obj := map[string]any{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, docProblem("json: %v", err)
			}
			key := kt.(string) // object keys are always strings
			if _, dup := obj[key]; dup {
				var ps problems
				ps.add(join(path, key), "given twice in the same object")
				return nil, ps.err()
			}
			if obj[key], err = jsonValue(dec, join(path, key)); err != nil {
				return nil, err
			}
		}
		_, err := dec.Token() // the closing brace
		return obj, err
	case json.Delim('['):
		list := []any{}
		for i := 0; dec.More(); i++ {
			v, err := jsonValue(dec, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := dec.Token() // the closing bracket
		return list, err
	}
	return tok, nil
}

func decodeYAML(data []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc any
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, docProblem("empty document")
		}
		return nil, docProblem("%v", err)
	}
	var more any
	if err := dec.Decode(&more); err != io.EOF {
		return nil, docProblem("yaml: more than one document")
	}
	return doc, nil
}

// fromGeneric decodes a generic document strictly into a Policy, then
// validates it.
func fromGeneric(doc any) (*Policy, error) {
	if doc == nil {
		return nil, docProblem("empty document")
	}
	if _, ok := asMap(doc); !ok {
		return nil, docProblem("document must be a mapping of fields, got %s", describe(doc))
	}
	var p Policy
	var ps problems
	decode(&ps, "", doc, reflect.ValueOf(&p).Elem())
	if err := ps.err(); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// number is what json.Number and attributevalue.Number have in common.
type number interface {
	Int64() (int64, error)
	Float64() (float64, error)
}

// decode sets dst from the generic value src, recording every problem under
// its field path. Struct fields are matched by their json tag names, exactly.
// A null leaves dst zero, and an empty list leaves a slice nil, so that a
// policy reads the same whether a part is empty or absent.
func decode(ps *problems, path string, src any, dst reflect.Value) {
	if src == nil {
		return
	}
	switch dst.Kind() {
	case reflect.Pointer:
		v := reflect.New(dst.Type().Elem())
		decode(ps, path, src, v.Elem())
		dst.Set(v)
	case reflect.Struct:
		decodeStruct(ps, path, src, dst)
	case reflect.Slice:
		decodeSlice(ps, path, src, dst)
	case reflect.String:
		sv := reflect.ValueOf(src)
		if _, isNum := src.(number); isNum || sv.Kind() != reflect.String {
			ps.add(path, "must be a string, got %s (quote it)", describe(src))
			return
		}
		dst.SetString(sv.String())
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := toInt(src)
		if err != nil {
			ps.add(path, "%v", err)
			return
		}
		if dst.OverflowInt(n) {
			ps.add(path, "must be a whole number in range, got %d", n)
			return
		}
		dst.SetInt(n)
	case reflect.Float64:
		f, err := toFloat(src)
		if err != nil {
			ps.add(path, "%v", err)
			return
		}
		dst.SetFloat(f)
	case reflect.Bool:
		b, ok := src.(bool)
		if !ok {
			ps.add(path, "must be true or false, got %s", describe(src))
			return
		}
		dst.SetBool(b)
	default:
		// A field type this decoder does not know: a programming error,
		// reported rather than panicking on outside input.
		ps.add(path, "cannot decode into %s", dst.Type())
	}
}

// decodeStruct sets the struct dst from a mapping, field by json tag
// name; a key that names no field is a problem.
func decodeStruct(ps *problems, path string, src any, dst reflect.Value) {
	m, ok := asMap(src)
	if !ok {
		ps.add(path, "must be a mapping, got %s", describe(src))
		return
	}
	fields := jsonFields(dst.Type())
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i, ok := fields[k]
		if !ok {
			ps.add(join(path, k), "unknown field")
			continue
		}
		decode(ps, join(path, k), m[k], dst.Field(i))
	}
}

// decodeSlice sets the slice dst from a list; an empty list leaves it nil.
func decodeSlice(ps *problems, path string, src any, dst reflect.Value) {
	sv := reflect.ValueOf(src)
	if _, isNum := src.(number); isNum || (sv.Kind() != reflect.Slice && sv.Kind() != reflect.Array) || sv.Type().Elem().Kind() == reflect.Uint8 {
		ps.add(path, "must be a list, got %s", describe(src))
		return
	}
	if sv.Len() == 0 {
		return
	}
	out := reflect.MakeSlice(dst.Type(), sv.Len(), sv.Len())
	for i := range sv.Len() {
		decode(ps, fmt.Sprintf("%s[%d]", path, i), sv.Index(i).Interface(), out.Index(i))
	}
	dst.Set(out)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonFields maps json tag names to field indexes.
func jsonFields(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = i
	}
	return out
}

// asMap accepts map[string]any and maps with other key types (YAML gives
// map[any]any when a key is not a string) as long as every key is a string.
func asMap(src any) (map[string]any, bool) {
	if m, ok := src.(map[string]any); ok {
		return m, true
	}
	mv := reflect.ValueOf(src)
	if mv.Kind() != reflect.Map {
		return nil, false
	}
	out := make(map[string]any, mv.Len())
	for it := mv.MapRange(); it.Next(); {
		k := it.Key()
		if k.Kind() == reflect.Interface {
			k = k.Elem()
		}
		if !k.IsValid() || k.Kind() != reflect.String {
			return nil, false
		}
		out[k.String()] = it.Value().Interface()
	}
	return out, true
}

func describe(src any) string {
	if src == nil {
		return "null"
	}
	if n, ok := src.(number); ok {
		return "number " + fmt.Sprint(n)
	}
	v := reflect.ValueOf(src)
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Bool:
		return "boolean " + strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return fmt.Sprintf("number %v", src)
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map:
		return "a mapping"
	}
	return fmt.Sprintf("a %T", src)
}

func toInt(src any) (int64, error) {
	if n, ok := src.(number); ok {
		if i, err := n.Int64(); err == nil {
			return i, nil
		}
		f, err := n.Float64()
		if err != nil {
			return 0, fmt.Errorf("must be a whole number, got %s", describe(src))
		}
		src = f
	}
	v := reflect.ValueOf(src)
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if v.Uint() > math.MaxInt64 {
			return 0, fmt.Errorf("must be a whole number in range, got %s", describe(src))
		}
		return int64(v.Uint()), nil
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		// 2^63 is the first float64 past MaxInt64.
		if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, fmt.Errorf("must be a whole number, got %s", describe(src))
		}
		return int64(f), nil
	}
	return 0, fmt.Errorf("must be a whole number, got %s", describe(src))
}

func toFloat(src any) (float64, error) {
	if n, ok := src.(number); ok {
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) {
			return 0, fmt.Errorf("must be a number, got %s", describe(src))
		}
		return f, nil
	}
	v := reflect.ValueOf(src)
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(v.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return v.Float(), nil
	}
	return 0, fmt.Errorf("must be a number, got %s", describe(src))
}
