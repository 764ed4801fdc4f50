// Command sluice runs clickstream pipelines on Kafka: generator, collector,
// rule processor, Parquet sink and an embedded broker, in one binary.
package main

import (
	"os"

	_ "time/tzdata" // schema zones must resolve on scratch images too

	"github.com/sluicehq/sluice/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
