//go:build integration

package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Image names are parameters, so the same suite can run against images
// built elsewhere; by default both are built here FROM scratch.
var (
	sluiceImage = envOr("SLUICE_IT_SLUICE_IMAGE", "sluice-it:local") // the workers
	brokerImage = envOr("SLUICE_IT_BROKER_IMAGE", sluiceImage)       // sluice broker, or e.g. apache/kafka
	s3Image     = envOr("SLUICE_IT_S3_IMAGE", "sluice-it-s3:local")  // gofakes3, or e.g. minio/minio
)

const (
	brokerAlias = "broker"
	s3Alias     = "s3"
	s3Bucket    = "lake"
	// Credentials for the S3 container; test-only.
	s3AccessKey = "sluice-it"
	s3SecretKey = "sluice-it-secret"
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func TestMain(m *testing.M) {
	// No reaper container: it would have to be pulled. Each test
	// terminates what it starts.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := dockerUp(ctx); err != nil {
		fmt.Printf("SKIP integration: no Docker engine answers (%s)\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		os.Exit(0)
	}
	if err := buildImages(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "integration: building images: %v\n", err)
		os.Exit(1)
	}
	if err := pickPublishedHost(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func dockerUp(ctx context.Context) error {
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return p.Health(ctx) // closes p
}

// pickPublishedHost finds where published container ports answer. Inside
// a container testcontainers guesses the bridge gateway, which is right when
// the engine runs on the host and wrong when it runs in this container
// (docker-in-docker); a probe container settles it.
func pickPublishedHost(ctx context.Context) error {
	if _, ok := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); ok {
		return nil
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{Started: true, ContainerRequest: testcontainers.ContainerRequest{
		Image: s3Image, Cmd: s3Cmd(), Env: s3Env(), ExposedPorts: []string{"9000/tcp"},
	}})
	if c != nil {
		defer c.Terminate(context.Background())
	}
	if err != nil {
		return fmt.Errorf("starting the probe container: %w", err)
	}
	port, err := c.MappedPort(ctx, "9000/tcp")
	if err != nil {
		return err
	}
	guess, err := c.Host(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, h := range []string{guess, "127.0.0.1"} {
			conn, err := net.DialTimeout("tcp", net.JoinHostPort(h, port.Port()), time.Second)
			if err == nil {
				conn.Close()
				os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", h)
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("published ports answer neither on %s nor on 127.0.0.1: set TESTCONTAINERS_HOST_OVERRIDE", guess)
}

// buildImages builds the static binaries and packages each FROM scratch:
// nothing is pulled. Images given through the environment are used as is.
func buildImages(ctx context.Context) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if os.Getenv("SLUICE_IT_SLUICE_IMAGE") == "" {
		if err := buildScratchImage(ctx, root, sluiceImage, "./cmd/sluice", "sluice"); err != nil {
			return fmt.Errorf("%s: %w", sluiceImage, err)
		}
	}
	if os.Getenv("SLUICE_IT_S3_IMAGE") == "" {
		if err := buildScratchImage(ctx, root, s3Image, "./integration/s3server", "s3server"); err != nil {
			return fmt.Errorf("%s: %w", s3Image, err)
		}
	}
	return nil
}

func buildScratchImage(ctx context.Context, root, image, pkg, bin string) error {
	dir, err := os.MkdirTemp("", "sluice-it-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, bin), pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY %s /%s\nUSER 65532:65532\nENTRYPOINT [\"/%s\"]\n", bin, bin, bin)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	repo, tag, _ := strings.Cut(image, ":")
	if tag == "" {
		tag = "latest"
	}
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return err
	}
	defer p.Close()
	var log bytes.Buffer
	req := testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: dir, Repo: repo, Tag: tag, KeepImage: true, BuildLogWriter: &log,
	}}
	if _, err := p.BuildImage(ctx, &req); err != nil {
		return fmt.Errorf("docker build: %v\n%s", err, log.String())
	}
	return nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// stack is one test's network and containers.
type stack struct {
	t   *testing.T
	net *testcontainers.DockerNetwork
}

func newStack(t *testing.T) *stack {
	t.Helper()
	ctx := context.Background()
	n, err := tcnetwork.New(ctx)
	if err != nil {
		t.Fatalf("creating network: %v", err)
	}
	s := &stack{t: t, net: n}
	t.Cleanup(func() {
		if err := n.Remove(context.Background()); err != nil {
			t.Logf("removing network: %v", err)
		}
	})
	return s
}

// start runs a container on the stack's network under alias and stops it
// at the end of the test, printing its logs when the test failed.
func (s *stack) start(alias string, req testcontainers.ContainerRequest) testcontainers.Container {
	s.t.Helper()
	req.Networks = []string{s.net.Name}
	req.NetworkAliases = map[string][]string{s.net.Name: {alias}}
	req.Name = fmt.Sprintf("sluice-it-%s-%d", alias, time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if c != nil {
		s.t.Cleanup(func() {
			if s.t.Failed() {
				s.t.Logf("logs of %s:\n%s", alias, containerLogs(c))
			}
			if err := c.Terminate(context.Background()); err != nil {
				s.t.Logf("terminating %s: %v", alias, err)
			}
		})
	}
	if err != nil {
		s.t.Fatalf("starting %s (%s): %v", alias, req.Image, err)
	}
	return c
}

func containerLogs(c testcontainers.Container) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Logs(ctx)
	if err != nil {
		return err.Error()
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	return string(b)
}

// startBroker starts the broker with the topics, reachable inside the
// network as broker:9092. Clients in the test process reach it through
// the mapped port (see hostDialer).
// opts adjust the request (security flags, files).
func (s *stack) startBroker(partitions int, topics []string, opts ...func(*testcontainers.ContainerRequest)) testcontainers.Container {
	req := testcontainers.ContainerRequest{
		Image:        brokerImage,
		ExposedPorts: []string{"9092/tcp"},
		WaitingFor:   wait.ForListeningPort("9092/tcp").SkipInternalCheck().WithStartupTimeout(time.Minute),
	}
	if strings.Contains(brokerImage, "sluice") {
		req.Cmd = []string{"broker", "--listen", "0.0.0.0:9092", "--advertise", brokerAlias + ":9092",
			"--topics", strings.Join(topics, ","), "--partitions", fmt.Sprint(partitions), "--log-format", "text"}
	} else {
		// A stock Apache Kafka image in KRaft mode, one node.
		req.Env = map[string]string{
			"KAFKA_NODE_ID":                                  "1",
			"KAFKA_PROCESS_ROLES":                            "broker,controller",
			"KAFKA_LISTENERS":                                "PLAINTEXT://:9092,CONTROLLER://:9093",
			"KAFKA_ADVERTISED_LISTENERS":                     "PLAINTEXT://" + brokerAlias + ":9092",
			"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":           "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":                 "1@localhost:9093",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
			"KAFKA_NUM_PARTITIONS":                           fmt.Sprint(partitions),
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                "false",
		}
	}
	for _, o := range opts {
		o(&req)
	}
	c := s.start(brokerAlias, req)
	if !strings.Contains(brokerImage, "sluice") {
		// Stock images do not seed topics: ask the sluice image to.
		s.run("topics", []string{"check", "--brokers", brokerAlias + ":9092", "--topics", strings.Join(topics, ","),
			"--create", "--partitions", fmt.Sprint(partitions), "--replication-factor", "1", "--timeout", "60s"})
	}
	return c
}

// startS3 starts the S3 server with the lake bucket as s3:9000.
func (s *stack) startS3() testcontainers.Container {
	req := testcontainers.ContainerRequest{
		Image:        s3Image,
		ExposedPorts: []string{"9000/tcp"},
		WaitingFor:   wait.ForListeningPort("9000/tcp").SkipInternalCheck().WithStartupTimeout(time.Minute),
	}
	req.Cmd, req.Env = s3Cmd(), s3Env()
	return s.start(s3Alias, req)
}

func s3Cmd() []string {
	if strings.Contains(s3Image, "minio") {
		return []string{"server", "/data"}
	}
	return []string{"--listen", ":9000", "--buckets", s3Bucket}
}

func s3Env() map[string]string {
	if strings.Contains(s3Image, "minio") {
		return map[string]string{"MINIO_ROOT_USER": s3AccessKey, "MINIO_ROOT_PASSWORD": s3SecretKey}
	}
	return nil
}

// run runs a sluice command to completion in the network and returns its
// output; a non-zero exit fails the test.
func (s *stack) run(alias string, args []string) string {
	s.t.Helper()
	c := s.start(alias, testcontainers.ContainerRequest{
		Image:      sluiceImage,
		Cmd:        args,
		WaitingFor: wait.ForExit().WithExitTimeout(2 * time.Minute),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := c.State(ctx)
	if err != nil {
		s.t.Fatalf("%s: %v", alias, err)
	}
	logs := containerLogs(c)
	if st.ExitCode != 0 {
		s.t.Fatalf("sluice %s: exit %d\n%s", strings.Join(args, " "), st.ExitCode, logs)
	}
	return logs
}

// hostDialer maps container addresses (broker:9092) to the ports Docker
// published for them, so clients in the test process follow the
// addresses the broker advertises.
type hostDialer struct {
	t     *testing.T
	ports map[string]string // "broker:9092" -> "127.0.0.1:49153"
}

func (s *stack) dialer(containers map[string]testcontainers.Container) *hostDialer {
	s.t.Helper()
	d := &hostDialer{t: s.t, ports: map[string]string{}}
	ctx := context.Background()
	for addr, c := range containers {
		_, port, _ := net.SplitHostPort(addr)
		ep, err := c.PortEndpoint(ctx, port+"/tcp", "")
		if err != nil {
			s.t.Fatalf("published port of %s: %v", addr, err)
		}
		d.ports[addr] = ep
	}
	return d
}

func (d *hostDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if mapped, ok := d.ports[addr]; ok {
		addr = mapped
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, lastErr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
