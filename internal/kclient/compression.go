package kclient

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Compressions lists the batch compressions a --compression flag takes.
const Compressions = "none, gzip, snappy, lz4 or zstd"

// Compression returns the franz-go codec for a --compression value (""
// is snappy, the default of every sluice producer).
func Compression(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "", "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("--compression %q: want %s", name, Compressions)
}
