package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
)

// store writes whole objects under a prefix of a bucket: a local directory
// (gocloud fileblob) or S3 (s3blob over aws-sdk-go-v2). Every write is
// atomic: fileblob writes a temporary file next to the target and renames
// it (we add the fsyncs it leaves out); an S3 PUT (or multipart completion)
// makes the object visible all at once.
type store struct {
	bucket  *blob.Bucket
	prefix  string // "" or "dir/" inside the bucket
	dir     string // local root, for fsync; "" for S3
	s3      *s3Options
	timeout time.Duration // per attempt
	backoff time.Duration // cap of the retry backoff
	log     *slog.Logger
	onRetry func()
	sync    func(path string) error // fsync of a file or directory (tests watch it)
	durable map[string]bool         // local folders whose own entry is already synced

	partSize int // S3 multipart threshold and part size
}

// parseDest checks --to and returns its scheme and URL.
func parseDest(to string) (string, *url.URL, error) {
	u, err := url.Parse(to)
	if err != nil || to == "" {
		return "", nil, fmt.Errorf("%w (got %q)", ErrBadDest, to)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" || !filepath.IsAbs(u.Path) {
			return "", nil, fmt.Errorf("%w: %q is not an absolute file:/// URL", ErrBadDest, to)
		}
		if len(u.Query()) > 0 {
			return "", nil, fmt.Errorf("%w: file:// takes no options (got %q)", ErrBadDest, u.RawQuery)
		}
	case "s3":
		if u.Host == "" {
			return "", nil, fmt.Errorf("%w: %q has no bucket", ErrBadDest, to)
		}
		if _, err := parseS3Options(u.Query()); err != nil {
			return "", nil, err
		}
	default:
		return "", nil, fmt.Errorf("%w (got scheme %q)", ErrBadDest, u.Scheme)
	}
	return u.Scheme, u, nil
}

func openStore(ctx context.Context, cfg *Config) (*store, error) {
	scheme, u, err := parseDest(cfg.To)
	if err != nil {
		return nil, err
	}
	st := &store{timeout: cfg.StoreTimeout, backoff: cfg.RetryBackoff, log: cfg.Log, partSize: 16 << 20, sync: syncPath}
	if cfg.hooks != nil && cfg.hooks.partSize > 0 {
		st.partSize = cfg.hooks.partSize
	}
	switch scheme {
	case "file":
		st.dir = filepath.Clean(u.Path)
		// Temporary files go next to their target (same filesystem, so the
		// rename is atomic) and end in .tmp, which readers globbing
		// *.parquet skip.
		st.bucket, err = fileblob.OpenBucket(st.dir, &fileblob.Options{
			CreateDir: true, NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
	case "s3":
		st.s3, _ = parseS3Options(u.Query())
		st.bucket, err = openS3(ctx, u.Host, st.s3)
		if p := strings.Trim(u.Path, "/"); p != "" {
			st.prefix = p + "/"
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", cfg.To, err)
	}
	return st, nil
}

func (s *store) close() error { return s.bucket.Close() }

// put writes one object, retrying errors and timeouts with exponential
// backoff and full jitter until it succeeds or ctx ends. While it retries
// the caller does not poll Kafka, so a long outage pauses consumption
// instead of buffering without bound. Before each retry, stillOwner (when
// set) must say the writer still owns what it writes; an error ends put.
func (s *store) put(ctx context.Context, key string, data *chunks, contentType string, stillOwner func() error) error {
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.putOnce(ctx, key, data, contentType)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("writing %s: %w", key, ctx.Err())
		}
		wait := time.Duration(rand.Int64N(int64(delay)) + 1)
		s.log.Warn("object store write failed; retrying", "key", s.prefix+key, "attempt", attempt, "retry_in", wait, "err", err)
		if s.onRetry != nil {
			s.onRetry()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("writing %s: %w", key, ctx.Err())
		case <-time.After(wait):
		}
		if stillOwner != nil {
			if err := stillOwner(); err != nil {
				return fmt.Errorf("writing %s: %w", key, err)
			}
		}
		if delay *= 2; delay > s.backoff {
			delay = s.backoff
		}
	}
}

func (s *store) putOnce(ctx context.Context, key string, data *chunks, contentType string) error {
	actx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	opts := &blob.WriterOptions{ContentType: contentType, DisableContentTypeDetection: true}
	if s.s3 != nil {
		opts.BeforeWrite = s.s3.beforeWrite
		// Objects over 16 MiB go up in parts of partSize, two at a time:
		// the transfer manager copies parts, so this bounds the extra memory.
		opts.BufferSize = s.partSize
		opts.MaxConcurrency = 2
		// S3 rejects a body that does not match (end-to-end integrity).
		opts.ContentMD5 = data.md5()
	}
	if err := s.bucket.Upload(actx, s.prefix+key, data.reader(), opts); err != nil {
		if errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("timed out after %s: %w", s.timeout, err)
		}
		return err
	}
	if s.dir != "" {
		return s.sync(filepath.Join(s.dir, filepath.FromSlash(key)))
	}
	return nil
}

// syncDirs makes the directory entries of keys durable, once per folder.
// fileblob renames without fsync, and offsets must not be committed for a
// file a power loss could still take away; put already synced the data.
// fileblob also creates missing folders (a new hour is year=, month=, day=,
// hour=) without syncing their parents, so the entry of each new folder is
// made durable too, walking up to the root until a folder already known
// durable.
func (s *store) syncDirs(keys []string) error {
	if s.dir == "" {
		return nil
	}
	done := map[string]bool{}
	for _, k := range keys {
		d := filepath.Dir(filepath.Join(s.dir, filepath.FromSlash(k)))
		if done[d] {
			continue
		}
		done[d] = true
		if err := s.sync(d); err != nil {
			return err
		}
		if err := s.syncAncestors(d, done); err != nil {
			return err
		}
	}
	return nil
}

// maxDurableDirs bounds the folders remembered as durable; forgetting one
// only costs a sync more.
const maxDurableDirs = 4096

// syncAncestors makes the entry of d and of each folder above it, up to the
// root, durable by syncing their parents. Folders done once stay durable,
// so they are remembered and skipped later. done holds the folders already
// synced by this call.
func (s *store) syncAncestors(d string, done map[string]bool) error {
	if s.durable == nil || len(s.durable) > maxDurableDirs {
		s.durable = map[string]bool{}
	}
	for ; d != s.dir && !s.durable[d]; d = filepath.Dir(d) {
		parent := filepath.Dir(d)
		if parent == d { // not under the root: nothing more to do
			return nil
		}
		if !done[parent] {
			done[parent] = true
			if err := s.sync(parent); err != nil {
				return err
			}
		}
		s.durable[d] = true
	}
	return nil
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", p, err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fmt.Errorf("syncing %s: %w", p, err)
	}
	return nil
}
