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
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// The IAM actions issue 6 allows the workers, and no other.
var wantWorkerActions = []string{
	"kafka-cluster:AlterGroup",
	"kafka-cluster:AlterTransactionalId",
	"kafka-cluster:Connect",
	"kafka-cluster:CreateTopic",
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
		"collector": {"s3:PutObject", "kafka-cluster:ReadData", "kafka-cluster:AlterTransactionalId", "kafka-cluster:CreateTopic"},
		"processor": {"s3:PutObject", "kms:Decrypt"},
		"sink":      {"kafka-cluster:WriteData", "kafka-cluster:AlterTransactionalId", "kafka-cluster:CreateTopic"},
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

// TestTerraformTrustsKEDA: a TriggerAuthentication with podIdentity
// provider aws and identityOwner workload makes KEDA read the scaled
// Deployment's IRSA role and assume it with KEDA's own web identity (then
// with sts:AssumeRole from KEDA's role). The role's trust policy must admit
// the KEDA operator's ServiceAccount, or the scaler never authenticates.
func TestTerraformTrustsKEDA(t *testing.T) {
	objs := k8sObjects(t)
	scaled := map[string]bool{} // ServiceAccounts whose role KEDA assumes
	for name, so := range objs["ScaledObject"] {
		for _, tr := range listOf(mapOf(so["spec"])["triggers"]) {
			ta := objs["TriggerAuthentication"][str(mapOf(mapOf(tr)["authenticationRef"]), "name")]
			pi := mapOf(mapOf(ta["spec"])["podIdentity"])
			if str(pi, "provider") != "aws" || str(pi, "identityOwner") != "workload" {
				continue
			}
			d := objs["Deployment"][str(mapOf(mapOf(so["spec"])["scaleTargetRef"]), "name")]
			sa := str(mapOf(mapOf(mapOf(d["spec"])["template"])["spec"]), "serviceAccountName")
			if sa == "" {
				t.Fatalf("ScaledObject %s: target has no serviceAccountName", name)
			}
			scaled[sa] = true
		}
	}
	if len(scaled) == 0 {
		t.Skip("no ScaledObject uses the workload's AWS identity")
	}
	tf := parseTerraform(t)
	ns := tf.str("namespace")
	keda := "system:serviceaccount:" + tf.str("keda_service_account")
	for sa := range scaled {
		worker, ok := strings.CutPrefix(sa, "sluice-")
		if !ok {
			t.Fatalf("ServiceAccount %s: not sluice-<worker>", sa)
		}
		subs := tf.trustedSubjects(t, worker)
		if !slices.Contains(subs, "system:serviceaccount:"+ns+":"+sa) {
			t.Errorf("role of %s: trusts %v, not its own ServiceAccount", sa, subs)
		}
		if !slices.Contains(subs, keda) || keda == "system:serviceaccount:" {
			t.Errorf("role of %s: trusts %v, not KEDA's ServiceAccount (var.keda_service_account): KEDA cannot assume it to read the lag", sa, subs)
		}
	}
}

// A window rule added to the rules ConfigMap makes the processor create
// and use <group>.<rule>.partials or .repartition (and <group>.<source>.state
// for a new source). MSK keeps auto-create off and the topics Job knows only
// the shipped rule's topics, so the processor's role must let it create and
// use its own <group>.* topics, and those alone.
func TestProcessorManagesItsInternalTopics(t *testing.T) {
	tf := parseTerraform(t)
	tf.locals["topic_arn"] = cty.StringVal("TOPICS") // the cluster's topic ARN prefix, known only at apply
	own := "TOPICS/" + tf.vars["consumer_groups"].GetAttr("processor").AsString() + ".*"
	granted := map[string]bool{}
	for _, st := range tf.docs["processor"].Blocks {
		res, diags := st.Body.Attributes["resources"].Expr.Value(tf.ctx(nil))
		if diags.HasErrors() || !res.IsWhollyKnown() {
			continue
		}
		var resources []string
		for it := res.ElementIterator(); it.Next(); {
			_, v := it.Element()
			resources = append(resources, v.AsString())
		}
		acts, _ := st.Body.Attributes["actions"].Expr.Value(nil)
		for it := acts.ElementIterator(); it.Next(); {
			_, a := it.Element()
			if a.AsString() == "kafka-cluster:CreateTopic" && !slices.Equal(resources, []string{own}) {
				t.Errorf("processor may create topics %v: want its own %s alone", resources, own)
			}
			if slices.Contains(resources, own) {
				granted[a.AsString()] = true
			}
		}
	}
	for _, a := range []string{"kafka-cluster:DescribeTopic", "kafka-cluster:CreateTopic", "kafka-cluster:ReadData", "kafka-cluster:WriteData"} {
		if !granted[a] {
			t.Errorf("processor role: no %s on %s", a, own)
		}
	}
}

// terraformFiles is the parsed Terraform of deploy/terraform: variable
// defaults and the body of every aws_iam_policy_document.
type terraformFiles struct {
	vars   map[string]cty.Value
	locals map[string]cty.Value
	docs   map[string]*hclsyntax.Body
}

func parseTerraform(t *testing.T) *terraformFiles {
	t.Helper()
	files, _ := filepath.Glob("terraform/*.tf")
	p := hclparse.NewParser()
	tf := &terraformFiles{vars: map[string]cty.Value{}, locals: map[string]cty.Value{}, docs: map[string]*hclsyntax.Body{}}
	var locals []*hclsyntax.Attribute
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("%s", diags.Error())
		}
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			switch {
			case b.Type == "variable" && len(b.Labels) == 1:
				v := cty.NullVal(cty.DynamicPseudoType)
				if a, ok := b.Body.Attributes["default"]; ok {
					var diags hcl.Diagnostics
					if v, diags = a.Expr.Value(nil); diags.HasErrors() {
						t.Fatalf("%s: variable %s: %s", f, b.Labels[0], diags.Error())
					}
				}
				tf.vars[b.Labels[0]] = v
			case b.Type == "locals":
				for _, a := range b.Body.Attributes {
					locals = append(locals, a)
				}
			case b.Type == "data" && len(b.Labels) == 2 && b.Labels[0] == "aws_iam_policy_document":
				tf.docs[b.Labels[1]] = b.Body
			}
		}
	}
	// Locals that depend only on variables and other such locals; the
	// ones that need resources stay unknown.
	for changed := true; changed; {
		changed = false
		for _, a := range locals {
			if _, done := tf.locals[a.Name]; done {
				continue
			}
			if v, diags := a.Expr.Value(tf.ctx(nil)); !diags.HasErrors() && v.IsWhollyKnown() {
				tf.locals[a.Name], changed = v, true
			}
		}
	}
	return tf
}

// str is the default of a string variable ("" when absent or null).
func (tf *terraformFiles) str(name string) string {
	v, ok := tf.vars[name]
	if !ok || v.IsNull() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

func (tf *terraformFiles) ctx(each map[string]cty.Value) *hcl.EvalContext {
	vars := map[string]cty.Value{"var": cty.ObjectVal(tf.vars), "local": cty.ObjectVal(tf.locals)}
	if each != nil {
		vars["each"] = cty.ObjectVal(each)
	}
	return &hcl.EvalContext{Variables: vars, Functions: map[string]function.Function{
		"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc,
	}}
}

// trustedSubjects evaluates the service accounts ("<issuer>:sub" values)
// the "assume" policy document admits for the role of worker.
func (tf *terraformFiles) trustedSubjects(t *testing.T, worker string) []string {
	t.Helper()
	body := tf.docs["assume"]
	if body == nil {
		t.Fatal("no aws_iam_policy_document \"assume\"")
	}
	var out []string
	for _, st := range body.Blocks {
		for _, c := range st.Body.Blocks {
			if c.Type != "condition" {
				continue
			}
			variable := c.Body.Attributes["variable"]
			values := c.Body.Attributes["values"]
			if variable == nil || values == nil {
				continue
			}
			if !strings.HasSuffix(string(variable.Expr.Range().SliceBytes(mustRead(t, variable.SrcRange.Filename))), `:sub"`) {
				continue
			}
			v, diags := values.Expr.Value(tf.ctx(map[string]cty.Value{"key": cty.StringVal(worker), "value": cty.StringVal(worker)}))
			if diags.HasErrors() {
				t.Fatalf("trust policy of %s: %s", worker, diags.Error())
			}
			for it := v.ElementIterator(); it.Next(); {
				_, s := it.Element()
				out = append(out, s.AsString())
			}
		}
	}
	return out
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
