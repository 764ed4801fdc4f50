package integration

// What the container suite and its in-process twin share: the rule, the
// event generator, and exact-set checks.

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/lakecheck"
)

// The rule under test, mounted into the processor as /rules.
const highIntentRule = `name: high_intent_views
description: ViewContent events where more than 60% of the page was seen
source: clickstream
where: event_name == "ViewContent" && additional_data.percent_viewed > 60
output: clickstream.high_intent_views
tests:
  - event: {event_name: ViewContent, additional_data: {percent_viewed: 75}}
    expect: match
  - event: {event_name: ViewContent, additional_data: {percent_viewed: 60}}
    expect: no_match
`

// event is the part of a clickstream event the test checks.
type event struct {
	Timestamp          string `json:"timestamp"`
	UserID             string `json:"user_id"`
	PixelID            string `json:"pixel_id"`
	ClickID            string `json:"click_id"`
	InsertionTimestamp string `json:"insertion_timestamp"`
	EventName          string `json:"event_name"`
	UserIP             string `json:"user_ip"`
	AdditionalData     struct {
		TimeOnData    int64   `json:"time_on_data"`
		PercentViewed float64 `json:"percent_viewed"`
		ProductID     int64   `json:"product_id"`
		Price         float64 `json:"price"`
	} `json:"additional_data"`
}

// highIntent is the rule, written out independently of the processor.
func (e event) highIntent() bool {
	return e.EventName == "ViewContent" && e.AdditionalData.PercentViewed > 60
}

// generate makes n valid clickstream events, deterministic for a seed,
// spread over two hours of event time.
func generate(seed int64, n int, base time.Time) []event {
	r := rand.New(rand.NewSource(seed))
	names := []string{"Search", "ViewContent", "ViewContent", "AddToCart", "Purchase"}
	out := make([]event, n)
	for i := range out {
		ts := base.Add(time.Duration(r.Int63n(int64(2 * time.Hour)))).Truncate(time.Microsecond)
		e := &out[i]
		e.Timestamp = ts.Format("2006-01-02 15:04:05.000000")
		e.InsertionTimestamp = ts.Add(time.Duration(r.Intn(500)) * time.Millisecond).Format("2006-01-02 15:04:05.000000")
		e.UserID = fmt.Sprint(r.Intn(500))
		e.PixelID = fmt.Sprintf("px%08d", r.Intn(1e8))
		e.ClickID = fmt.Sprintf("%016x%016x", seed, i)
		e.EventName = names[r.Intn(len(names))]
		e.UserIP = fmt.Sprintf("203.0.113.%d", r.Intn(255))
		e.AdditionalData.TimeOnData = int64(1 + r.Intn(600))
		e.AdditionalData.PercentViewed = float64(r.Intn(1001)) / 10
		e.AdditionalData.ProductID = int64(100000 + r.Intn(900000))
		e.AdditionalData.Price = float64(100+r.Intn(99900)) / 100
	}
	return out
}

// checkExact fails unless got holds every wanted id exactly once and nothing else.
func checkExact(t *testing.T, what string, got map[string]int, want map[string]bool) {
	t.Helper()
	var missing, extra, dup []string
	for id := range want {
		if got[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id, n := range got {
		if !want[id] {
			extra = append(extra, id)
		}
		if n > 1 {
			dup = append(dup, fmt.Sprintf("%s×%d", id, n))
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	sort.Strings(dup)
	if len(missing)+len(extra)+len(dup) > 0 {
		t.Fatalf("%s: %d missing %v, %d unexpected %v, %d duplicated %v", what,
			len(missing), head(missing), len(extra), head(extra), len(dup), head(dup))
	}
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

// expectations: every input id, and the ids the rule selects.
func expectations(events []event) (all, matches map[string]bool) {
	all, matches = map[string]bool{}, map[string]bool{}
	for _, e := range events {
		all[e.ClickID] = true
		if e.highIntent() {
			matches[e.ClickID] = true
		}
	}
	return all, matches
}

// clickRow is the column the lake checks read with parquet-go.
type clickRow struct {
	ClickID string `parquet:"click_id"`
}

// sameInIndependentReader reads a Parquet file again with xitongsys/
// parquet-go (internal/lakecheck) and wants the same click ids, in order.
func sameInIndependentReader(key string, data []byte, rows []clickRow) error {
	f, err := lakecheck.ReadFile(key, data)
	if err != nil {
		return err
	}
	ids := f.Cols["click_id"]
	if f.Rows != int64(len(rows)) || len(ids) != len(rows) {
		return fmt.Errorf("%s: %d rows with parquet-go, %d (%d click ids) with xitongsys/parquet-go", key, len(rows), f.Rows, len(ids))
	}
	for i, v := range ids {
		if s := fmt.Sprint(v); s != rows[i].ClickID {
			return fmt.Errorf("%s: row %d click_id %q with parquet-go, %q with xitongsys/parquet-go", key, i, rows[i].ClickID, s)
		}
	}
	return nil
}
