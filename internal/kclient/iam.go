package kclient

import (
	"context"
	"fmt"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/twmb/franz-go/pkg/sasl"
	kaws "github.com/twmb/franz-go/pkg/sasl/aws"
)

// mskIAM authenticates with AWS MSK IAM using the default AWS credential
// chain (environment, shared profile, IRSA web identity, instance role).
// Credentials are fetched on every (re-)authentication, so rotated ones
// are picked up.
func mskIAM() (sasl.Mechanism, error) {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		return nil, fmt.Errorf("loading AWS credentials for MSK IAM: %w", err)
	}
	return kaws.ManagedStreamingIAM(func(ctx context.Context) (kaws.Auth, error) {
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return kaws.Auth{}, fmt.Errorf("retrieving AWS credentials: %w", err)
		}
		return kaws.Auth{
			AccessKey:    creds.AccessKeyID,
			SecretKey:    creds.SecretAccessKey,
			SessionToken: creds.SessionToken,
			UserAgent:    "sluice",
		}, nil
	}), nil
}
