package kclient

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCompression(t *testing.T) {
	for name, want := range map[string]kgo.CompressionCodec{"": kgo.SnappyCompression(), "none": kgo.NoCompression(),
		"gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()} {
		if c, err := Compression(name); err != nil || c != want {
			t.Errorf("%q: %v, %v", name, c, err)
		}
	}
	if _, err := Compression("brotli"); err == nil {
		t.Error("brotli accepted")
	}
}
