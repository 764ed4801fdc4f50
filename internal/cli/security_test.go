package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/internal/testpki"
)

const (
	goodPassword = "g00d-Pa55word-x"
	badPassword  = "b4d-Pa55word-y"
)

// syncBuffer is a bytes.Buffer safe for a command writing logs while the
// test reads them.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startBrokerCmd runs `sluice broker` in-process with TLS and a SCRAM user
// given through the environment, and returns its address and CA file.
func startBrokerCmd(t *testing.T) (addr string, pki testpki.Files, logs *syncBuffer) {
	t.Helper()
	pki, err := testpki.Write(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	addr = freeAddr(t)
	t.Setenv("SLUICE_SASL_USER", "SCRAM-SHA-512:alice:"+goodPassword)
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	root := NewRoot(logs, logs)
	root.SetArgs([]string{"broker", "--listen", addr, "--topics", "clickstream", "--partitions", "2",
		"--tls-cert", pki.ServerCert, "--tls-key", pki.ServerKey, "--log-level", "debug", "--log-format", "text"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("broker command: %v", err)
		}
		if strings.Contains(logs.String(), goodPassword) {
			t.Errorf("the broker logged a password:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, pki, logs
		}
		select {
		case err := <-done:
			t.Fatalf("broker command exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker not listening on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckAgainstTLSSCRAMBroker(t *testing.T) {
	addr, pki, _ := startBrokerCmd(t)
	base := []string{"check", "--brokers", addr, "--tls-ca", pki.CA, "--sasl-mechanism", "scram-sha-512", "--sasl-username", "alice", "--topics", "clickstream"}

	code, out, errOut := run(append(base, "--sasl-password", goodPassword)...)
	if code != 0 || !strings.Contains(out, "topic clickstream partitions=2") || !strings.Contains(out, "ok") {
		t.Fatalf("right password: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	code, out, errOut = run(append(base, "--sasl-password", badPassword)...)
	if code == 0 {
		t.Fatalf("wrong password: exit 0\n%s", out)
	}
	if !strings.Contains(errOut, "rejected the SASL credentials") || !strings.Contains(errOut, `"alice"`) {
		t.Fatalf("wrong password: unclear error: %s", errOut)
	}
	if strings.Contains(out+errOut, badPassword) {
		t.Fatalf("the password appears in the output: %s %s", out, errOut)
	}

	// Same through the environment, the way a Kubernetes Secret passes it.
	t.Setenv("SLUICE_SASL_PASSWORD", badPassword)
	code, out, errOut = run(base...)
	if code == 0 || strings.Contains(out+errOut, badPassword) || !strings.Contains(errOut, "rejected the SASL credentials") {
		t.Fatalf("wrong password from env: exit %d: %s %s", code, out, errOut)
	}
	t.Setenv("SLUICE_SASL_PASSWORD", goodPassword)
	if code, out, errOut = run(base...); code != 0 {
		t.Fatalf("right password from env: exit %d: %s %s", code, out, errOut)
	}

	// No CA: the system roots do not know the test CA.
	code, _, errOut = run("check", "--brokers", addr, "--tls", "--sasl-mechanism", "scram-sha-512", "--sasl-username", "alice")
	if code == 0 || !strings.Contains(errOut, "TLS handshake") || strings.Contains(errOut, goodPassword) {
		t.Fatalf("unknown CA: exit %d: %s", code, errOut)
	}

	// A missing topic is an error too.
	if code, _, errOut = run(append(base, "--topics", "nope")...); code == 0 || !strings.Contains(errOut, "missing topics: nope") {
		t.Fatalf("missing topic: exit %d: %s", code, errOut)
	}
}

func TestSecretsNotInHelp(t *testing.T) {
	t.Setenv("SLUICE_SASL_PASSWORD", goodPassword)
	t.Setenv("SLUICE_SASL_USER", "SCRAM-SHA-256:alice:"+goodPassword)
	for _, name := range commandNames() {
		code, out, errOut := run(name, "--help")
		if code != 0 {
			t.Fatalf("%s --help: exit %d: %s", name, code, errOut)
		}
		if strings.Contains(out+errOut, goodPassword) {
			t.Fatalf("%s --help shows a secret:\n%s", name, out)
		}
	}
}

// TestBadSecretFlagNotEchoed: a malformed --sasl-user is rejected without
// repeating the value, which carries the password.
func TestBadSecretFlagNotEchoed(t *testing.T) {
	code, out, errOut := run("broker", "--sasl-user", "alice:"+goodPassword)
	if code != 2 || strings.Contains(out+errOut, goodPassword) {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
}

func commandNames() []string {
	var names []string
	for _, c := range NewRoot(nil, nil).Commands() {
		names = append(names, c.Name())
	}
	return names
}

// TestKafkaPreflight: any command with the Kafka flags stops before its
// RunE on rejected credentials, and starts anyway when no broker answers
// yet (workers retry).
func TestKafkaPreflight(t *testing.T) {
	addr, pki, _ := startBrokerCmd(t)
	newCmd := func(ran *bool) *cobra.Command {
		var kc kclient.Config
		c := &cobra.Command{Use: "worker", RunE: func(*cobra.Command, []string) error { *ran = true; return nil }}
		kc.AddFlags(c.Flags())
		return c
	}
	for _, tc := range []struct {
		name    string
		args    []string
		wantRun bool
		wantErr error
	}{
		{"right password", []string{"--brokers", addr, "--tls-ca", pki.CA, "--sasl-mechanism", "scram-sha-512", "--sasl-username", "alice", "--sasl-password", goodPassword}, true, nil},
		{"wrong password", []string{"--brokers", addr, "--tls-ca", pki.CA, "--sasl-mechanism", "scram-sha-512", "--sasl-username", "alice", "--sasl-password", badPassword}, false, kclient.ErrAuth},
		{"broker not up yet", []string{"--brokers", freeAddr(t)}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ran bool
			c := newCmd(&ran)
			c.SetArgs(tc.args)
			c.PreRunE = func(c *cobra.Command, _ []string) error { return kafkaPreflight(c) }
			err := c.ExecuteContext(context.Background())
			if ran != tc.wantRun || !errors.Is(err, tc.wantErr) && (tc.wantErr != nil || err != nil) {
				t.Fatalf("ran=%v err=%v, want ran=%v err=%v", ran, err, tc.wantRun, tc.wantErr)
			}
		})
	}
}

func TestCheckCreatesTopics(t *testing.T) {
	addr, pki, _ := startBrokerCmd(t)
	args := []string{"check", "--brokers", addr, "--tls-ca", pki.CA, "--sasl-mechanism", "scram-sha-512", "--sasl-username", "alice",
		"--sasl-password", goodPassword, "--topics", "clickstream,clickstream.dead", "--compacted", "app.state", "--create", "--partitions", "3"}
	code, out, errOut := run(args...)
	if code != 0 || !strings.Contains(out, "created topic clickstream.dead") || !strings.Contains(out, "topic clickstream.dead partitions=3") ||
		strings.Contains(out, "created topic clickstream\n") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut = run(args...); code != 0 || strings.Contains(out, "created") {
		t.Fatalf("second run should find them: exit %d\n%s\n%s", code, out, errOut)
	}
	kc := kclient.Config{Brokers: []string{addr}, TLSCAFile: pki.CA, SASLMechanism: "scram-sha-512", SASLUsername: "alice", SASLPassword: goodPassword}
	opts, err := kc.Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rc, err := kadm.NewClient(cl).DescribeTopicConfigs(context.Background(), "app.state", "clickstream.dead")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rc {
		v, _ := r.Configs, r.Err
		policy := ""
		for _, c := range v {
			if c.Key == "cleanup.policy" && c.Value != nil {
				policy = *c.Value
			}
		}
		if want := map[string]string{"app.state": "compact", "clickstream.dead": "delete"}[r.Name]; policy != want {
			t.Errorf("%s: cleanup.policy %q, want %q", r.Name, policy, want)
		}
	}
}

// TestWorkersFailFastOnWrongPassword: the real worker commands stop with
// the reason and a non-zero exit instead of retrying a wrong password.
func TestWorkersFailFastOnWrongPassword(t *testing.T) {
	addr, pki, _ := startBrokerCmd(t)
	rules := t.TempDir()
	auth := []string{"--brokers", addr, "--tls-ca", pki.CA, "--sasl-mechanism", "scram-sha-512", "--sasl-username", "alice", "--sasl-password", badPassword}
	for _, args := range [][]string{
		append([]string{"process", "--rules", rules}, auth...),
		append([]string{"sink", "--topics", "clickstream", "--to", "file://" + t.TempDir()}, auth...),
	} {
		done := make(chan struct{})
		var code int
		var out, errOut string
		go func() { code, out, errOut = run(args...); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("sluice %s with a wrong password still running after 30s", args[0])
		}
		if code == 0 || !strings.Contains(errOut, "rejected the SASL credentials") || strings.Contains(out+errOut, badPassword) {
			t.Fatalf("sluice %s: exit %d\nstdout: %s\nstderr: %s", args[0], code, out, errOut)
		}
	}
}
