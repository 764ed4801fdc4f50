package kclient

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/twmb/franz-go/pkg/sasl"
	kaws "github.com/twmb/franz-go/pkg/sasl/aws"
)

// loadAWSCredentials returns the default AWS credential chain: environment,
// shared profile, IRSA web identity, ECS or EC2 instance role. Nothing is
// fetched here; the first authentication does.
func loadAWSCredentials(ctx context.Context) (aws.CredentialsProvider, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration for MSK IAM: %w", err)
	}
	if cfg.Credentials == nil {
		return nil, fmt.Errorf("MSK IAM: no AWS credential source found (set AWS_* variables, a profile, or IRSA)")
	}
	return cfg.Credentials, nil
}

// mskIAM authenticates with AWS MSK IAM (SASL AWS_MSK_IAM, a SigV4-signed
// kafka-cluster:Connect). Credentials are asked of the provider on every
// authentication, and franz-go re-authenticates before the session lifetime
// MSK announces runs out (KIP-368), so rotated IRSA or instance-role
// credentials are picked up without a restart. The provider from the
// default chain caches and refreshes them before they expire.
func mskIAM(creds aws.CredentialsProvider) sasl.Mechanism {
	return kaws.ManagedStreamingIAM(func(ctx context.Context) (kaws.Auth, error) {
		c, err := creds.Retrieve(ctx)
		if err != nil {
			return kaws.Auth{}, fmt.Errorf("retrieving AWS credentials for MSK IAM: %w", err)
		}
		return kaws.Auth{
			AccessKey:    c.AccessKeyID,
			SecretKey:    c.SecretAccessKey,
			SessionToken: c.SessionToken,
			UserAgent:    "sluice",
		}, nil
	})
}
