// Package supervisor runs `reverb start`: it owns the listening socket and
// serves every connection through one of two process models, both replacing
// what serves without closing the port when the restart flag changes.
//
// In-process generations (inprocess.go): the portable build (macOS,
// Windows, Linux with -tags portable) always, and --workers 0 on Linux.
// One accept loop hands each connection through a gate to the servers
// (server.Server, N = max(1, --workers)) of the serving generation; a
// restart builds the next generation in this process, switches the gate at
// one instant and drains the old one; every generation's servers share one
// in-memory bus (cluster.Bus), or Redis when scaling is on.
//
// Worker processes (Linux, --workers N ≥ 1, default 1, growing; files
// built with linux && !portable):
//
//	supervisor ── listening socket (own, or systemd's LISTEN_FDS)
//	   │  accept4 in batches, round-robin over the serving generation
//	   ├── worker g1w0   fd 3: SOCK_SEQPACKET dispatch socket (SCM_RIGHTS)
//	   ├── worker g1w1   fd 4: stream socket to the hub (bus + control)
//	   └── ...
//
// Each worker is `reverb _worker`: it loads .env and config itself, builds a
// server.Server whose cluster.Transport is a hub.Client (or Redis when
// scaling is on), serves what the dispatcher passes, and reports ready. The
// hub relays every bus message to every subscribed worker of every
// generation in one total order, so events accepted while two generations
// overlap reach subscribers in both.
//
// Restart (restart flag change or SIGHUP): reload the config (on error keep
// serving and log file:line); start generation N+1; once all its workers are
// ready, point the dispatcher at them (no connection is in flight to the old
// ones after that), then tell the old workers to drain: they answer HTTP with
// Connection: close and close WebSockets with 4200-range frames spread over
// --drain-window, exit when empty, and are killed at window + 5 s.
//
// Signals: SIGTERM/SIGINT drain everything and exit 0 (a second Ctrl-C
// kills); SIGHUP restarts; SIGQUIT kills the workers and exits 0. Windows
// has only Ctrl-C/Ctrl-Break (drain and exit) and console close (drain). A worker
// that dies is replaced with exponential backoff; workers get SIGUSR2 when
// the supervisor dies (parent-death signal) and then drain within 1 s.
//
// State ownership: everything about workers and generations is touched only
// by the event loop of the running model (supervisor.go, inprocess.go);
// other goroutines (process reapers, hub readers, builders, drainers,
// timers, the flag watcher) send it events.
package supervisor
