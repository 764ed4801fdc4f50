package cli

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/kclient"
)

// preflightTimeout bounds the one connection attempt made before a Kafka
// command starts.
const preflightTimeout = 5 * time.Second

// noPreflight is the annotation a command sets to skip kafkaPreflight.
const noPreflight = "sluice/no-kafka-preflight"

// kafkaPreflight connects once before any command with Kafka flags runs,
// and stops it with a clear error when the broker rejects its TLS or SASL
// settings: a worker would otherwise retry a wrong password forever. A
// broker that is merely not up yet is left to the worker's own retries.
func kafkaPreflight(c *cobra.Command) error {
	if c.Annotations[noPreflight] != "" {
		return nil
	}
	cfg, ok := kclient.FromFlags(c.Flags())
	if !ok || cfg.Validate() != nil {
		return nil // not a Kafka command, or the command reports its own flag errors
	}
	err := cfg.Check(c.Context(), preflightTimeout)
	if errors.Is(err, kclient.ErrAuth) || errors.Is(err, kclient.ErrTLS) {
		return err
	}
	return nil
}
