// Package kclient holds the Kafka connection settings every worker shares
// (brokers, TLS, SASL) and turns them into franz-go client options.
package kclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config is how a worker reaches the brokers.
type Config struct {
	Brokers  []string
	ClientID string

	TLS           bool   // use TLS (implied by any of the files below)
	TLSCAFile     string // PEM bundle to trust instead of the system roots
	TLSCertFile   string // client certificate (mutual TLS)
	TLSKeyFile    string
	TLSServerName string
	TLSInsecure   bool // skip verification: tests only

	SASLMechanism string // "", plain, scram-sha-256, scram-sha-512, aws-msk-iam
	SASLUsername  string
	SASLPassword  string // never logged
}

// AddFlags registers the connection flags on fs.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&c.Brokers, "brokers", []string{"127.0.0.1:9092"}, "Kafka bootstrap brokers, comma separated")
	fs.StringVar(&c.ClientID, "client-id", "sluice", "Kafka client id")
	fs.BoolVar(&c.TLS, "tls", false, "connect with TLS (implied by the other --tls-* flags and by aws-msk-iam)")
	fs.StringVar(&c.TLSCAFile, "tls-ca", "", "PEM file of CAs to trust (default: system roots)")
	fs.StringVar(&c.TLSCertFile, "tls-cert", "", "client certificate PEM file (mutual TLS)")
	fs.StringVar(&c.TLSKeyFile, "tls-key", "", "client key PEM file (mutual TLS)")
	fs.StringVar(&c.TLSServerName, "tls-server-name", "", "server name to verify (default: the broker host)")
	fs.BoolVar(&c.TLSInsecure, "tls-insecure-skip-verify", false, "do not verify the broker certificate (testing only)")
	fs.StringVar(&c.SASLMechanism, "sasl-mechanism", "", "SASL mechanism: plain, scram-sha-256, scram-sha-512 or aws-msk-iam (AWS default credential chain: env, profile, IRSA, instance role)")
	fs.StringVar(&c.SASLUsername, "sasl-username", "", "SASL username")
	fs.StringVar(&c.SASLPassword, "sasl-password", "", "SASL password (prefer the SLUICE_SASL_PASSWORD environment variable)")
}

// Validate checks the settings without connecting.
func (c *Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("--brokers: at least one broker is needed")
	}
	for _, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			return fmt.Errorf("--brokers: %q is not host:port", b)
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	switch strings.ToLower(c.SASLMechanism) {
	case "":
	case "plain", "scram-sha-256", "scram-sha-512":
		if c.SASLUsername == "" || c.SASLPassword == "" {
			return fmt.Errorf("--sasl-mechanism %s needs --sasl-username and --sasl-password", c.SASLMechanism)
		}
	case "aws-msk-iam":
		if c.SASLUsername != "" || c.SASLPassword != "" {
			return errors.New("--sasl-mechanism aws-msk-iam takes its credentials from the AWS credential chain, not --sasl-username/--sasl-password")
		}
	default:
		return fmt.Errorf("--sasl-mechanism: unknown mechanism %q (want plain, scram-sha-256, scram-sha-512 or aws-msk-iam)", c.SASLMechanism)
	}
	return nil
}

// Opts returns the franz-go options for these settings.
func (c *Config) Opts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID(c.ClientID)}
	if c.tlsEnabled() {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	m, err := c.saslMechanism()
	if err != nil {
		return nil, err
	}
	if m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// tlsEnabled: TLS is asked for, implied by a TLS file, or required by MSK
// IAM (MSK serves IAM on its TLS listener only, port 9098).
func (c *Config) tlsEnabled() bool {
	return c.TLS || c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSInsecure || c.TLSServerName != "" ||
		strings.EqualFold(c.SASLMechanism, "aws-msk-iam")
}

func (c *Config) saslMechanism() (sasl.Mechanism, error) {
	switch strings.ToLower(c.SASLMechanism) {
	case "plain":
		return plain.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsMechanism(), nil
	case "scram-sha-256":
		return scram.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsSha256Mechanism(), nil
	case "scram-sha-512":
		return scram.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsSha512Mechanism(), nil
	case "aws-msk-iam":
		creds, err := loadAWSCredentials(context.Background())
		if err != nil {
			return nil, err
		}
		return mskIAM(creds), nil
	}
	return nil, nil
}

func (c *Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName, InsecureSkipVerify: c.TLSInsecure} //nolint:gosec // opt-in for tests
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("reading --tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificates found", c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading --tls-cert/--tls-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// FromFlags reads back the settings AddFlags registered on fs (after flags,
// environment and config file were applied); ok is false when fs has none.
func FromFlags(fs *pflag.FlagSet) (c Config, ok bool) {
	if fs.Lookup("brokers") == nil || fs.Lookup("sasl-mechanism") == nil {
		return c, false
	}
	c.Brokers, _ = fs.GetStringSlice("brokers")
	c.ClientID, _ = fs.GetString("client-id")
	c.TLS, _ = fs.GetBool("tls")
	c.TLSCAFile, _ = fs.GetString("tls-ca")
	c.TLSCertFile, _ = fs.GetString("tls-cert")
	c.TLSKeyFile, _ = fs.GetString("tls-key")
	c.TLSServerName, _ = fs.GetString("tls-server-name")
	c.TLSInsecure, _ = fs.GetBool("tls-insecure-skip-verify")
	c.SASLMechanism, _ = fs.GetString("sasl-mechanism")
	c.SASLUsername, _ = fs.GetString("sasl-username")
	c.SASLPassword, _ = fs.GetString("sasl-password")
	return c, true
}
