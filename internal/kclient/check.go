package kclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors Check returns for what retrying cannot fix.
var (
	// ErrAuth: the broker rejected the SASL credentials or mechanism.
	ErrAuth = errors.New("the broker rejected the SASL credentials")
	// ErrTLS: the TLS handshake failed (unknown CA, wrong name, missing
	// client certificate, TLS spoken to a plaintext listener).
	ErrTLS = errors.New("TLS handshake with the broker failed")
	// ErrUnreachable: no broker answered; workers keep retrying.
	ErrUnreachable = errors.New("no broker answered")
)

// Check connects once to the brokers and asks for metadata. It tells apart
// what retrying cannot fix (ErrAuth, ErrTLS) from a broker that is not up
// yet (ErrUnreachable), so a command can fail fast with a clear message on
// a wrong password instead of retrying forever. The password never appears
// in the error.
func (c *Config) Check(ctx context.Context, timeout time.Duration) error {
	opts, err := c.Opts()
	if err != nil {
		return err
	}
	w := &connWatch{}
	cl, err := kgo.NewClient(append(opts, kgo.WithHooks(w), kgo.DialTimeout(timeout))...)
	if err != nil {
		return fmt.Errorf("creating the Kafka client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = cl.Ping(ctx)
	if err == nil {
		return nil
	}
	return c.classify(err, w.authReadErr())
}

func (c *Config) classify(err, authErr error) error {
	where := strings.Join(c.Brokers, ",")
	var (
		kErr      *kerr.Error
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		verifyErr *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
	)
	switch {
	case authErr != nil || errors.As(err, &kErr) && isSASLError(kErr):
		if authErr == nil {
			authErr = err
		}
		who := strings.ToUpper(c.SASLMechanism)
		if c.SASLUsername != "" {
			who = fmt.Sprintf("user %q with %s", c.SASLUsername, who)
		}
		return fmt.Errorf("authenticating to %s as %s: %w (%v); check --sasl-mechanism, --sasl-username and --sasl-password", where, who, ErrAuth, authErr)
	case errors.As(err, &unknownCA), errors.As(err, &verifyErr):
		return fmt.Errorf("connecting to %s: %w: %v (give the broker's CA with --tls-ca)", where, ErrTLS, err)
	case errors.As(err, &hostErr):
		return fmt.Errorf("connecting to %s: %w: %v (see --tls-server-name)", where, ErrTLS, err)
	case errors.As(err, &recordErr):
		return fmt.Errorf("connecting to %s: %w: %v (is this a plaintext listener? drop --tls)", where, ErrTLS, err)
	case strings.Contains(err.Error(), "remote error: tls:"):
		// The server's TLS alert (an unexported type in crypto/tls).
		return fmt.Errorf("connecting to %s: %w: %v (does the broker want a client certificate? see --tls-cert/--tls-key)", where, ErrTLS, err)
	}
	return fmt.Errorf("connecting to %s: %w: %v", where, ErrUnreachable, err)
}

func isSASLError(e *kerr.Error) bool {
	switch e.Code {
	case kerr.SaslAuthenticationFailed.Code, kerr.UnsupportedSaslMechanism.Code, kerr.IllegalSaslState.Code:
		return true
	}
	return false
}

// connWatch notices a connection dropped while a SASL exchange was in
// flight: some brokers (the embedded one included) close the connection on
// bad credentials instead of answering with SASL_AUTHENTICATION_FAILED.
type connWatch struct {
	mu  sync.Mutex
	err error
}

func (w *connWatch) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil {
		return
	}
	if key != int16(kmsg.SASLAuthenticate) && key != int16(kmsg.SASLHandshake) {
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return // a slow broker, not a rejection
	}
	w.mu.Lock()
	if w.err == nil {
		w.err = fmt.Errorf("connection closed during SASL %s: %w", kmsg.Key(key).Name(), err)
	}
	w.mu.Unlock()
}

func (w *connWatch) authReadErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
