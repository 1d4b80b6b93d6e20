package parentwatch

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A helper mode of the test binary: it watches its parent and prints
// "gone" once the parent has exited.
func TestMain(m *testing.M) {
	if os.Getenv("PARENTWATCH_HELPER") == "1" {
		gone, err := Watch(os.Getppid(), nil)
		if err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("watching\n")
		select {
		case <-gone:
			os.Stdout.WriteString("gone\n")
		case <-time.After(20 * time.Second):
			os.Stdout.WriteString("still waiting\n")
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestFromEnvTakesThePidAndRemovesTheVariable(t *testing.T) {
	for v, want := range map[string]int{"4242": 4242, "": 0, "abc": 0, "-3": 0, "1": 0} {
		t.Setenv(Env, v)
		if got := FromEnv(); got != want {
			t.Errorf("%s=%q: FromEnv() = %d, want %d", Env, v, got, want)
		}
		if _, ok := os.LookupEnv(Env); ok {
			t.Errorf("%s=%q is still set: workers and PHP would inherit it", Env, v)
		}
	}
	os.Unsetenv(Env)
	if got := FromEnv(); got != 0 {
		t.Errorf("unset: FromEnv() = %d, want 0", got)
	}
}

// The server started as artisan's child sees artisan exit: here a shell
// starts the watcher in the background and exits.
func TestWatchSeesTheParentExit(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `"$0" -test.run=^$ & sleep 0.5`, self)
	cmd.Env = append(os.Environ(), "PARENTWATCH_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	lines := make(chan string, 4)
	go func() {
		// EOF once the helper exits: it holds the pipe after sh is gone.
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	timeout := time.After(15 * time.Second)
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				done = true
				break
			}
			got = append(got, l)
		case <-timeout:
			t.Fatalf("the helper said %q and nothing more", got)
		}
	}
	cmd.Wait()
	if strings.Join(got, ",") != "watching,gone" {
		t.Fatalf("the helper said %q, want watching then gone", got)
	}
	t.Logf("gone %v after the shell started", time.Since(start).Round(time.Millisecond))
}

// A wrapper script between artisan and the server: the pid named is not
// the parent, and its exit is still seen.
func TestWatchSeesAProcessThatIsNotTheParentExit(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sleep")
	}
	cmd := exec.Command("sleep", "0.3")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	gone, err := Watch(cmd.Process.Pid, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-gone:
		t.Fatal("gone before the process exited")
	default:
	}
	cmd.Wait() // reaped: no zombie left to answer for it
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the exit of the process was not seen")
	}
}

func TestWatchOfAProcessAlreadyGoneIsClosedAtOnce(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	gone, err := Watch(cmd.Process.Pid, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-gone:
	default:
		t.Fatal("a process that exited already is not gone")
	}
}

func TestAParentAliveIsNotGone(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	gone, err := Watch(os.Getppid(), done)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * pollInterval) // polled a few times
	select {
	case <-gone:
		t.Fatal("the test's parent is not gone")
	default:
	}
}
