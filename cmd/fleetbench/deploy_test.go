package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/urfave/cli/v2"

	"github.com/fleetbench/fleetbench/scenarios"
)

// The deployment files under deploy/ are checked against the CLI they
// drive: every manifest parses, names what the others refer to (Service,
// Secret, ConfigMap, claim), passes only flags the fleetbench command has,
// runs as the Dockerfile's non-root user, and the coordinator's worker
// list is exactly the StatefulSet's pods. The Dockerfile's build line is
// run here and must give a static binary.

const deployDir = "../../deploy"

// manifest is one Kubernetes object, decoded generically.
type manifest map[string]any

func (m manifest) kind() string { return k8sStr(m, "kind") }
func (m manifest) name() string { return k8sStr(m, "metadata", "name") }

// get walks nested maps and lists (ints index lists).
func k8sGet(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				if mm, ok2 := v.(manifest); ok2 {
					m = mm
				} else {
					return nil
				}
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func k8sStr(v any, path ...any) string {
	s, _ := k8sGet(v, path...).(string)
	return s
}

func k8sList(v any, path ...any) []any {
	l, _ := k8sGet(v, path...).([]any)
	return l
}

// loadManifests reads every YAML document of deploy/k8s.
func loadManifests(t *testing.T) (map[string][]manifest, []manifest) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir, "k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests under %s/k8s (%v)", deployDir, err)
	}
	byFile := map[string][]manifest{}
	var all []manifest
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var m manifest
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if m == nil {
				continue
			}
			if k8sStr(m, "apiVersion") == "" || m.kind() == "" {
				t.Fatalf("%s: a document without apiVersion or kind: %v", f, m)
			}
			byFile[filepath.Base(f)] = append(byFile[filepath.Base(f)], m)
			if m.kind() != "Kustomization" {
				if m.name() == "" {
					t.Fatalf("%s: %s without metadata.name", f, m.kind())
				}
				all = append(all, m)
			}
		}
	}
	return byFile, all
}

func k8sFind(t *testing.T, all []manifest, kind, name string) manifest {
	t.Helper()
	for _, m := range all {
		if m.kind() == kind && (name == "" || m.name() == name) {
			return m
		}
	}
	t.Fatalf("no %s %q in deploy/k8s", kind, name)
	return nil
}

func TestDeployManifests(t *testing.T) {
	byFile, all := loadManifests(t)

	// The kustomization lists exactly the other files.
	kust := byFile["kustomization.yaml"]
	if len(kust) != 1 {
		t.Fatalf("kustomization.yaml: want one document, got %d", len(kust))
	}
	var resources []string
	for _, r := range k8sList(kust[0], "resources") {
		resources = append(resources, r.(string))
	}
	var files []string
	for f := range byFile {
		if f != "kustomization.yaml" {
			files = append(files, f)
		}
	}
	slices.Sort(resources)
	slices.Sort(files)
	if !slices.Equal(resources, files) {
		t.Errorf("kustomization resources %v, files %v", resources, files)
	}

	user := dockerfileUser(t)
	sts := k8sFind(t, all, "StatefulSet", "")
	svc := k8sFind(t, all, "Service", k8sStr(sts, "spec", "serviceName"))
	job := k8sFind(t, all, "Job", "")

	// The headless Service selects the StatefulSet's pods.
	if k8sStr(svc, "spec", "clusterIP") != "None" {
		t.Errorf("Service %s: clusterIP %q, want None (headless, for stable pod names)", svc.name(), k8sStr(svc, "spec", "clusterIP"))
	}
	labels, _ := k8sGet(sts, "spec", "template", "metadata", "labels").(map[string]any)
	for _, sel := range []map[string]any{k8sMap(k8sGet(sts, "spec", "selector", "matchLabels")), k8sMap(k8sGet(svc, "spec", "selector"))} {
		if len(sel) == 0 {
			t.Errorf("empty selector")
		}
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("selector %s=%v does not match the pod template's labels %v", k, v, labels)
			}
		}
	}

	app := newApp(io.Discard, io.Discard)
	workerArgs := checkPod(t, app, all, sts, "worker", user)
	runArgs := checkPod(t, app, all, job, "run", user)

	// Workers listen on their container port and advertise their stable
	// name; the coordinator's --workers names exactly those pods.
	port := strconv.Itoa(k8sInt(k8sGet(sts, "spec", "template", "spec", "containers", 0, "ports", 0, "containerPort")))
	if l := workerArgs["listen"]; !strings.HasSuffix(l, ":"+port) {
		t.Errorf("worker --listen %q is not the container port %s", l, port)
	}
	wantAdvertise := "$(POD_NAME)." + svc.name() + ":" + port
	if a := workerArgs["advertise"]; a != wantAdvertise {
		t.Errorf("worker --advertise %q, want %q", a, wantAdvertise)
	}
	replicas := k8sInt(k8sGet(sts, "spec", "replicas"))
	var want []string
	for i := range replicas {
		want = append(want, fmt.Sprintf("%s-%d.%s:%s", sts.name(), i, svc.name(), port))
	}
	if got := strings.Split(runArgs["workers"], ","); !slices.Equal(got, want) {
		t.Errorf("coordinator --workers %v, want the %d StatefulSet pods %v", got, replicas, want)
	}
	if runArgs["token-file"] != workerArgs["token-file"] {
		t.Errorf("token files differ: coordinator %q, worker %q", runArgs["token-file"], workerArgs["token-file"])
	}

	// The coordinator's scenario comes from the ConfigMap and is valid.
	scenarioPath := runArgs[""]
	cm := k8sFind(t, all, "ConfigMap", volumeSource(t, job, scenarioPath, "configMap", "name"))
	text := k8sStr(cm, "data", filepath.Base(scenarioPath))
	if text == "" {
		t.Fatalf("ConfigMap %s has no key %s", cm.name(), filepath.Base(scenarioPath))
	}
	if _, err := scenarios.Parse("configmap:"+cm.name(), []byte(text)); err != nil {
		t.Errorf("the coordinator's scenario does not parse: %v", err)
	}
	// Results go to the claim, which exists.
	claim := k8sFind(t, all, "PersistentVolumeClaim", volumeSource(t, job, k8sStr(job, "spec", "template", "spec", "containers", 0, "workingDir")+"/x", "persistentVolumeClaim", "claimName"))
	if claim == nil {
		t.Fatal("no results claim")
	}
	if k8sStr(job, "spec", "template", "spec", "restartPolicy") != "Never" || k8sInt(k8sGet(job, "spec", "backoffLimit")) != 0 {
		t.Errorf("the coordinator Job must not retry a load test by itself (restartPolicy Never, backoffLimit 0)")
	}
}

func k8sMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

func k8sInt(v any) int {
	switch n := v.(type) {
	case uint64:
		return int(n)
	case int64:
		return int(n)
	case int:
		return n
	case float64:
		return int(n)
	}
	return -1
}

// checkPod checks the pod template of a workload: non-root as the image's
// user, the token Secret mounted where --token-file points, env vars for
// every $(VAR) in the arguments, and arguments that are a valid command
// line of the given fleetbench subcommand. It returns the flags by name
// ("" holds the first positional argument).
func checkPod(t *testing.T, app *cli.App, all []manifest, m manifest, command string, user int) map[string]string {
	t.Helper()
	pod := k8sGet(m, "spec", "template", "spec")
	if got := k8sGet(pod, "securityContext", "runAsNonRoot"); got != true {
		t.Errorf("%s %s: runAsNonRoot %v, want true", m.kind(), m.name(), got)
	}
	if got := k8sInt(k8sGet(pod, "securityContext", "runAsUser")); got != user || got == 0 {
		t.Errorf("%s %s: runAsUser %d, want the Dockerfile's non-root user %d", m.kind(), m.name(), got, user)
	}
	containers := k8sList(pod, "containers")
	if len(containers) != 1 {
		t.Fatalf("%s %s: want one container, got %d", m.kind(), m.name(), len(containers))
	}
	c := containers[0]
	if k8sGet(c, "securityContext", "allowPrivilegeEscalation") != false || k8sGet(c, "securityContext", "readOnlyRootFilesystem") != true {
		t.Errorf("%s %s: the container must not escalate and must have a read-only root filesystem", m.kind(), m.name())
	}
	var args []string
	for _, a := range k8sList(c, "args") {
		args = append(args, a.(string))
	}
	if len(args) == 0 || args[0] != command {
		t.Fatalf("%s %s: args %v do not start with %q", m.kind(), m.name(), args, command)
	}
	env := map[string]bool{}
	for _, e := range k8sList(c, "env") {
		env[k8sStr(e, "name")] = true
	}
	for _, ref := range regexp.MustCompile(`\$\(([A-Z_]+)\)`).FindAllStringSubmatch(strings.Join(args, " "), -1) {
		if !env[ref[1]] {
			t.Errorf("%s %s: args use $(%s) but the container does not define it", m.kind(), m.name(), ref[1])
		}
	}
	cmd := app.Command(command)
	if cmd == nil {
		t.Fatalf("fleetbench has no %q command", command)
	}
	flags := map[string]string{}
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "--") {
			if _, ok := flags[""]; ok {
				t.Errorf("%s %s: a second positional argument %q", m.kind(), m.name(), a)
			}
			flags[""] = a
			continue
		}
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok {
			t.Errorf("%s %s: %q: write flags as --name=value so they cannot be split from their values", m.kind(), m.name(), a)
		}
		if !hasFlag(cmd, name) {
			t.Errorf("%s %s: fleetbench %s has no flag --%s", m.kind(), m.name(), command, name)
		}
		flags[name] = value
	}
	// The token file lies in the mounted Secret, and the Secret is the
	// one the README tells users to create.
	if tf := flags["token-file"]; tf == "" {
		t.Errorf("%s %s: no --token-file: nodes beyond loopback need the shared token", m.kind(), m.name())
	} else if s := volumeSource(t, m, tf, "secret", "secretName"); s != "fleetbench-token" {
		t.Errorf("%s %s: token from Secret %q, want fleetbench-token", m.kind(), m.name(), s)
	}
	return flags
}

func hasFlag(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

// volumeSource finds the volume mounted at the directory holding path in
// the workload's container and returns the given field of its source
// (e.g. "secret", "secretName").
func volumeSource(t *testing.T, m manifest, path, source, field string) string {
	t.Helper()
	pod := k8sGet(m, "spec", "template", "spec")
	for _, vm := range k8sList(pod, "containers", 0, "volumeMounts") {
		if filepath.Dir(path) != k8sStr(vm, "mountPath") {
			continue
		}
		for _, v := range k8sList(pod, "volumes") {
			if k8sStr(v, "name") == k8sStr(vm, "name") {
				return k8sStr(v, source, field)
			}
		}
	}
	t.Errorf("%s %s: nothing mounted at %s", m.kind(), m.name(), filepath.Dir(path))
	return ""
}

// dockerfile is the Dockerfile's instructions (continuation lines joined).
func dockerfile(t *testing.T) [][2]string {
	t.Helper()
	f, err := os.Open(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	var cur string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		cur += line
		op, rest, _ := strings.Cut(cur, " ")
		out = append(out, [2]string{strings.ToUpper(op), strings.TrimSpace(rest)})
		cur = ""
	}
	return out
}

// dockerfileUser is the numeric USER of the final stage, which must not
// be root.
func dockerfileUser(t *testing.T) int {
	t.Helper()
	froms, user := 0, ""
	for _, in := range dockerfile(t) {
		switch in[0] {
		case "FROM":
			froms++
			user = ""
		case "USER":
			user, _, _ = strings.Cut(in[1], ":")
		}
	}
	if froms < 2 {
		t.Errorf("Dockerfile: %d stages, want a multi-stage build", froms)
	}
	uid, err := strconv.Atoi(user)
	if err != nil || uid == 0 {
		t.Fatalf("Dockerfile: the final stage's USER %q must be a numeric non-root uid", user)
	}
	return uid
}

// TestDockerfileBuild runs the Dockerfile's go build line here: it must
// build, give a static binary (no interpreter: it runs on the distroless
// static base) and that binary must run.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary (about 20 s); skipped with -short")
	}
	var build string
	for _, in := range dockerfile(t) {
		if in[0] == "RUN" && strings.Contains(in[1], "go build") {
			build = in[1]
		}
	}
	if build == "" {
		t.Fatal("Dockerfile: no RUN … go build")
	}
	if !strings.HasPrefix(build, "CGO_ENABLED=0 ") {
		t.Errorf("Dockerfile build %q: want CGO_ENABLED=0 for a static binary", build)
	}
	// Docker runs RUN lines with /bin/sh -c; so does this test, from the
	// repository root (the image's build context), with the output path
	// moved into a temporary directory.
	_, target, ok := strings.Cut(build, " -o ")
	if !ok {
		t.Fatalf("Dockerfile build %q has no -o", build)
	}
	target, _, _ = strings.Cut(target, " ")
	out := filepath.Join(t.TempDir(), "fleetbench")
	cmd := exec.Command("/bin/sh", "-c", strings.Replace(build, " -o "+target, " -o "+out, 1))
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, b)
	}
	bin, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Close()
	for _, p := range bin.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the image's binary is dynamically linked (%v): it would not run on distroless/static", p.Type)
		}
	}
	if b, err := exec.Command(out, "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(b), "fleetbench ") {
		t.Errorf("the built binary's version: %v %q", err, b)
	}
}
