package connector

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicehq/sluice/schema"
)

// tableState is what the sink needs per topic: the codec that decodes its
// records and the Parquet schema they are written with.
type tableState struct {
	Table
	codec    *schema.Codec
	pq       *parquet.Schema
	partIdx  []int       // field index of the extra partition column, or nil
	rows     *rowBuilder // nil: use the schema's reflective Deconstruct
	pageSize int         // Parquet page buffer size
	overhead int64       // fixed memory of one open Parquet file

	// scratch is the record every event of the table is decoded into: the
	// Parquet writer copies values out, so one record serves all events
	// and decoding allocates no struct per event.
	scratch reflect.Value
}

// decode parses one event into the table's scratch record and returns it;
// the record is valid until the next decode.
func (ts *tableState) decode(data []byte) (any, error) {
	ts.scratch.Elem().SetZero() // fields absent from this event must not keep the last one's values
	rec := ts.scratch.Interface()
	if err := ts.codec.DecodeInto(data, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

func newTableState(t Table, cfg *Config) (*tableState, error) {
	partCol := cfg.PartitionCol
	ts := &tableState{Table: t, codec: schema.NewCodec(t.Schema)}
	ts.pq = parquet.SchemaOf(ts.codec.Zero())
	if rb, err := newRowBuilder(ts.codec.Type()); err == nil && len(rb.leaves) == len(ts.pq.Columns()) {
		ts.rows = rb
	}
	leaves := len(ts.pq.Columns())
	ts.pageSize = pageSizeFor(cfg.MemoryBudget, cfg.MaxOpenFiles, leaves)
	ts.overhead = parquetOverhead(leaves, ts.pageSize)
	ts.scratch = reflect.ValueOf(ts.codec.New())
	if partCol != "" {
		typ := ts.codec.Type()
		for i := 0; i < typ.NumField(); i++ {
			if strings.Split(typ.Field(i).Tag.Get("json"), ",")[0] == partCol {
				ts.partIdx = []int{i}
			}
		}
		if ts.partIdx == nil {
			return nil, fmt.Errorf("%w (table %s)", ErrBadPartColumn, t.Name)
		}
	}
	return ts, nil
}

// partitionValue renders the extra partition column of rec, a pointer from
// the codec, as a safe path segment.
func (ts *tableState) partitionValue(rec any) string {
	v := reflect.ValueOf(rec).Elem().FieldByIndex(ts.partIdx)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nullPartition
		}
		v = v.Elem()
	}
	var s string
	switch v.Kind() {
	case reflect.String:
		s = v.String()
	case reflect.Int64:
		s = strconv.FormatInt(v.Int(), 10)
	case reflect.Bool:
		s = strconv.FormatBool(v.Bool())
	}
	return partValue(s)
}
