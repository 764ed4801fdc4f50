package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/fixtures"

	"github.com/sluicehq/sluice/broker"
)

func TestProduceCommand(t *testing.T) {
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Topics: []string{"clickstream", "beer_clicks"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.Addrs()[0]
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"produce", "--brokers", addr, "--count", "500", "--seed", "3", "--start", "2024-04-23T10:00:00Z",
			"--users", "50", "--user-dist", "zipf", "--late-fraction", "0.1", "--weights", "event_name=Search:1,Purchase:3"}, 0, `"acked":500`},
		{[]string{"produce", "--brokers", addr, "--schema", "beer_clicks", "--from", fixtures.FirehosePath(t)}, 0, `"acked":30`},
		{[]string{"produce", "--brokers", addr, "--topic", "missing", "--count", "1"}, 1, "topic does not exist"},
		{[]string{"produce", "--brokers", addr, "--rate", "-1"}, 2, "--rate"},
		// NaN and infinities are not rates, in either mode (NaN would
		// pass a "< 0" check and mean no limit at all).
		{[]string{"produce", "--brokers", addr, "--rate", "NaN"}, 2, "--rate"},
		{[]string{"produce", "--brokers", addr, "--schema", "beer_clicks", "--from", fixtures.FirehosePath(t), "--rate", "NaN"}, 2, "--rate"},
		{[]string{"produce", "--brokers", addr, "--schema", "beer_clicks", "--from", fixtures.FirehosePath(t), "--rate", "+Inf"}, 2, "--rate"},
		{[]string{"produce", "--brokers", addr, "--schema", "beer_clicks", "--from", fixtures.FirehosePath(t), "--rate", "-1"}, 2, "--rate"},
		{[]string{"produce", "--brokers", addr, "--weights", "event_name"}, 2, "--weights"},
		{[]string{"produce", "--brokers", addr, "--from", "x", "--on-invalid", "maybe"}, 2, "--on-invalid"},
		// Flags of the other mode would be ignored: a replay given
		// --duration would run to the end of its input.
		{[]string{"produce", "--brokers", addr, "--schema", "beer_clicks", "--from", fixtures.FirehosePath(t), "--duration", "1s"}, 2, "--duration"},
		{[]string{"produce", "--brokers", addr, "--schema", "beer_clicks", "--from", fixtures.FirehosePath(t), "--seed", "3"}, 2, "--seed"},
		{[]string{"produce", "--brokers", addr, "--count", "1", "--on-invalid", "skip"}, 2, "--on-invalid"},
		{[]string{"collect", "--brokers", addr, "--max-body", "10", "--max-in-flight-bytes", "5"}, 2, "--max-in-flight-bytes"},
		{[]string{"collect", "--brokers", addr, "--trusted-proxies", "nope"}, 2, "--trusted-proxies"},
	} {
		var out, errOut bytes.Buffer
		code := Main(append(tc.args, "--log-format", "json"), &out, &errOut)
		if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, want %d with %q in:\n%s", tc.args, code, tc.code, tc.want, errOut.String())
		}
	}
}
