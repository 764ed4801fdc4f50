package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
)

// ServerTLS loads the broker's certificate and key; with clientCAFile set,
// clients must present a certificate signed by one of its CAs (mutual TLS).
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		if clientCAFile != "" {
			return nil, errors.New("--tls-client-ca needs --tls-cert and --tls-key")
		}
		if certFile != "" || keyFile != "" {
			return nil, errors.New("--tls-cert and --tls-key go together")
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading --tls-cert/--tls-key: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("reading --tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-client-ca %s: no PEM certificates found", clientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// String hides the password, so a User is safe in logs and errors.
func (u User) String() string {
	return u.Mechanism + ":" + u.Name + ":<redacted>"
}

// GoString is String for %#v.
func (u User) GoString() string { return "broker.User{" + u.String() + "}" }

// LogValue hides the password from slog.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("mechanism", u.Mechanism), slog.String("name", u.Name))
}
