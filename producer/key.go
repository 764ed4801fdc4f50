package producer

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/sluicehq/sluice/schema"
)

// keyExtractor returns a function that appends the text of the schema's
// key column of a decoded record (false when there is no key or it is
// null).
func keyExtractor(c *schema.Codec) func(rec any, dst []byte) ([]byte, bool) {
	s := c.Schema
	idx := -1
	for i := range s.Columns {
		if s.Columns[i].Name == s.Key {
			idx = i
		}
	}
	if idx < 0 {
		return func(any, []byte) ([]byte, bool) { return nil, false }
	}
	name := fmt.Sprintf("F%d", idx)
	if s.Columns[idx].Type == schema.Timestamp {
		name = fmt.Sprintf("R%d", idx)
	}
	f, _ := c.Type().FieldByName(name)
	return func(rec any, dst []byte) ([]byte, bool) {
		v := reflect.ValueOf(rec).Elem().FieldByIndex(f.Index)
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return nil, false
			}
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.String:
			return append(dst, v.String()...), true
		case reflect.Int64:
			return strconv.AppendInt(dst, v.Int(), 10), true
		case reflect.Float64:
			return strconv.AppendFloat(dst, v.Float(), 'g', -1, 64), true
		case reflect.Bool:
			return strconv.AppendBool(dst, v.Bool()), true
		}
		return nil, false
	}
}
