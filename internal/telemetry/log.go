// Package telemetry sets up what every long-running command shares: a
// slog logger and an HTTP server for /metrics, /healthz and /readyz.
package telemetry

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/term"
)

// LogConfig chooses the log format and level.
type LogConfig struct {
	Format string // auto (text on a terminal, JSON otherwise), text or json
	Level  string // debug, info, warn, error
}

// Validate checks the values.
func (c LogConfig) Validate() error {
	switch c.Format {
	case "", "auto", "text", "json":
	default:
		return fmt.Errorf("--log-format: %q is not auto, text or json", c.Format)
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Level)); c.Level != "" && err != nil {
		return fmt.Errorf("--log-level: %q is not debug, info, warn or error", c.Level)
	}
	return nil
}

// NewLogger returns a logger writing to w (os.Stderr when nil).
func NewLogger(c LogConfig, w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(c.Level)))
	opts := &slog.HandlerOptions{Level: level}
	format := c.Format
	if format == "" || format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Discard is a logger that drops everything, for tests.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
