package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/cli"
)

// k8sObjects returns every Kubernetes object under k8s/ by kind and name.
func k8sObjects(t *testing.T) map[string]map[string]map[string]any {
	t.Helper()
	files, _ := filepath.Glob("k8s/*.yaml")
	out := map[string]map[string]map[string]any{}
	for _, f := range files {
		for _, doc := range yamlDocs(t, f) {
			kind, name := str(doc, "kind"), str(mapOf(doc["metadata"]), "name")
			if kind == "" || kind == "Kustomization" {
				continue
			}
			if out[kind] == nil {
				out[kind] = map[string]map[string]any{}
			}
			out[kind][name] = doc
		}
	}
	return out
}

func TestWorkloads(t *testing.T) {
	objs := k8sObjects(t)
	if len(objs["Deployment"]) == 0 {
		t.Fatal("no Deployments under k8s/")
	}
	for name, d := range objs["Deployment"] {
		labels := mapOf(mapOf(mapOf(d["spec"])["selector"])["matchLabels"])
		pod := mapOf(mapOf(mapOf(d["spec"])["template"])["spec"])
		if sa := str(pod, "serviceAccountName"); objs["ServiceAccount"][sa] == nil {
			t.Errorf("Deployment %s: ServiceAccount %q is not defined", name, sa)
		} else if !strings.HasPrefix(str(mapOf(mapOf(objs["ServiceAccount"][sa]["metadata"])["annotations"]), "eks.amazonaws.com/role-arn"), "arn:aws:iam::") {
			t.Errorf("ServiceAccount %s: no IRSA role annotation", sa)
		}
		for _, c := range containers(d) {
			for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
				if got := str(mapOf(mapOf(c[probe])["httpGet"]), "path"); got != path {
					t.Errorf("Deployment %s: %s path %q, want %s", name, probe, got, path)
				}
			}
			res := mapOf(c["resources"])
			for _, k := range []string{"requests", "limits"} {
				if m := mapOf(res[k]); m["cpu"] == nil || m["memory"] == nil {
					t.Errorf("Deployment %s: resources.%s needs cpu and memory", name, k)
				}
			}
			if limit, soft := bytesOf(t, str(mapOf(res["limits"]), "memory")), goMemLimit(t, c); soft <= 0 || soft >= limit {
				t.Errorf("Deployment %s: GOMEMLIMIT %d bytes, want set and under the memory limit (%d bytes)", name, soft, limit)
			}
			for _, vm := range listOf(c["volumeMounts"]) {
				if mapOf(vm)["subPath"] != nil {
					t.Errorf("Deployment %s: subPath mounts are frozen: ConfigMap updates (rule reloads) never reach them", name)
				}
			}
		}
		covered := false
		for _, pdb := range objs["PodDisruptionBudget"] {
			if sameLabels(mapOf(mapOf(mapOf(pdb["spec"])["selector"])["matchLabels"]), labels) {
				covered = true
			}
		}
		if !covered {
			t.Errorf("Deployment %s: no PodDisruptionBudget selects it", name)
		}
	}
	for _, want := range []string{"sluice-collector", "sluice-processor", "sluice-sink"} {
		if objs["Deployment"][want] == nil {
			t.Errorf("no Deployment %s", want)
		}
	}
	for name, so := range objs["ScaledObject"] {
		target := str(mapOf(mapOf(so["spec"])["scaleTargetRef"]), "name")
		if objs["Deployment"][target] == nil {
			t.Errorf("ScaledObject %s scales %q, which is not a Deployment here", name, target)
		}
		for _, tr := range listOf(mapOf(so["spec"])["triggers"]) {
			md := mapOf(mapOf(tr)["metadata"])
			if str(mapOf(tr), "type") != "kafka" || str(md, "consumerGroup") == "" {
				t.Errorf("ScaledObject %s: want a kafka trigger on a consumer group", name)
			}
		}
	}
}

// TestRulesConfigMap runs `sluice rules test` on the rules the manifests ship.
func TestRulesConfigMap(t *testing.T) {
	cm := k8sObjects(t)["ConfigMap"]["sluice-rules"]
	if cm == nil {
		t.Fatal("no ConfigMap sluice-rules")
	}
	dir := t.TempDir()
	for name, body := range mapOf(cm["data"]) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(scalar(body)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	if code := cli.Main([]string{"rules", "test", dir}, &out, &errb); code != 0 {
		t.Fatalf("sluice rules test on the ConfigMap's rules: exit %d\n%s%s", code, out.String(), errb.String())
	}
}

// TestRestrictedPods: the namespace enforces the restricted Pod Security
// Standard, so every pod must pass it or it is never created.
func TestRestrictedPods(t *testing.T) {
	objs := k8sObjects(t)
	if ns := objs["Namespace"]["sluice"]; str(mapOf(mapOf(ns["metadata"])["labels"]), "pod-security.kubernetes.io/enforce") != "restricted" {
		t.Fatal("namespace sluice should enforce the restricted Pod Security Standard")
	}
	for _, kind := range []string{"Deployment", "Job"} {
		for name, d := range objs[kind] {
			pod := mapOf(mapOf(mapOf(d["spec"])["template"])["spec"])
			psc := mapOf(pod["securityContext"])
			if psc["runAsNonRoot"] != true || str(mapOf(psc["seccompProfile"]), "type") != "RuntimeDefault" {
				t.Errorf("%s %s: pod needs runAsNonRoot and the RuntimeDefault seccomp profile", kind, name)
			}
			for _, c := range containers(d) {
				sc := mapOf(c["securityContext"])
				drop := strList(mapOf(sc["capabilities"])["drop"])
				if sc["allowPrivilegeEscalation"] != false || len(drop) != 1 || drop[0] != "ALL" {
					t.Errorf("%s %s container %s: needs allowPrivilegeEscalation: false and capabilities.drop [ALL]", kind, name, str(c, "name"))
				}
			}
		}
	}
}

func sameLabels(a, b map[string]any) bool {
	if len(a) == 0 || len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if scalar(b[k]) != scalar(v) {
			return false
		}
	}
	return true
}

// goMemLimit is the GOMEMLIMIT the container sets, in bytes (0: none).
func goMemLimit(t *testing.T, c map[string]any) int64 {
	for _, e := range listOf(c["env"]) {
		if str(mapOf(e), "name") == "GOMEMLIMIT" {
			return bytesOf(t, str(mapOf(e), "value"))
		}
	}
	return 0
}

// bytesOf reads a size as Kubernetes (256Mi, 1Gi) or GOMEMLIMIT (900MiB)
// write it.
func bytesOf(t *testing.T, s string) int64 {
	num := strings.TrimRight(s, "KMGiB")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		t.Fatalf("size %q: %v", s, err)
	}
	switch unit := strings.TrimSuffix(strings.TrimPrefix(s, num), "B"); unit {
	case "", "B":
		return n
	case "Ki":
		return n << 10
	case "Mi":
		return n << 20
	case "Gi":
		return n << 30
	default:
		t.Fatalf("size %q: unit %q", s, unit)
		return 0
	}
}

// TestKEDAKafkaTriggers: KEDA's kafka scaler (sarama) knows the SASL modes
// plaintext, scram_sha256, scram_sha512, oauthbearer and gssapi; MSK IAM is
// oauthbearer with saslTokenProvider aws_msk_iam, TLS and awsRegion (KEDA
// >= 2.14). `sasl: aws_msk_iam` is the experimental apache-kafka scaler's
// spelling: the kafka scaler rejects it and the ScaledObject never scales.
// The trigger must also watch the brokers, region and group the workers use.
func TestKEDAKafkaTriggers(t *testing.T) {
	objs := k8sObjects(t)
	kafka := mapOf(objs["ConfigMap"]["sluice-kafka"]["data"])
	if kafka == nil {
		t.Fatal("no ConfigMap sluice-kafka")
	}
	if len(objs["ScaledObject"]) == 0 {
		t.Fatal("no ScaledObjects under k8s/")
	}
	for name, so := range objs["ScaledObject"] {
		d := objs["Deployment"][str(mapOf(mapOf(so["spec"])["scaleTargetRef"]), "name")]
		cs := containers(d)
		if len(cs) != 1 {
			t.Fatalf("ScaledObject %s: target has %d containers, want 1", name, len(cs))
		}
		group, err := flagsOf(t, strList(cs[0]["args"])).GetString("group")
		if err != nil {
			t.Fatalf("ScaledObject %s: target takes no --group: %v", name, err)
		}
		for _, tr := range listOf(mapOf(so["spec"])["triggers"]) {
			if str(mapOf(tr), "type") != "kafka" {
				continue
			}
			md := mapOf(mapOf(tr)["metadata"])
			want := map[string]string{
				"bootstrapServers": str(kafka, "SLUICE_BROKERS"),
				"consumerGroup":    group,
			}
			if str(kafka, "SLUICE_SASL_MECHANISM") == "aws-msk-iam" {
				want["sasl"] = "oauthbearer"
				want["saslTokenProvider"] = "aws_msk_iam"
				want["tls"] = "enable"
				want["awsRegion"] = str(kafka, "AWS_REGION")
			}
			for k, v := range want {
				if got := str(md, k); got != v {
					t.Errorf("ScaledObject %s: kafka trigger %s %q, want %q", name, k, got, v)
				}
			}
		}
	}
}
