package catalog

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/schema"
)

// A Glue endpoint over real HTTP that records the calls: the table is
// created, and updated when it already exists.
func TestRegisterGlue(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	var bodies []map[string]any
	exists := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(data, &body)
		mu.Lock()
		defer mu.Unlock()
		target := r.Header.Get("X-Amz-Target")
		calls = append(calls, target)
		bodies = append(bodies, body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if target == "AWSGlue.CreateTable" && exists {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"AlreadyExistsException","Message":"Table already exists."}`))
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	s, err := schema.Resolve("clickstream")
	if err != nil {
		t.Fatal(err)
	}
	g := GlueOptions{Database: "lake", Region: "eu-west-1", Endpoint: srv.URL}
	o := DDLOptions{Location: "s3://my-lake/events", PartitionCol: "event_name"}
	if err := RegisterGlue(context.Background(), s, o, g); err != nil {
		t.Fatal(err)
	}
	exists = true
	if err := RegisterGlue(context.Background(), s, o, g); err != nil {
		t.Fatal(err)
	}
	want := []string{"AWSGlue.CreateTable", "AWSGlue.CreateTable", "AWSGlue.UpdateTable"}
	if len(calls) != 3 || calls[0] != want[0] || calls[1] != want[1] || calls[2] != want[2] {
		t.Fatalf("calls %v, want %v", calls, want)
	}
	ti := bodies[0]["TableInput"].(map[string]any)
	sd := ti["StorageDescriptor"].(map[string]any)
	params := ti["Parameters"].(map[string]any)
	if bodies[0]["DatabaseName"] != "lake" || ti["Name"] != "clickstream" || ti["TableType"] != "EXTERNAL_TABLE" ||
		sd["Location"] != "s3://my-lake/events/clickstream/" || params["projection.enabled"] != "true" ||
		params["projection.event_name.values"] != "Search,AddToCart,ViewContent,Purchase" ||
		len(ti["PartitionKeys"].([]any)) != 5 || len(sd["Columns"].([]any)) != 7 {
		t.Fatalf("unexpected table input: %v", bodies[0])
	}
	last := sd["Columns"].([]any)[6].(map[string]any)
	if last["Name"] != "additional_data" || last["Type"] != "struct<time_on_data:bigint,percent_viewed:double,product_id:bigint,price:double>" {
		t.Fatalf("struct column %v", last)
	}
}
