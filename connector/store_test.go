package connector

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
)

// A new hour folder is several new directories (year=, month=, day=,
// hour=); each one's entry lives in its parent, and a power loss can take
// the entry away unless the parent is fsynced. So after syncDirs, every
// directory on the way from the lake root to a written file must have been
// synced, not only the file's own folder — else offsets are committed for
// a file that may vanish.
func TestSyncDirsMakesNewFoldersDurable(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{To: "file://" + dir, StoreTimeout: 1e10, RetryBackoff: 1e9}
	st, err := openStore(context.Background(), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	synced := map[string]int{}
	st.sync = func(p string) error {
		synced[p]++
		return syncPath(p)
	}
	keys := []string{
		"clickstream/year=2021/month=07/day=12/hour=10/clickstream+0+00000000000000000000.snappy.parquet",
		"errors/clickstream/year=2021/month=07/day=12/hour=23/clickstream+0+00000000000000000007.ndjson.gz",
	}
	for _, k := range keys {
		data := &chunks{}
		_, _ = data.Write([]byte("object " + k))
		if err := st.put(context.Background(), k, data, "application/octet-stream", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.syncDirs(keys); err != nil {
		t.Fatal(err)
	}
	// Every directory under the root was created by these writes: the
	// folder holding each one must have been synced.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		if parent := filepath.Dir(p); synced[parent] == 0 {
			t.Errorf("%s was created but its folder %s was never synced", p, parent)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A second flush into the same folders syncs each file's folder again
	// (new entries) but need not sync the ancestors once more.
	before := synced[filepath.Join(dir, "clickstream", "year=2021")]
	k := "clickstream/year=2021/month=07/day=12/hour=10/clickstream+0+00000000000000000100.snappy.parquet"
	data := &chunks{}
	_, _ = data.Write([]byte("again"))
	if err := st.put(context.Background(), k, data, "application/octet-stream", nil); err != nil {
		t.Fatal(err)
	}
	leaf := filepath.Dir(filepath.Join(dir, filepath.FromSlash(k)))
	leafBefore := synced[leaf]
	if err := st.syncDirs([]string{k}); err != nil {
		t.Fatal(err)
	}
	if synced[leaf] != leafBefore+1 {
		t.Errorf("the folder of a new file was synced %d times, want once more", synced[leaf]-leafBefore)
	}
	if after := synced[filepath.Join(dir, "clickstream", "year=2021")]; after != before {
		t.Errorf("an ancestor already durable was synced again (%d → %d)", before, after)
	}
}
