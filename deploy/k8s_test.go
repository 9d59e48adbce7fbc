package deploy

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/mnistserve/app/deploy/k8s"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store/storetest"
)

// The manifests live in deploy/k8s, beside this package.
const k8sRoot = "k8s"

// appImage is the name the image built from the Dockerfile goes by: the
// web service's image in docker-compose.yml (and make docker's tag).
func appImage(tb testing.TB) string {
	tb.Helper()
	img := serviceNamed(tb, loadCompose(tb), "web").Image
	if img == "" {
		tb.Fatal("docker-compose.yml's web service names no image")
	}
	return img
}

// renderedOverlay is one overlay, rendered.
type renderedOverlay struct {
	name string
	objs *k8s.Objects
	apps []appsv1.Deployment // the Deployments that run the app's image
}

// renderAll renders every overlay (and the base), failing on any error.
func renderAll(tb testing.TB) []renderedOverlay {
	tb.Helper()
	dirs, err := k8s.Overlays(k8sRoot)
	if err != nil {
		tb.Fatal(err)
	}
	if len(dirs) < 2 {
		tb.Fatalf("deploy/k8s/overlays has %d overlays, want try-it and production at least", len(dirs))
	}
	image := appImage(tb)
	var out []renderedOverlay
	for _, dir := range append([]string{filepath.Join(k8sRoot, "base")}, dirs...) {
		objs, err := k8s.Render(dir)
		if err != nil {
			tb.Fatal(err)
		}
		apps := objs.AppDeployments(image)
		if len(apps) != 1 {
			tb.Fatalf("%s: %d Deployments run the image %s, want 1", dir, len(apps), image)
		}
		out = append(out, renderedOverlay{name: filepath.Base(dir), objs: objs, apps: apps})
	}
	return out
}

func TestKubernetesRenderIsStrict(t *testing.T) {
	t.Run("every overlay renders and decodes into the API types", func(t *testing.T) {
		for _, o := range renderAll(t) {
			if len(o.objs.Services) == 0 || len(o.objs.HPAs) == 0 || len(o.objs.PDBs) == 0 ||
				len(o.objs.NetworkPolicies) == 0 || len(o.objs.Ingresses) == 0 {
				t.Errorf("%s lacks a Service, HPA, PDB, NetworkPolicy or Ingress: %d %d %d %d %d", o.name,
					len(o.objs.Services), len(o.objs.HPAs), len(o.objs.PDBs), len(o.objs.NetworkPolicies), len(o.objs.Ingresses))
			}
		}
	})

	cases := []struct {
		name, manifest, want string
	}{
		{"a field the type lacks fails", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicaz: 2}\n", "replicaz"},
		{"a kind without a type fails", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "ConfigMap"},
		{"a misspelt probe field fails", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        livenesProbe: {}\n", "livenesProbe"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "kustomization.yaml"), "resources: [obj.yaml]\n")
			writeFile(t, filepath.Join(dir, "obj.yaml"), c.manifest)
			_, err := k8s.Render(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Render: %v, want an error naming %q", err, c.want)
			}
		})
	}
}

func writeFile(tb testing.TB, name, text string) {
	tb.Helper()
	if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// dockerfileExpose returns the port the final stage EXPOSEs.
func dockerfileExpose(tb testing.TB) int32 {
	tb.Helper()
	var expose string
	for _, in := range parseDockerfile(repoFile(tb, "Dockerfile")) {
		switch in.cmd {
		case "FROM":
			expose = ""
		case "EXPOSE":
			expose = strings.TrimSuffix(in.args, "/tcp")
		}
	}
	p, err := strconv.ParseInt(expose, 10, 32)
	if err != nil {
		tb.Fatalf("Dockerfile: EXPOSE %q of the final stage is not one port", expose)
	}
	return int32(p)
}

func TestKubernetesDeploymentMatchesTheImage(t *testing.T) {
	port := dockerfileExpose(t)
	uid := int64(uidOf(t, readFinalStage(t).user))
	image := appImage(t)
	for _, o := range renderAll(t) {
		d := o.apps[0]
		pod := d.Spec.Template.Spec
		c := pod.Containers[0]
		t.Run(o.name+": the container runs the image's user, unprivileged, on a read-only root", func(t *testing.T) {
			psc, csc := pod.SecurityContext, c.SecurityContext
			if psc == nil || csc == nil {
				t.Fatal("no pod or container securityContext")
			}
			if psc.RunAsUser == nil || *psc.RunAsUser != uid {
				t.Errorf("runAsUser %v, want the Dockerfile's USER %s (%d)", deref(psc.RunAsUser), readFinalStage(t).user, uid)
			}
			if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
				t.Error("runAsNonRoot is not true")
			}
			if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
				t.Error("readOnlyRootFilesystem is not true")
			}
			if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
				t.Error("allowPrivilegeEscalation is not false")
			}
			if csc.Capabilities == nil || len(csc.Capabilities.Drop) != 1 || csc.Capabilities.Drop[0] != "ALL" {
				t.Errorf("capabilities %v, want drop ALL", csc.Capabilities)
			}
		})
		t.Run(o.name+": an image tagged latest is not pulled on every start", func(t *testing.T) {
			// Kubernetes pulls an image tagged latest (or untagged) Always by
			// default, which fails for one loaded into the nodes by hand.
			name, tag, _ := strings.Cut(c.Image[strings.LastIndex(c.Image, "/")+1:], ":")
			if (tag == "" || tag == "latest") && c.ImagePullPolicy != "IfNotPresent" && c.ImagePullPolicy != "Never" {
				t.Errorf("image %s (%s) has imagePullPolicy %q, want IfNotPresent or Never", c.Image, name, c.ImagePullPolicy)
			}
		})
		t.Run(o.name+": image and port are the Dockerfile's", func(t *testing.T) {
			if k8s.ImageName(c.Image) != image {
				t.Errorf("image %q, want %s", c.Image, image)
			}
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			if ports["http"] != port {
				t.Errorf("ports %+v, want one named http on %d (EXPOSE)", c.Ports, port)
			}
			grpcPort := int32(0)
			for _, e := range c.Env {
				if e.Name == "PORT" && e.Value != strconv.Itoa(int(port)) {
					t.Errorf("PORT=%s, but the image exposes %d", e.Value, port)
				}
				if e.Name == "GRPC_ADDR" {
					_, p, _ := strings.Cut(e.Value, ":")
					n, err := strconv.ParseInt(p, 10, 32)
					if err != nil {
						t.Errorf("GRPC_ADDR=%q has no port", e.Value)
					}
					grpcPort = int32(n)
				}
			}
			if ports["grpc"] != grpcPort {
				t.Errorf("ports %+v: the port named grpc must be GRPC_ADDR's (%d)", c.Ports, grpcPort)
			}
			for name := range ports {
				if name != "http" && name != "grpc" {
					t.Errorf("port %s is neither the image's http port nor GRPC_ADDR's", name)
				}
			}
		})
		t.Run(o.name+": at least 2 replicas, resources set", func(t *testing.T) {
			if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
				t.Errorf("replicas %v, want at least 2", deref(d.Spec.Replicas))
			}
			for _, list := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
				if list.Cpu().IsZero() && list.Memory().IsZero() || list.Memory().IsZero() {
					t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
				}
			}
			if c.Resources.Requests.Cpu().IsZero() {
				t.Error("no cpu request: the HPA's utilisation needs one")
			}
		})
		t.Run(o.name+": probes on the http port; the startup probe outlasts first-boot training", func(t *testing.T) {
			want := map[string]string{"liveness": "/healthz", "readiness": "/readyz"}
			for kind, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
				if p == nil || p.HTTPGet == nil {
					t.Errorf("no %s probe over HTTP", kind)
					continue
				}
				if w, ok := want[kind]; ok && p.HTTPGet.Path != w {
					t.Errorf("%s probe on %s, want %s", kind, p.HTTPGet.Path, w)
				}
				if pp := p.HTTPGet.Port; pp.String() != "http" && pp.IntValue() != int(port) {
					t.Errorf("%s probe on port %s, want http or %d", kind, pp.String(), port)
				}
			}
			if p := c.StartupProbe; p != nil {
				budget := time.Duration(p.PeriodSeconds*p.FailureThreshold) * time.Second
				if budget < 20*time.Minute {
					t.Errorf("startup probe gives up after %s: 15 epochs on a small node take longer", budget)
				}
			}
		})
		t.Run(o.name+": models and keys in the database, its URL from a Secret", func(t *testing.T) {
			env := map[string]corev1.EnvVar{}
			for _, e := range c.Env {
				env[e.Name] = e
			}
			for _, k := range []string{"MODEL_DIR", "API_KEYS_FILE"} {
				if env[k].Value != "db" {
					t.Errorf("%s=%q, want db", k, env[k].Value)
				}
			}
			ref := env["DATABASE_URL"].ValueFrom
			if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Key != "DATABASE_URL" {
				t.Fatalf("DATABASE_URL is not read from a Secret's key DATABASE_URL: %+v", env["DATABASE_URL"])
			}
			var found bool
			for _, s := range o.objs.Secrets {
				if s.Name == ref.SecretKeyRef.Name {
					_, inData := s.Data["DATABASE_URL"]
					_, inString := s.StringData["DATABASE_URL"]
					found = inData || inString
				}
			}
			switch o.name {
			case "try-it":
				if !found {
					t.Errorf("try-it renders no Secret %s with DATABASE_URL", ref.SecretKeyRef.Name)
				}
			case "production":
				if len(o.objs.Secrets) > 0 {
					t.Error("production renders a Secret: its database URL must come from outside the repository")
				}
			}
		})
	}
}

// TestKubernetesProbesAreRoutesOfTheServer asks the real server, built as
// serve does, for each probe's path: a path that is not a route answers 404.
func TestKubernetesProbesAreRoutesOfTheServer(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	srv := serve.New(serve.DefaultConfig(), st, nil)
	defer srv.Close()
	isRoute := func(path string) (int, bool) {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed
	}
	if code, ok := isRoute("/no-such-probe"); ok {
		t.Fatalf("GET /no-such-probe answers %d: the check below could not tell a route", code)
	}
	paths := map[string]bool{}
	for _, o := range renderAll(t) {
		for _, d := range append(o.apps, o.objs.Deployments...) {
			for _, c := range d.Spec.Template.Spec.Containers {
				for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
					if p != nil && p.HTTPGet != nil {
						paths[p.HTTPGet.Path] = true
					}
				}
			}
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if !paths[p] {
			t.Errorf("no probe asks %s", p)
		}
	}
	for path := range paths {
		if code, ok := isRoute(path); !ok {
			t.Errorf("a probe asks GET %s, which the server answers %d", path, code)
		}
	}
}

// selects reports whether sel picks pods labelled podLabels.
func selects(tb testing.TB, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	tb.Helper()
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		tb.Fatalf("selector %v: %v", sel, err)
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

func TestKubernetesObjectsSelectTheAppPods(t *testing.T) {
	for _, o := range renderAll(t) {
		d := o.apps[0]
		podLabels := d.Spec.Template.Labels
		t.Run(o.name+": the Deployment's own selector picks its pods", func(t *testing.T) {
			if !selects(t, d.Spec.Selector, podLabels) {
				t.Errorf("selector %v does not match the pod labels %v", d.Spec.Selector, podLabels)
			}
		})
		t.Run(o.name+": the Service selects the pods on the http port", func(t *testing.T) {
			var svc *corev1.Service
			for i := range o.objs.Services {
				if o.objs.Services[i].Name == d.Name {
					svc = &o.objs.Services[i]
				}
			}
			if svc == nil {
				t.Fatalf("no Service %s", d.Name)
			}
			if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(podLabels)) {
				t.Errorf("Service selector %v does not match the pod labels %v", svc.Spec.Selector, podLabels)
			}
			named := map[string]bool{}
			for _, c := range d.Spec.Template.Spec.Containers {
				for _, p := range c.Ports {
					named[p.Name] = true
				}
			}
			for _, p := range svc.Spec.Ports {
				if !named[p.TargetPort.String()] && p.TargetPort.IntValue() != dockerfileExposeInt(t) {
					t.Errorf("Service port %s targets %s, not a port of the container", p.Name, p.TargetPort.String())
				}
			}
		})
		t.Run(o.name+": the PDB and NetworkPolicy select the pods", func(t *testing.T) {
			for _, pdb := range o.objs.PDBs {
				if pdb.Name == d.Name && !selects(t, pdb.Spec.Selector, podLabels) {
					t.Errorf("PDB %s selector %v misses the pods %v", pdb.Name, pdb.Spec.Selector, podLabels)
				}
			}
			var pdbOK, npOK bool
			for _, pdb := range o.objs.PDBs {
				pdbOK = pdbOK || selects(t, pdb.Spec.Selector, podLabels)
			}
			for _, np := range o.objs.NetworkPolicies {
				npOK = npOK || selects(t, &np.Spec.PodSelector, podLabels)
			}
			if !pdbOK || !npOK {
				t.Errorf("a PDB selects the pods: %v; a NetworkPolicy does: %v", pdbOK, npOK)
			}
		})
		t.Run(o.name+": the HPA scales this Deployment from at least 2", func(t *testing.T) {
			var ok bool
			for _, h := range o.objs.HPAs {
				ref := h.Spec.ScaleTargetRef
				if ref.Kind == "Deployment" && ref.APIVersion == "apps/v1" && ref.Name == d.Name {
					ok = true
					if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
						t.Errorf("HPA %s: min %v max %d", h.Name, deref(h.Spec.MinReplicas), h.Spec.MaxReplicas)
					}
				}
			}
			if !ok {
				t.Errorf("no HPA targets apps/v1 Deployment %s", d.Name)
			}
		})
		t.Run(o.name+": the Ingress sends to the Service's port", func(t *testing.T) {
			for _, ing := range o.objs.Ingresses {
				for _, r := range ing.Spec.Rules {
					for _, p := range r.HTTP.Paths {
						b := p.Backend.Service
						if b == nil || b.Name != d.Name || b.Port.Name != "http" {
							t.Errorf("Ingress %s path %s goes to %+v, want Service %s port http", ing.Name, p.Path, b, d.Name)
						}
					}
				}
			}
		})
	}
}

func dockerfileExposeInt(tb testing.TB) int { return int(dockerfileExpose(tb)) }

// TestKubernetesSharesNoVolume: replicas share nothing but the database, so
// no pod mounts anything but its own scratch (emptyDir) or, for the try-it
// database, a volume claim of its own (ReadWriteOnce).
func TestKubernetesSharesNoVolume(t *testing.T) {
	for _, o := range renderAll(t) {
		var pods []corev1.PodSpec
		for _, d := range o.objs.Deployments {
			pods = append(pods, d.Spec.Template.Spec)
		}
		for _, s := range o.objs.StatefulSets {
			pods = append(pods, s.Spec.Template.Spec)
			for _, claim := range s.Spec.VolumeClaimTemplates {
				for _, m := range claim.Spec.AccessModes {
					if m != corev1.ReadWriteOnce && m != corev1.ReadWriteOncePod {
						t.Errorf("%s: StatefulSet %s claims %s", o.name, s.Name, m)
					}
				}
			}
			if s.Spec.Replicas == nil || *s.Spec.Replicas != 1 {
				t.Errorf("%s: StatefulSet %s has %v replicas, want a single instance", o.name, s.Name, deref(s.Spec.Replicas))
			}
		}
		for _, p := range pods {
			for _, v := range p.Volumes {
				if v.EmptyDir == nil {
					t.Errorf("%s: volume %s is not an emptyDir: %+v", o.name, v.Name, v.VolumeSource)
				}
			}
		}
	}
}

// TestKubernetesIngressRetriesAsNginxDoes keeps the Ingress's annotations
// and deploy/nginx.conf saying the same about resending requests.
func TestKubernetesIngressRetriesAsNginxDoes(t *testing.T) {
	conf := nginxLocations(t, repoFile(t, "deploy/nginx.conf"))
	predict, other := conf["predict"], conf["/"]
	for _, o := range renderAll(t) {
		for _, ing := range o.objs.Ingresses {
			a := ing.Annotations
			isPredict := false
			for _, r := range ing.Spec.Rules {
				for _, p := range r.HTTP.Paths {
					isPredict = isPredict || strings.HasPrefix(p.Path, "/predict")
				}
			}
			want := other
			if isPredict {
				want = predict
			}
			name := o.name + ": Ingress " + ing.Name
			const pre = "nginx.ingress.kubernetes.io/"
			if got := strings.Fields(a[pre+"proxy-next-upstream"]); !equalSets(got, want["proxy_next_upstream"]) {
				t.Errorf("%s: proxy-next-upstream %v, nginx.conf says %v", name, got, want["proxy_next_upstream"])
			}
			if got := a[pre+"proxy-next-upstream-tries"]; got != first(want["proxy_next_upstream_tries"]) {
				t.Errorf("%s: proxy-next-upstream-tries %q, nginx.conf says %v", name, got, want["proxy_next_upstream_tries"])
			}
			if got, w := a[pre+"proxy-next-upstream-timeout"], durationSeconds(t, first(want["proxy_next_upstream_timeout"])); got != strconv.FormatFloat(w, 'f', -1, 64) {
				t.Errorf("%s: proxy-next-upstream-timeout %q, nginx.conf says %v", name, got, want["proxy_next_upstream_timeout"])
			}
			if got := a[pre+"proxy-connect-timeout"]; got == "" || durationSeconds(t, got) > 1 {
				t.Errorf("%s: proxy-connect-timeout %q, want at most 1 (s)", name, got)
			}
			snippet := a[pre+"configuration-snippet"]
			resends := contains(want["proxy_next_upstream"], "non_idempotent")
			if resends != strings.Contains(snippet, "proxy_set_header Idempotency-Key") {
				t.Errorf("%s: resends POSTs: %v, but its snippet sets an Idempotency-Key: %v", name, resends, !resends)
			}
			if resends && (!strings.Contains(snippet, "$http_idempotency_key") || !strings.Contains(snippet, "$request_id")) {
				t.Errorf("%s: the snippet must keep the client's key and make one from $request_id otherwise:\n%s", name, snippet)
			}
		}
	}
}

func first(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

func equalSets(a, b []string) bool {
	set := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	return len(a) > 0 && maps.Equal(set(a), set(b))
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
