package kclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const mskHost = "b-1.demo.abc123.c2.kafka.eu-west-1.amazonaws.com"

// staticAWSEnv gives the default credential chain static credentials and
// shuts every other source (files, instance metadata), so no network.
func staticAWSEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSLUICETEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "sluice-test-secret-key")
	t.Setenv("AWS_SESSION_TOKEN", "sluice-test-session-token")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
	t.Setenv("AWS_ROLE_ARN", "")
}

func TestMSKIAMFromDefaultChain(t *testing.T) {
	staticAWSEnv(t)
	cfg := Config{Brokers: []string{mskHost + ":9098"}, ClientID: "sluice", SASLMechanism: "aws-msk-iam"}
	if _, err := cfg.Opts(); err != nil {
		t.Fatalf("Opts: %v", err)
	}
	if !cfg.tlsEnabled() {
		t.Fatal("aws-msk-iam must imply TLS: MSK serves IAM on its TLS listener only")
	}
	m, err := cfg.saslMechanism()
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "AWS_MSK_IAM" {
		t.Fatalf("mechanism %q", m.Name())
	}
	fields := authenticate(t, m.Authenticate)
	if got := fields["x-amz-credential"]; !strings.HasPrefix(got, "AKIDSLUICETEST/") || !strings.HasSuffix(got, "/eu-west-1/kafka-cluster/aws4_request") {
		t.Fatalf("credential scope %q", got)
	}
	if fields["x-amz-security-token"] != "sluice-test-session-token" || fields["action"] != "kafka-cluster:Connect" ||
		fields["host"] != mskHost || fields["user-agent"] != "sluice" || fields["version"] != "2020_10_22" {
		t.Fatalf("challenge fields %v", fields)
	}
	want := presignSignature(t, fields, aws.Credentials{AccessKeyID: "AKIDSLUICETEST", SecretAccessKey: "sluice-test-secret-key", SessionToken: "sluice-test-session-token"})
	if fields["x-amz-signature"] != want {
		t.Fatalf("signature %s, the AWS SDK's SigV4 signer gives %s", fields["x-amz-signature"], want)
	}
}

// TestMSKIAMPicksUpRotatedCredentials: each (re-)authentication asks the
// provider again, so credentials that expire and rotate are used fresh.
func TestMSKIAMPicksUpRotatedCredentials(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	var n atomic.Int32
	provider := aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		i := n.Add(1)
		return aws.Credentials{
			AccessKeyID: "AKIDROTATION" + string(rune('0'+i)), SecretAccessKey: "secret", CanExpire: true,
			Expires: time.Now().Add(-time.Second), // already stale: the cache must ask again
		}, nil
	}))
	m := mskIAM(provider)
	first := authenticate(t, m.Authenticate)["x-amz-credential"]
	second := authenticate(t, m.Authenticate)["x-amz-credential"]
	if !strings.HasPrefix(first, "AKIDROTATION1/") || !strings.HasPrefix(second, "AKIDROTATION2/") {
		t.Fatalf("credentials were not fetched again: %s then %s", first, second)
	}
}

func TestMSKIAMRejectsUserAndPassword(t *testing.T) {
	cfg := Config{Brokers: []string{mskHost + ":9098"}, SASLMechanism: "aws-msk-iam", SASLUsername: "u", SASLPassword: "p"}
	if err := cfg.Validate(); err == nil || strings.Contains(err.Error(), "p\"") {
		t.Fatalf("got %v", err)
	}
}

// authenticate runs the client side of one AWS_MSK_IAM exchange and
// returns the signed payload's fields.
func authenticate[S interface {
	Challenge([]byte) (bool, []byte, error)
}](t *testing.T, fn func(context.Context, string) (S, []byte, error)) map[string]string {
	t.Helper()
	sess, msg, err := fn(context.Background(), mskHost+":9098")
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]string
	if err := json.Unmarshal(msg, &fields); err != nil {
		t.Fatalf("challenge is not JSON: %v", err)
	}
	if strings.Contains(string(msg), "secret") {
		t.Fatal("the secret key travels in the challenge")
	}
	done, _, err := sess.Challenge([]byte(`{"version":"2020_10_22","request-id":"x"}`))
	if !done || err != nil {
		t.Fatalf("server response not accepted: %v %v", done, err)
	}
	return fields
}

// presignSignature signs the same request with the AWS SDK's own SigV4
// presigner, an implementation independent of franz-go's.
func presignSignature(t *testing.T, f map[string]string, creds aws.Credentials) string {
	t.Helper()
	signingTime, err := time.Parse("20060102T150405Z", f["x-amz-date"])
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"Action": {f["action"]}, "X-Amz-Expires": {f["x-amz-expires"]}}
	req, _ := http.NewRequest(http.MethodGet, "https://"+f["host"]+"/?"+q.Encode(), nil)
	const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, emptySHA256, "kafka-cluster", "eu-west-1", signingTime)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("X-Amz-Signature")
}
