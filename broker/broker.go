// Package broker runs the embedded Kafka-compatible broker (franz-go's kfake):
// real Kafka wire protocol with groups, idempotence, transactions, SASL and
// TLS, so `sluice dev`, tests and any Kafka client can use it.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// User is a SASL user the broker accepts.
type User struct {
	Mechanism string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Name      string
	Password  string
}

// Config configures the embedded broker.
type Config struct {
	// Listen is host:port to bind. Port 0 picks a free port. Default 127.0.0.1:9092.
	Listen string
	// Advertise is the host:port clients are told to connect to; default
	// the bound address. Needed when binding 0.0.0.0 in a container.
	Advertise string
	// DataDir persists topics, offsets and groups across restarts when set.
	DataDir string
	// Topics are created at start (existing ones in DataDir are kept).
	Topics []string
	// Partitions per seeded topic; default 6.
	Partitions int32
	// TLS serves TLS when set.
	TLS *tls.Config
	// Users enables SASL with these users (the first one is superuser).
	Users []User
	// ReauthAfter, when positive, makes clients re-authenticate their SASL
	// sessions this often (connections.max.reauth.ms, KIP-368), as MSK does
	// when IAM credentials expire.
	ReauthAfter time.Duration
	Log         *slog.Logger
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:9092"
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	if c.Advertise != "" {
		if _, p, err := net.SplitHostPort(c.Advertise); err != nil {
			return fmt.Errorf("--advertise %q: %w", c.Advertise, err)
		} else if _, err := strconv.Atoi(p); err != nil {
			return fmt.Errorf("--advertise %q: port is not a number", c.Advertise)
		}
	}
	if c.Partitions == 0 {
		c.Partitions = 6
	}
	if c.Partitions < 0 {
		return errors.New("--partitions must be positive")
	}
	for _, u := range c.Users {
		switch strings.ToUpper(u.Mechanism) {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			return fmt.Errorf("user %s: unknown SASL mechanism %q", u.Name, u.Mechanism)
		}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Broker is a running embedded broker.
type Broker struct {
	c     *kfake.Cluster
	addrs []string
}

// Start starts the broker and returns once it accepts connections.
func Start(cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(listenFn(cfg.Listen, cfg.Advertise)),
		kfake.WithLogger(slogLogger{cfg.Log}),
		kfake.DefaultNumPartitions(int(cfg.Partitions)),
	}
	if len(cfg.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(cfg.Partitions, cfg.Topics...))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.TLS != nil {
		opts = append(opts, kfake.TLS(cfg.TLS))
	}
	if cfg.ReauthAfter > 0 {
		opts = append(opts, kfake.BrokerConfigs(map[string]string{"connections.max.reauth.ms": strconv.FormatInt(cfg.ReauthAfter.Milliseconds(), 10)}))
	}
	if len(cfg.Users) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range cfg.Users {
			opts = append(opts, kfake.Superuser(strings.ToUpper(u.Mechanism), u.Name, u.Password))
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting embedded broker on %s: %w", cfg.Listen, err)
	}
	return &Broker{c: c, addrs: c.ListenAddrs()}, nil
}

// Addrs are the advertised broker addresses, for clients' seed brokers.
func (b *Broker) Addrs() []string { return b.addrs }

// Cluster exposes the kfake cluster (tests use it to inject faults).
func (b *Broker) Cluster() *kfake.Cluster { return b.c }

// Close stops the broker, persisting state when a data dir is set.
func (b *Broker) Close() { b.c.Close() }

// Run serves until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	b, err := Start(cfg)
	if err != nil {
		return err
	}
	cfg.Log.Info("embedded broker listening", "addr", strings.Join(b.Addrs(), ","), "data_dir", cfg.DataDir, "topics", cfg.Topics)
	<-ctx.Done()
	b.Close()
	cfg.Log.Info("embedded broker stopped")
	return nil
}

// listenFn binds the configured address (kfake alone binds 127.0.0.1 only)
// and, when asked, reports the advertised address as the listener's own,
// which is what kfake puts in metadata responses.
func listenFn(listen, advertise string) func(network, address string) (net.Listener, error) {
	return func(network, _ string) (net.Listener, error) {
		ln, err := net.Listen(network, listen)
		if err != nil {
			return nil, err
		}
		if advertise == "" {
			return ln, nil
		}
		host, port, _ := net.SplitHostPort(advertise)
		p, _ := strconv.Atoi(port)
		return advertised{Listener: ln, addr: &net.TCPAddr{IP: nil, Port: p}, host: host}, nil
	}
}

type advertised struct {
	net.Listener
	addr *net.TCPAddr
	host string
}

func (a advertised) Addr() net.Addr { return hostAddr{a.host, a.addr.Port} }

type hostAddr struct {
	host string
	port int
}

func (h hostAddr) Network() string { return "tcp" }
func (h hostAddr) String() string  { return net.JoinHostPort(h.host, strconv.Itoa(h.port)) }

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	var l slog.Level
	switch level {
	case kfake.LogLevelError:
		l = slog.LevelWarn
	case kfake.LogLevelWarn:
		// kfake warns about its own slowness (e.g. "EndTxn slow"): noise
		// for an operator, so it shows at debug.
		l = slog.LevelDebug
	case kfake.LogLevelInfo:
		// kfake logs every request at info: that is debug detail for us.
		l = slog.LevelDebug
	default:
		l = slog.LevelDebug - 4
	}
	if s.l.Enabled(context.Background(), l) {
		s.l.Log(context.Background(), l, fmt.Sprintf(msg, args...), "component", "broker")
	}
}
