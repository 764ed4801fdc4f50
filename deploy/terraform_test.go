package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The IAM actions issue 6 allows the workers, and no other.
var wantWorkerActions = []string{
	"kafka-cluster:AlterGroup",
	"kafka-cluster:AlterTransactionalId",
	"kafka-cluster:Connect",
	"kafka-cluster:DescribeCluster",
	"kafka-cluster:DescribeGroup",
	"kafka-cluster:DescribeTopic",
	"kafka-cluster:DescribeTransactionalId",
	"kafka-cluster:ReadData",
	"kafka-cluster:WriteData",
	"kafka-cluster:WriteDataIdempotently",
	"kms:Decrypt",
	"kms:GenerateDataKey",
	"s3:GetObject",
	"s3:ListBucket",
	"s3:PutObject",
}

func TestTerraform(t *testing.T) {
	files, _ := filepath.Glob("terraform/*.tf")
	if len(files) == 0 {
		t.Fatal("no Terraform under deploy/terraform")
	}
	p := hclparse.NewParser()
	resources := map[string]bool{}
	policies := map[string]map[string]bool{} // policy document name -> allowed actions
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("%s", diags.Error())
		}
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			if b.Type == "resource" && len(b.Labels) == 2 {
				resources[b.Labels[0]] = true
			}
			if b.Type == "data" && len(b.Labels) == 2 && b.Labels[0] == "aws_iam_policy_document" {
				policies[b.Labels[1]] = allowedActions(t, f, b.Body)
			}
		}
	}
	for _, r := range []string{
		"aws_msk_cluster", "aws_msk_serverless_cluster", "aws_s3_bucket", "aws_s3_bucket_public_access_block",
		"aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_lifecycle_configuration",
		"aws_kms_key", "aws_glue_catalog_database", "aws_iam_role", "aws_iam_role_policy",
	} {
		if !resources[r] {
			t.Errorf("no %s resource", r)
		}
	}
	got := map[string]bool{}
	for _, w := range []string{"collector", "processor", "sink"} {
		if policies[w] == nil {
			t.Fatalf("no aws_iam_policy_document %q", w)
		}
		for a := range policies[w] {
			got[a] = true
		}
	}
	gotList := make([]string, 0, len(got))
	for a := range got {
		gotList = append(gotList, a)
	}
	sort.Strings(gotList)
	if !slices.Equal(gotList, wantWorkerActions) {
		t.Errorf("worker IAM actions\n got %v\nwant %v", gotList, wantWorkerActions)
	}
	if a := policies["admin"]; len(a) != 4 || !a["kafka-cluster:CreateTopic"] {
		t.Errorf("admin actions %v: want Connect, DescribeCluster, DescribeTopic, CreateTopic", a)
	}
	// The sink alone touches the lake, the processor alone transactions.
	for w, forbidden := range map[string][]string{
		"collector": {"s3:PutObject", "kafka-cluster:ReadData", "kafka-cluster:AlterTransactionalId"},
		"processor": {"s3:PutObject", "kms:Decrypt"},
		"sink":      {"kafka-cluster:WriteData", "kafka-cluster:AlterTransactionalId"},
	} {
		for _, a := range forbidden {
			if policies[w][a] {
				t.Errorf("%s may %s: not least privilege", w, a)
			}
		}
	}
}

// allowedActions returns the literal actions of the Allow statements of a
// policy document; a wildcard action in an Allow fails the test.
func allowedActions(t *testing.T, file string, body *hclsyntax.Body) map[string]bool {
	out := map[string]bool{}
	for _, st := range body.Blocks {
		if st.Type != "statement" {
			continue
		}
		if e, ok := st.Body.Attributes["effect"]; ok {
			v, diags := e.Expr.Value(nil)
			if diags.HasErrors() || v.AsString() != "Allow" {
				continue
			}
		}
		a, ok := st.Body.Attributes["actions"]
		if !ok {
			continue
		}
		v, diags := a.Expr.Value(&hcl.EvalContext{})
		if diags.HasErrors() {
			t.Fatalf("%s: actions must be literal strings: %s", file, diags.Error())
		}
		for it := v.ElementIterator(); it.Next(); {
			_, s := it.Element()
			action := s.AsString()
			if strings.Contains(action, "*") {
				t.Errorf("%s: wildcard action %q in an Allow statement", file, action)
			}
			out[action] = true
		}
	}
	return out
}

func TestTerraformExampleVars(t *testing.T) {
	data, err := os.ReadFile("terraform/terraform.tfvars.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, diags := hclparse.NewParser().ParseHCL(data, "terraform.tfvars.example"); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
}
