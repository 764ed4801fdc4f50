//go:build integration

package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	kgoscram "github.com/segmentio/kafka-go/sasl/scram"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicehq/sluice/internal/testpki"
)

// security is a broker that serves TLS only (a CA made for the test, the
// certificate naming the broker's alias) and SCRAM-SHA-512 only.
type security struct {
	pki      testpki.Files
	user     string
	password string
}

func newSecurity(t *testing.T) *security {
	pki, err := testpki.Write(t.TempDir(), brokerAlias)
	if err != nil {
		t.Fatal(err)
	}
	return &security{pki: pki, user: "sluice-it", password: "it-" + time.Now().Format("150405.000000")}
}

func (sec *security) file(host, container string) testcontainers.ContainerFile {
	// 0644: the containers run as uid 65532 (a test key, nothing to guard).
	return testcontainers.ContainerFile{HostFilePath: host, ContainerFilePath: container, FileMode: 0o644}
}

// brokerOpts make the broker serve TLS with SCRAM users.
func (sec *security) brokerOpts() []func(*testcontainers.ContainerRequest) {
	if sec == nil {
		return nil
	}
	return []func(*testcontainers.ContainerRequest){func(r *testcontainers.ContainerRequest) {
		r.Cmd = append(r.Cmd, "--tls-cert", "/certs/server.pem", "--tls-key", "/certs/server-key.pem")
		r.Files = append(r.Files, sec.file(sec.pki.ServerCert, "/certs/server.pem"), sec.file(sec.pki.ServerKey, "/certs/server-key.pem"))
		if r.Env == nil {
			r.Env = map[string]string{}
		}
		r.Env["SLUICE_SASL_USER"] = "SCRAM-SHA-512:" + sec.user + ":" + sec.password
	}}
}

// worker gives a sluice container the CA and the credentials, the way a
// deployment would: flags through SLUICE_* variables, the password too.
func (sec *security) worker(r testcontainers.ContainerRequest) testcontainers.ContainerRequest {
	if sec == nil {
		return r
	}
	if r.Env == nil {
		r.Env = map[string]string{}
	}
	r.Env["SLUICE_TLS_CA"] = "/certs/ca.pem"
	r.Env["SLUICE_SASL_MECHANISM"] = "scram-sha-512"
	r.Env["SLUICE_SASL_USERNAME"] = sec.user
	r.Env["SLUICE_SASL_PASSWORD"] = sec.password
	r.Files = append(r.Files, sec.file(sec.pki.CA, "/certs/ca.pem"))
	return r
}

// kafkaOpts are the franz-go options of the test's own clients.
func (p *pipeline) kafkaOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(brokerAlias + ":9092"), kgo.Dialer(p.dial.DialContext)}
	if p.sec == nil {
		return opts
	}
	// kgo.Dialer replaces the TLS dialer: wrap the mapped connection here.
	tc := p.sec.tlsConfig(p.t)
	return []kgo.Opt{
		kgo.SeedBrokers(brokerAlias + ":9092"),
		kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
			raw, err := p.dial.DialContext(ctx, network, host)
			if err != nil {
				return nil, err
			}
			c := tls.Client(raw, tc)
			if err := c.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return c, nil
		}),
		kgo.SASL(scram.Auth{User: p.sec.user, Pass: p.sec.password}.AsSha512Mechanism()),
	}
}

func (sec *security) tlsConfig(t *testing.T) *tls.Config {
	pem, err := os.ReadFile(sec.pki.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, ServerName: brokerAlias, MinVersion: tls.VersionTLS12}
}

// kafkaGoDialer is the segmentio/kafka-go dialer of the test's clients.
func (p *pipeline) kafkaGoDialer() *kafka.Dialer {
	d := &kafka.Dialer{Timeout: 10 * time.Second, DialFunc: p.dial.DialContext}
	if p.sec != nil {
		m, err := kgoscram.Mechanism(kgoscram.SHA512, p.sec.user, p.sec.password)
		if err != nil {
			p.t.Fatal(err)
		}
		d.TLS, d.SASLMechanism = p.sec.tlsConfig(p.t), m
	}
	return d
}

// TestSecurePipeline: the whole pipeline against a broker that accepts
// only TLS and SCRAM-SHA-512, every worker configured through SLUICE_*
// variables as in a deployment; a worker with a wrong password exits
// non-zero at once, with the reason and without the password.
func TestSecurePipeline(t *testing.T) {
	sec := newSecurity(t)
	p := newPipelineWith(t, sec)

	bad := *sec
	bad.password = "not-" + sec.password
	c := p.start("wrong-password", bad.worker(testcontainers.ContainerRequest{
		Image:      sluiceImage,
		Cmd:        []string{"process", "--brokers", brokerAlias + ":9092", "--rules", "/", "--group", "it-bad"},
		WaitingFor: wait.ForExit().WithExitTimeout(time.Minute),
	}))
	st, err := c.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	logs := containerLogs(c)
	if st.ExitCode == 0 || !strings.Contains(logs, "rejected the SASL credentials") || strings.Contains(logs, bad.password) {
		t.Fatalf("a processor with a wrong password: exit %d\n%s", st.ExitCode, logs)
	}

	p.startProcessor()
	p.startSink()
	events := generate(5, 5000, eventBase())
	p.produce(events)
	p.verify(events, false)
	for name, c := range map[string]testcontainers.Container{"broker": p.broker, "processor": p.processors[0], "sink": p.sinks[0]} {
		if strings.Contains(containerLogs(c), sec.password) {
			t.Errorf("%s logged the SASL password", name)
		}
	}
}
