// Package parentwatch stops the server with the php artisan reverb:start
// that runs it as a child process.
//
// Where PHP cannot replace itself with the server (Windows, or PHP without
// pcntl), reverb:start starts the server as its child and forwards signals
// to it. Killed outright (Task Manager, taskkill /F, SIGKILL, a process
// manager that stops only the process it started), artisan cannot take its
// child down, and the server would keep running with the port bound: the
// next start then fails with the port in use. The companion package names
// its own process in REVERB_GO_PARENT_PID, and the server drains and exits
// once that process is gone.
package parentwatch

import (
	"os"
	"strconv"
	"time"
)

// Env names the variable the companion package sets to the process id of
// the php artisan reverb:start that runs the server as a child.
const Env = "REVERB_GO_PARENT_PID"

// pollInterval is how often the parent is looked at where the system has
// no way to wait for another process's exit: a few system calls a second,
// and a server stopping within a quarter second of artisan.
const pollInterval = 250 * time.Millisecond

// FromEnv returns the process id in Env (0 when it is unset or not a
// process id) and removes the variable, so that nothing the server starts
// (workers, php artisan reverb:apps) inherits it.
func FromEnv() int {
	v, ok := os.LookupEnv(Env)
	if !ok {
		return 0
	}
	os.Unsetenv(Env)
	pid, err := strconv.Atoi(v)
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}

// Watch returns a channel that is closed once the process pid has exited.
// The goroutine it starts belongs to the caller: it ends when the process
// is gone or when done is closed, whichever comes first. An error means
// the process cannot be watched (it is not there to open, on Windows,
// counts as gone: the channel is closed at once).
func Watch(pid int, done <-chan struct{}) (<-chan struct{}, error) {
	return watch(pid, done)
}
