package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/store/storetest"
)

// finalStage is what the last stage of the Dockerfile says about the image.
type finalStage struct {
	copies      []imageCopy
	env         []string // KEY=VALUE, in order
	workdir     string
	user        string
	entrypoint  []string
	cmd         []string
	healthcheck []string
	dirsMade    []string // folders the build stage makes under /out (RUN mkdir -p)
}

// imageCopy is one COPY --from=build of the final stage.
type imageCopy struct {
	src, dst string
	chown    string // "65532:65532", or "" for root
}

// readFinalStage parses the Dockerfile's last stage, and the folders its
// build stage makes with mkdir -p.
func readFinalStage(tb testing.TB) finalStage {
	tb.Helper()
	var st finalStage
	for _, in := range parseDockerfile(repoFile(tb, "Dockerfile")) {
		switch in.cmd {
		case "FROM":
			st = finalStage{dirsMade: st.dirsMade}
		case "RUN":
			if _, after, ok := strings.Cut(in.args, "mkdir -p "); ok {
				for _, d := range strings.Fields(after) {
					if !strings.HasPrefix(d, "/") {
						break
					}
					st.dirsMade = append(st.dirsMade, d)
				}
			}
		case "COPY":
			var c imageCopy
			var paths []string
			fromBuild := false
			for _, f := range strings.Fields(in.args) {
				switch {
				case strings.HasPrefix(f, "--chown="):
					c.chown = strings.TrimPrefix(f, "--chown=")
				case strings.HasPrefix(f, "--from="):
					fromBuild = true
				case strings.HasPrefix(f, "--"):
				default:
					paths = append(paths, f)
				}
			}
			// The final stage copies only from the build stage, one path
			// at a time; the build stage's own COPYs (the sources) are
			// what this test has in the repository already.
			if fromBuild {
				if len(paths) != 2 {
					tb.Fatalf("Dockerfile: COPY %s: want one source and one destination", in.args)
				}
				c.src, c.dst = paths[0], paths[1]
				st.copies = append(st.copies, c)
			}
		case "ENV":
			st.env = append(st.env, strings.Fields(in.args)...)
		case "WORKDIR":
			st.workdir = in.args
		case "USER":
			st.user = in.args
		case "ENTRYPOINT":
			st.entrypoint = jsonArgs(tb, in.args)
		case "CMD":
			st.cmd = jsonArgs(tb, in.args)
		case "HEALTHCHECK":
			_, after, ok := strings.Cut(in.args, "CMD ")
			if !ok {
				tb.Fatalf("Dockerfile: HEALTHCHECK %s has no CMD", in.args)
			}
			st.healthcheck = jsonArgs(tb, after)
		}
	}
	return st
}

// jsonArgs reads the exec form ["a", "b"]: the image has no shell for the
// other form.
func jsonArgs(tb testing.TB, s string) []string {
	tb.Helper()
	var args []string
	if err := json.Unmarshal([]byte(s), &args); err != nil {
		tb.Fatalf("Dockerfile: %s is not the exec form [\"...\"]: %v", s, err)
	}
	return args
}

// uidOf reads the USER of the image: distroless's nonroot is 65532.
func uidOf(tb testing.TB, user string) uint32 {
	tb.Helper()
	name, _, _ := strings.Cut(user, ":")
	if name == "nonroot" {
		return 65532
	}
	n, err := strconv.ParseUint(name, 10, 32)
	if err != nil {
		tb.Fatalf("Dockerfile: USER %s: want nonroot or a number", user)
	}
	return uint32(n)
}

// TestImageServesFromItsOwnFilesystemAsNonroot stands in for `docker run`,
// which this machine cannot do: it lays out the final image's filesystem as
// the Dockerfile describes (the static binary at /app, the MNIST files, the
// folders it hands to nonroot, and nothing else: no shell, no libc, no
// /tmp), then, chrooted into it as the image's user with its WORKDIR and
// ENV, trains a model as `docker compose run web train` would, serves with
// the image's ENTRYPOINT and CMD against PostgreSQL, posts a prediction and
// runs the HEALTHCHECK command. A binary that needed a shell, libc, root or
// a writable folder other than those the image gives its user fails it.
func TestImageServesFromItsOwnFilesystemAsNonroot(t *testing.T) {
	switch {
	case runtime.GOOS != "linux":
		t.Skip("skipped: chroot test runs on Linux only")
	case os.Geteuid() != 0:
		t.Skip("skipped: laying out the image and chrooting into it needs root (CI runs as root)")
	case os.Getenv(storetest.EnvDatabaseURL) == "":
		t.Skip("skipped: " + storetest.EnvDatabaseURL + " unset; the image test serves against PostgreSQL")
	}
	st := readFinalStage(t)
	uid := uidOf(t, st.user)
	began := time.Now()
	root := layOutImage(t, st)
	t.Logf("image laid out, binary built, in %v", time.Since(began).Round(time.Millisecond))
	before := listTree(t, root)

	port := freePort(t)
	env := append(append([]string(nil), st.env...),
		"DATABASE_URL="+storetest.PostgresURL(t),
		"PORT="+port, // the chroot shares the host's network, so not 5000
	)
	run := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = env
		cmd.Dir = st.workdir // taken inside the new root
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Chroot:     root,
			Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}},
		}
		return cmd
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The image's ENTRYPOINT with `train`: the README's
	// `docker compose run --rm web train`, a quick one on the fixture.
	train := append(append([]string(nil), st.entrypoint...), "train", "--epochs", "1")
	if out, err := run(ctx, train...).CombinedOutput(); err != nil {
		t.Fatalf("%v in the image: %v (\"no such file\" for /app itself means a binary that wants a loader or libc the image lacks)\n%s", train, err, out)
	}
	t.Logf("%v in the image: done at %v", train, time.Since(began).Round(time.Millisecond))

	serveArgs := append(append([]string(nil), st.entrypoint...), st.cmd...)
	serve := run(ctx, serveArgs...)
	var logs bytes.Buffer
	serve.Stdout, serve.Stderr = &logs, &logs
	if err := serve.Start(); err != nil {
		t.Fatalf("start %v in the image: %v", serveArgs, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	defer func() {
		if serve.ProcessState == nil {
			_ = serve.Process.Kill()
			<-exited
		}
	}()

	base := "http://127.0.0.1:" + port
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("%v exited early: %v\n%s", serveArgs, err, logs.String())
		default:
		}
		if code, _ := testutil.Get(base + "/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never answered 200\n%s", logs.String())
		}
	}

	t.Logf("%v in the image: ready at %v", serveArgs, time.Since(began).Round(time.Millisecond))

	t.Run("a prediction is answered and stored", func(t *testing.T) {
		test, err := mnist.LoadTest(testutil.MNISTFixture(t))
		if err != nil {
			t.Fatal(err)
		}
		pixels := make([]int, mnist.Pixels)
		for i, v := range test.Image(0) {
			pixels[i] = int(v)
		}
		body, _ := json.Marshal(map[string]any{"image": pixels})
		resp, err := http.Post(base+"/predict", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var answer struct {
			Prediction int   `json:"prediction"`
			ID         int64 `json:"id"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /predict: status %d, %v\n%s", resp.StatusCode, err, logs.String())
		}
		if answer.ID < 1 || answer.Prediction < 0 || answer.Prediction > 9 {
			t.Errorf("answer %+v: want a stored id and a digit", answer)
		}
		if code, row := testutil.Get(fmt.Sprintf("%s/predictions/%d", base, answer.ID)); code != http.StatusOK || !strings.Contains(row, `"model_version"`) {
			t.Errorf("GET /predictions/%d: %d %s", answer.ID, code, row)
		}
	})

	t.Run("the HEALTHCHECK command passes in the image", func(t *testing.T) {
		if out, err := run(ctx, st.healthcheck...).CombinedOutput(); err != nil {
			t.Errorf("%v in the image: %v\n%s", st.healthcheck, err, out)
		}
	})

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM, want 0\n%s", err, logs.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("serve did not stop within 45s of SIGTERM\n%s", logs.String())
	}

	t.Run("the HEALTHCHECK command fails once the server is gone", func(t *testing.T) {
		if out, err := run(ctx, st.healthcheck...).CombinedOutput(); err == nil {
			t.Errorf("%v passed with no server:\n%s", st.healthcheck, out)
		}
	})

	t.Run("nothing was written outside the folders the image gives its user", func(t *testing.T) {
		writable := map[string]bool{}
		for _, c := range st.copies {
			if c.chown != "" {
				writable[c.dst] = true
			}
		}
		after := listTree(t, root)
		var models int
		for p := range after {
			if before[p] {
				continue
			}
			if !writable[path.Dir(p)] && !writable[p] {
				t.Errorf("%s appeared outside %v", p, writable)
			}
			if strings.HasSuffix(p, ".json") {
				models++
			}
		}
		if models != 1 {
			t.Errorf("%d model metadata files appeared, want the 1 trained", models)
		}
	})
}

// layOutImage builds the final image's filesystem in a temporary folder:
// each COPY of the Dockerfile, with its owner, from what the build stage
// makes (the static binary built as its RUN line does, the folders it
// makes, and the MNIST files: the committed fixture, in the same format).
// Nothing else is there.
func layOutImage(tb testing.TB, st finalStage) string {
	tb.Helper()
	work := tb.TempDir()
	root := filepath.Join(work, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		tb.Fatal(err)
	}
	// What the build stage leaves: /out/app, the mkdir'ed folders, /src.
	out := filepath.Join(work, "out")
	for _, d := range st.dirsMade {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-ldflags", "-s -w", "-o", filepath.Join(out, "app"), ".")
	build.Dir = filepath.Join("..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, b)
	}
	source := func(src string) string {
		switch {
		case src == "/src/data/mnist":
			return testutil.MNISTFixture(tb)
		case strings.HasPrefix(src, "/src/"):
			return filepath.Join("..", strings.TrimPrefix(src, "/src/"))
		default:
			return filepath.Join(work, src)
		}
	}
	for _, c := range st.copies {
		uid, gid := 0, 0
		if c.chown != "" {
			u, g, _ := strings.Cut(c.chown, ":")
			var err1, err2 error
			uid, err1 = strconv.Atoi(u)
			gid, err2 = strconv.Atoi(g)
			if err1 != nil || err2 != nil {
				tb.Fatalf("COPY --chown=%s: want numeric uid:gid", c.chown)
			}
		}
		copyTree(tb, source(c.src), filepath.Join(root, c.dst), uid, gid)
	}
	return root
}

// copyTree copies src (a file or a folder) to dst, making dst's missing
// parents root-owned 0755, and chowns what it copies to uid:gid.
func copyTree(tb testing.TB, src, dst string, uid, gid int) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		tb.Fatal(err)
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		} else {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, data, info.Mode().Perm()|0o444); err != nil {
				return err
			}
		}
		return os.Lchown(target, uid, gid)
	})
	if err != nil {
		tb.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}

// listTree returns every path under root, as seen inside the image.
func listTree(tb testing.TB, root string) map[string]bool {
	tb.Helper()
	paths := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		paths["/"+filepath.ToSlash(rel)] = true
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return paths
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
