// Package lakecheck reads a Parquet lake back with xitongsys/parquet-go, an
// implementation independent of the writer (parquet-go/parquet-go), so tests
// prove every file is readable by the other widely deployed Go reader.
package lakecheck

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/xitongsys/parquet-go-source/buffer"
	"github.com/xitongsys/parquet-go/reader"
)

// File is one Parquet object read back column by column.
type File struct {
	Key  string           // path relative to the lake root
	Rows int64            //
	Cols map[string][]any // leaf path without the root, e.g. "additional_data.price"
}

// ReadFile decodes one Parquet object.
func ReadFile(key string, data []byte) (File, error) {
	pr, err := reader.NewParquetColumnReader(buffer.NewBufferFileFromBytes(data), 1)
	if err != nil {
		return File{}, fmt.Errorf("%s: independent reader cannot open it: %w", key, err)
	}
	defer pr.ReadStop()
	f := File{Key: key, Rows: pr.GetNumRows(), Cols: map[string][]any{}}
	for _, p := range pr.SchemaHandler.ValueColumns {
		vals, _, _, err := pr.ReadColumnByPath(p, f.Rows)
		if err != nil {
			return File{}, fmt.Errorf("%s: reading column %s: %w", key, p, err)
		}
		parts := strings.Split(pr.SchemaHandler.InPathToExPath[p], "\x01")
		f.Cols[strings.Join(parts[1:], ".")] = vals
	}
	return f, nil
}

// ReadTable reads every Parquet file under lake/table. A leftover temporary
// file is an error: a finished run leaves only complete objects.
func ReadTable(lake, table string) ([]File, error) {
	var out []File
	err := filepath.WalkDir(filepath.Join(lake, table), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(lake, p)
		if !strings.HasSuffix(p, ".parquet") {
			return fmt.Errorf("unexpected file in the lake: %s", rel)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := ReadFile(filepath.ToSlash(rel), data)
		if err != nil {
			return err
		}
		out = append(out, f)
		return nil
	})
	if os.IsNotExist(err) {
		return nil, nil
	}
	return out, err
}
