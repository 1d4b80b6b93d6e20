package supervisor

import (
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// A port another program holds is named as such, with what to do.
func TestListenFailureSaysWhatToDo(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	addr := held.Addr().String()
	_, err = net.Listen("tcp", addr)
	if err == nil {
		t.Skip("the system let the port be bound twice")
	}
	got := listenFailure(addr, err)
	for _, want := range []string{"Cannot listen on " + addr + ": another server holds the port (", err.Error(),
		"Stop it (if it is this project's reverb, ./reverb status shows it), or pick another port with --port or REVERB_SERVER_PORT " +
			"(and set REVERB_PORT, where Laravel and browsers connect, to the same port unless a proxy forwards to it)"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	// Other errors keep the plain form.
	if got := listenFailure("x:1", net.UnknownNetworkError("udp9")); got != "Cannot listen on x:1: unknown network udp9" {
		t.Errorf("got %q", got)
	}
}

// Windows reports listening failures with its own socket error numbers
// (WSAEADDRINUSE, WSAEACCES, WSAEADDRNOTAVAIL) and, on a non-English
// system, in its own language: they are told apart by number. WSAEACCES
// is Windows refusing the port (a range Hyper-V, WSL or Docker reserved),
// not a privileged port.
func TestListenFailureWindowsErrors(t *testing.T) {
	winErr := func(n int, text string) error {
		return &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", windowsErrno{syscall.Errno(n), text})}
	}
	tests := []struct {
		name    string
		err     error
		want    []string
		notWant []string
	}{
		{"port in use, German", winErr(10048, "Normalerweise darf jede Socketadresse nur jeweils einmal verwendet werden."),
			[]string{"another server holds the port", "--port or REVERB_SERVER_PORT"}, nil},
		{"port reserved", winErr(10013, "An attempt was made to access a socket in a way forbidden by its access permissions."),
			[]string{"Windows", "netsh interface ipv4 show excludedportrange protocol=tcp", "--port or REVERB_SERVER_PORT"},
			[]string{"below 1024"}},
		{"no such address, French", winErr(10049, "L’adresse demandée n’est pas valide dans son contexte."),
			[]string{"no network interface of this machine has that address", "--host or REVERB_SERVER_HOST"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := listenFailure("0.0.0.0:8080", tc.err)
			for _, w := range append(tc.want, tc.err.Error()) {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("%q has %q", got, w)
				}
			}
		})
	}
}

// windowsErrno is a Windows socket error number with the text Windows
// gives it (syscall.Errno's own text is this system's).
type windowsErrno struct {
	n    syscall.Errno
	text string
}

func (e windowsErrno) Error() string { return e.text }
func (e windowsErrno) Unwrap() error { return e.n }
