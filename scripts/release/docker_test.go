//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// engine is a container engine that can run containers on this machine,
// with the flags it needs here.
type engine struct {
	bin      string
	global   []string // before the subcommand (--runtime)
	runFlags []string // for run/create (--ulimit)
}

func (e engine) cmd(ctx context.Context, args ...string) *exec.Cmd {
	sub := args[0]
	full := append(append([]string{}, e.global...), sub)
	if sub == "run" || sub == "create" {
		full = append(full, e.runFlags...)
	}
	return exec.CommandContext(ctx, e.bin, append(full, args[1:]...)...)
}

// findEngine looks for podman that can start a container here. Engines
// set container limits from their own defaults, which an unprivileged or
// nested host may refuse to raise, so the candidates pin the limits to this
// process's own; crun refuses hosts with cgroups in hybrid mode, where runc
// works. The probe runs the image's `version` command.
func findEngine(t *testing.T, image string) (engine, []byte) {
	t.Helper()
	bin, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("no podman on PATH (apt-get install podman runc): the container image is not tested")
	}
	var nofile, nproc syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
	nproc = syscall.Rlimit{Cur: 4096, Max: 4096}
	limits := []string{
		"--ulimit", fmt.Sprintf("nofile=%d:%d", nofile.Cur, nofile.Max),
		"--ulimit", fmt.Sprintf("nproc=%d:%d", nproc.Cur, nproc.Max),
	}
	candidates := []engine{{bin: bin}, {bin: bin, runFlags: limits}}
	if _, err := exec.LookPath("runc"); err == nil {
		candidates = append(candidates, engine{bin: bin, global: []string{"--runtime", "runc"}, runFlags: limits})
	}
	var failures []string
	for _, e := range candidates {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		out, err := e.cmd(ctx, "run", "--rm", image, "version", "--json").CombinedOutput()
		cancel()
		if err == nil {
			return e, out
		}
		failures = append(failures, fmt.Sprintf("podman %s: %s", strings.Join(append(e.global, e.runFlags...), " "), firstLines(strings.TrimSpace(string(out)), 2)))
	}
	t.Skipf("podman cannot run containers on this machine:\n%s", strings.Join(failures, "\n"))
	return engine{}, nil
}

// TestContainerImage builds the image from the context `make docker` writes,
// starts it on a copy of the example Laravel project mounted at /app, and
// talks to it: a Pusher handshake over WebSocket through the published
// port, `reverb status` inside the container (the non-root user writes its
// control socket into the mounted storage/), and a SIGTERM stop that exits
// 0.
func TestContainerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary and a container image; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("container images are linux")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("no podman on PATH (apt-get install podman runc): the container image is not tested")
	}
	root := repoRoot(t)
	ctxDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r := Release{Version: "v0.0.1-container.1", Commit: "0123456789abcdef0123456789abcdef01234567",
		Date: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Src: root}
	if err := r.DockerContext(ctx, Target{"linux", runtime.GOARCH}, ctxDir, ""); err != nil {
		t.Fatal(err)
	}

	image := fmt.Sprintf("localhost/reverb-go/reverb-test:%d", os.Getpid())
	if out, err := exec.CommandContext(ctx, "podman", "build", "--quiet", "-t", image, ctxDir).CombinedOutput(); err != nil {
		t.Skipf("podman cannot build images on this machine: %v\n%s", err, firstLines(string(out), 5))
	}
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", image).Run() })
	eng, versionOut := findEngine(t, image)
	var v map[string]string
	if err := json.Unmarshal(bytes.TrimSpace(versionOut), &v); err != nil || v["version"] != r.Version || v["os"] != "linux" {
		t.Fatalf("version in the image: %s (%v)", versionOut, err)
	}

	// The image's metadata: what the Dockerfile promises.
	out, err := exec.CommandContext(ctx, "podman", "image", "inspect", "--format",
		"{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}|{{.Config.WorkingDir}}|{{json .Config.ExposedPorts}}", image).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(out)), `65532:65532|["/reverb"]|["start"]|/app|{"8080/tcp":{}}`; got != want {
		t.Errorf("image config %s, want %s", got, want)
	}

	// The project, writable by the image's user as a project folder would be
	// to whoever runs the server.
	app := t.TempDir()
	copyDir(t, filepath.Join(root, "examples", "laravel"), app)
	filepath.Walk(app, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			os.Chmod(p, 0o777)
		}
		return nil
	})
	os.Chmod(app, 0o755)

	port := freePort(t)
	name := fmt.Sprintf("reverb-test-%d", os.Getpid())
	out, err = eng.cmd(ctx, "run", "-d", "--name", name, "-p", fmt.Sprintf("127.0.0.1:%d:8080", port),
		"-v", app+":/app", image).CombinedOutput()
	if err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(eng.bin, append(eng.global, "rm", "-f", name)...).Run() })
	logs := func() string {
		out, _ := exec.Command(eng.bin, append(eng.global, "logs", name)...).CombinedOutput()
		return string(out)
	}

	// A Pusher handshake through the published port.
	url := fmt.Sprintf("ws://127.0.0.1:%d/app/reverb-key?protocol=7&client=js&version=8.4.0", port)
	var conn *websocket.Conn
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, _, err = websocket.DefaultDialer.Dial(url, nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no WebSocket from the container: %v\n%s", err, logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, msg, err := conn.ReadMessage()
	conn.Close()
	if err != nil || !strings.Contains(string(msg), `"event":"pusher:connection_established"`) {
		t.Fatalf("handshake: %v %s\n%s", err, msg, logs())
	}

	// reverb status inside the container reaches the control socket the
	// server (user 65532) created in the mounted storage/.
	out, err = exec.CommandContext(ctx, eng.bin, append(eng.global, "exec", name, "/reverb", "status", "--json")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "123456") {
		t.Fatalf("reverb status in the container: %v\n%s\n%s", err, out, logs())
	}
	if fi, err := os.Stat(filepath.Join(app, "storage", "reverb.sock")); err != nil {
		t.Errorf("control socket not in the mounted project: %v", err)
	} else if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Getuid() == 0 && st.Uid != 65532 { // rootless podman maps uids
		t.Errorf("control socket owned by uid %d, want the image's user 65532", st.Uid)
	}

	// podman stop sends SIGTERM: the server drains and exits 0.
	if out, err := exec.CommandContext(ctx, eng.bin, append(eng.global, "stop", "-t", "60", name)...).CombinedOutput(); err != nil {
		t.Fatalf("podman stop: %v\n%s", err, out)
	}
	out, _ = exec.CommandContext(ctx, eng.bin, append(eng.global, "inspect", "--format", "{{.State.ExitCode}}", name)...).Output()
	if code := strings.TrimSpace(string(out)); code != "0" {
		t.Fatalf("exit code %s after SIGTERM\n%s", code, logs())
	}
	if l := logs(); !strings.Contains(l, "Starting server on 0.0.0.0:8080") {
		t.Errorf("start line missing:\n%s", l)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
