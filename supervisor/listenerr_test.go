package supervisor

import (
	"net"
	"strings"
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
		"Stop it (if it is this project's reverb, ./reverb status shows it), or pick another port with --port or REVERB_SERVER_PORT"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	// Other errors keep the plain form.
	if got := listenFailure("x:1", net.UnknownNetworkError("udp9")); got != "Cannot listen on x:1: unknown network udp9" {
		t.Errorf("got %q", got)
	}
}
