package kclient

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/testpki"
)

const (
	rightPassword = "c0rrect-horse-battery"
	wrongPassword = "Tr0ub4dor-and-3"
)

// secureBroker starts the embedded broker serving TLS with users for every
// SASL mechanism; with mtls it also requires client certificates.
func secureBroker(t *testing.T, mtls bool) (addr string, pki testpki.Files) {
	t.Helper()
	pki, err := testpki.Write(t.TempDir(), "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	clientCA := ""
	if mtls {
		clientCA = pki.CA
	}
	tc, err := broker.ServerTLS(pki.ServerCert, pki.ServerKey, clientCA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start(broker.Config{
		Listen: "127.0.0.1:0", Topics: []string{"secure"}, Partitions: 1, TLS: tc,
		Users: []broker.User{
			{Mechanism: "SCRAM-SHA-256", Name: "alice", Password: rightPassword},
			{Mechanism: "SCRAM-SHA-512", Name: "bob", Password: rightPassword},
			{Mechanism: "PLAIN", Name: "carol", Password: rightPassword},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addrs()[0], pki
}

func TestCheckTLSAndSASL(t *testing.T) {
	addr, pki := secureBroker(t, false)
	creds := map[string]string{"scram-sha-256": "alice", "scram-sha-512": "bob", "plain": "carol"}
	for mech, user := range creds {
		t.Run(mech, func(t *testing.T) {
			good := Config{Brokers: []string{addr}, TLSCAFile: pki.CA, SASLMechanism: mech, SASLUsername: user, SASLPassword: rightPassword}
			if err := good.Check(context.Background(), 5*time.Second); err != nil {
				t.Fatalf("right password: %v", err)
			}
			roundTrip(t, good)

			bad := good
			bad.SASLPassword = wrongPassword
			err := bad.Check(context.Background(), 5*time.Second)
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("wrong password: got %v, want ErrAuth", err)
			}
			if msg := err.Error(); strings.Contains(msg, wrongPassword) || !strings.Contains(msg, user) {
				t.Fatalf("wrong password error should name the user and never the password: %s", msg)
			}
		})
	}
	t.Run("unknown user", func(t *testing.T) {
		c := Config{Brokers: []string{addr}, TLSCAFile: pki.CA, SASLMechanism: "scram-sha-256", SASLUsername: "mallory", SASLPassword: rightPassword}
		if err := c.Check(context.Background(), 5*time.Second); !errors.Is(err, ErrAuth) {
			t.Fatalf("got %v, want ErrAuth", err)
		}
	})
	t.Run("mechanism the user does not have", func(t *testing.T) {
		c := Config{Brokers: []string{addr}, TLSCAFile: pki.CA, SASLMechanism: "scram-sha-512", SASLUsername: "alice", SASLPassword: rightPassword}
		if err := c.Check(context.Background(), 5*time.Second); !errors.Is(err, ErrAuth) {
			t.Fatalf("got %v, want ErrAuth", err)
		}
	})
	t.Run("system roots do not trust the test CA", func(t *testing.T) {
		c := Config{Brokers: []string{addr}, TLS: true, SASLMechanism: "scram-sha-256", SASLUsername: "alice", SASLPassword: rightPassword}
		err := c.Check(context.Background(), 5*time.Second)
		if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "--tls-ca") {
			t.Fatalf("got %v, want ErrTLS pointing at --tls-ca", err)
		}
	})
	t.Run("wrong server name", func(t *testing.T) {
		c := Config{Brokers: []string{addr}, TLSCAFile: pki.CA, TLSServerName: "broker.example.com", SASLMechanism: "scram-sha-256", SASLUsername: "alice", SASLPassword: rightPassword}
		if err := c.Check(context.Background(), 5*time.Second); !errors.Is(err, ErrTLS) {
			t.Fatalf("got %v, want ErrTLS", err)
		}
	})
}

func TestCheckUnreachableIsNotFatal(t *testing.T) {
	c := Config{Brokers: []string{"127.0.0.1:1"}}
	err := c.Check(context.Background(), 2*time.Second)
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrAuth) || errors.Is(err, ErrTLS) {
		t.Fatalf("got %v, want only ErrUnreachable", err)
	}
}

func TestMutualTLS(t *testing.T) {
	addr, pki := secureBroker(t, true)
	with := Config{Brokers: []string{addr}, TLSCAFile: pki.CA, TLSCertFile: pki.ClientCert, TLSKeyFile: pki.ClientKey,
		SASLMechanism: "scram-sha-512", SASLUsername: "bob", SASLPassword: rightPassword}
	if err := with.Check(context.Background(), 5*time.Second); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	roundTrip(t, with)
	without := with
	without.TLSCertFile, without.TLSKeyFile = "", ""
	if err := without.Check(context.Background(), 5*time.Second); !errors.Is(err, ErrTLS) {
		t.Fatalf("without a client certificate: got %v, want ErrTLS", err)
	}
}

// roundTrip produces one record and reads it back through cfg.
func roundTrip(t *testing.T, cfg Config) {
	t.Helper()
	opts, err := cfg.Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics("secure"), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want := cfg.SASLMechanism + "-" + time.Now().Format(time.RFC3339Nano)
	// Poll once so the consumer has its position before the record lands.
	for {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "secure", Value: []byte(want)}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume: %v", err)
		}
		for _, r := range fs.Records() {
			if string(r.Value) == want {
				return
			}
		}
	}
}

// TestSASLReauthentication: when the broker bounds session lifetimes (as
// MSK does for IAM), clients built from Opts re-authenticate on the same
// connection and keep working.
func TestSASLReauthentication(t *testing.T) {
	pki, err := testpki.Write(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := broker.ServerTLS(pki.ServerCert, pki.ServerKey, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Topics: []string{"secure"}, Partitions: 1, TLS: tc,
		ReauthAfter: time.Second, Users: []broker.User{{Mechanism: "SCRAM-SHA-256", Name: "alice", Password: rightPassword}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := Config{Brokers: b.Addrs(), TLSCAFile: pki.CA, SASLMechanism: "scram-sha-256", SASLUsername: "alice", SASLPassword: rightPassword}
	opts, err := cfg.Opts()
	if err != nil {
		t.Fatal(err)
	}
	auths := &authCounter{}
	cl, err := kgo.NewClient(append(opts, kgo.WithHooks(auths))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// SCRAM is two SASLAuthenticate round trips per session: more than
	// two per connection means sessions were renewed on open connections.
	for i := 0; auths.n.Load() < 2*auths.conns.Load()+4; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "secure", Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatalf("produce %d after %d authentications: %v", i, auths.n.Load(), err)
		}
		time.Sleep(20 * time.Millisecond) // pace the producer, not a synchronisation
	}
	t.Logf("%d connections, %d SASLAuthenticate requests", auths.conns.Load(), auths.n.Load())
}

type authCounter struct{ n, conns atomic.Int32 }

func (a *authCounter) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		a.conns.Add(1)
	}
}

func (a *authCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == int16(kmsg.SASLAuthenticate) && err == nil {
		a.n.Add(1)
	}
}
