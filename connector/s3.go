package connector

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// s3Options are the query parameters of an s3:// destination.
type s3Options struct {
	Region       string // region=eu-west-1 (default: the AWS chain's region, else us-east-1)
	Endpoint     string // endpoint=http://minio:9000 for S3-compatible stores
	PathStyle    bool   // use_path_style=true (MinIO and most S3-compatible stores)
	SSE          string // sse=AES256 (SSE-S3) or aws:kms (SSE-KMS)
	KMSKeyID     string // kms_key_id=... with sse=aws:kms
	StorageClass string // storage_class=STANDARD_IA, INTELLIGENT_TIERING, ...
}

func parseS3Options(q url.Values) (*s3Options, error) {
	o := &s3Options{}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "region":
			o.Region = v
		case "endpoint":
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("%w: endpoint %q must be an http(s) URL", ErrBadDest, v)
			}
			o.Endpoint = v
		case "use_path_style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%w: use_path_style %q is not true or false", ErrBadDest, v)
			}
			o.PathStyle = b
		case "sse":
			if v != "AES256" && v != "aws:kms" {
				return nil, fmt.Errorf("%w: sse %q must be AES256 or aws:kms", ErrBadDest, v)
			}
			o.SSE = v
		case "kms_key_id":
			o.KMSKeyID = v
		case "storage_class":
			o.StorageClass = v
		default:
			return nil, fmt.Errorf("%w: unknown S3 option %q (want region, endpoint, use_path_style, sse, kms_key_id, storage_class)", ErrBadDest, k)
		}
	}
	if o.KMSKeyID != "" && o.SSE == "" {
		o.SSE = "aws:kms"
	}
	if o.KMSKeyID != "" && o.SSE != "aws:kms" {
		return nil, fmt.Errorf("%w: kms_key_id needs sse=aws:kms", ErrBadDest)
	}
	return o, nil
}

// openS3 opens the bucket with credentials from the standard AWS chain
// (environment, shared profile, web identity/IRSA, instance role).
func openS3(ctx context.Context, bucket string, o *s3Options) (*blob.Bucket, error) {
	var lopts []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		lopts = append(lopts, awsconfig.WithRegion(o.Region))
	}
	acfg, err := awsconfig.LoadDefaultConfig(ctx, lopts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if acfg.Region == "" {
		acfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(acfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
			// S3-compatible stores often reject the newer default checksums.
			so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
		so.UsePathStyle = o.PathStyle
		// store.put owns retries (backoff with jitter, forever, which is
		// what pauses consumption during an outage); the SDK's own would
		// only stack up under it.
		so.RetryMaxAttempts = 1
	})
	bopts := &s3blob.Options{EncryptionType: s3types.ServerSideEncryption(o.SSE), KMSEncryptionID: o.KMSKeyID}
	if o.Endpoint != "" {
		bopts.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	}
	return s3blob.OpenBucket(ctx, client, bucket, bopts)
}

// beforeWrite sets what gocloud's options do not cover: the storage class.
func (o *s3Options) beforeWrite(as func(any) bool) error {
	if o.StorageClass == "" {
		return nil
	}
	var req *transfermanager.UploadObjectInput
	if as(&req) {
		req.StorageClass = tmtypes.StorageClass(o.StorageClass)
	}
	return nil
}
