package cli

import "testing"

func TestParseOnly(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		ok   bool
	}{
		{[]string{"broker", "--listen", "0.0.0.0:9092", "--partitions", "3"}, nil, true},
		{[]string{"broker", "--listn", "0.0.0.0:9092"}, nil, false}, // misspelt flag
		{[]string{"broker", "--partitions", "many"}, nil, false},    // wrong type
		{[]string{"broker", "extra"}, nil, false},                   // stray argument
		{[]string{"brokr"}, nil, false},                             // unknown command
		{[]string{}, nil, false},                                    // no command
		{[]string{"check", "--topics", "a,b"}, map[string]string{"SLUICE_BROKERS": "b:9092", "SLUICE_SASL_PASSWORD": ""}, true},
		{[]string{"check"}, map[string]string{"SLUICE_BROKER": "b:9092"}, false}, // no such flag
		{[]string{"check"}, map[string]string{"SLUICE_TIMEOUT": "soon"}, false},  // wrong type
		{[]string{"check"}, map[string]string{"AWS_REGION": "eu-west-1"}, true},  // not ours
	} {
		err := ParseOnlyEnv(tc.args, tc.env)
		if (err == nil) != tc.ok {
			t.Errorf("%q %v: err=%v, want ok=%v", tc.args, tc.env, err, tc.ok)
		}
	}
	if !HasFlag([]string{"check"}, "sasl-password") || HasFlag([]string{"check"}, "nope") {
		t.Error("HasFlag")
	}
}
