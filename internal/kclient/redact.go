package kclient

import (
	"fmt"
	"log/slog"
	"strings"
)

const redacted = "<redacted>"

// LogValue lets a Config be logged with slog: the password never is.
func (c Config) LogValue() slog.Value {
	pw := ""
	if c.SASLPassword != "" {
		pw = redacted
	}
	return slog.GroupValue(
		slog.String("brokers", strings.Join(c.Brokers, ",")),
		slog.String("client_id", c.ClientID),
		slog.Bool("tls", c.tlsEnabled()),
		slog.String("tls_ca", c.TLSCAFile),
		slog.String("tls_cert", c.TLSCertFile),
		slog.String("sasl_mechanism", c.SASLMechanism),
		slog.String("sasl_username", c.SASLUsername),
		slog.String("sasl_password", pw),
	)
}

// String prints the settings with the password redacted, so %v and %+v
// are safe in logs and error messages.
func (c Config) String() string {
	pw := ""
	if c.SASLPassword != "" {
		pw = redacted
	}
	return fmt.Sprintf("{Brokers:%v ClientID:%s TLS:%t TLSCAFile:%s TLSCertFile:%s TLSKeyFile:%s TLSServerName:%s TLSInsecure:%t SASLMechanism:%s SASLUsername:%s SASLPassword:%s}",
		c.Brokers, c.ClientID, c.TLS, c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile, c.TLSServerName, c.TLSInsecure, c.SASLMechanism, c.SASLUsername, pw)
}

// GoString is String for %#v.
func (c Config) GoString() string { return "kclient.Config" + c.String() }
