package sysctl

import (
	"errors"
	"io/fs"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const meminfo = `MemTotal:        8000000 kB
MemFree:         1000000 kB
MemAvailable:    4000000 kB
Buffers:          100000 kB
Cached:          2000000 kB
`

// fakeProc serves /proc files from a map; a missing key is fs.ErrNotExist.
func fakeProc(files map[string]string, soft, hard uint64) Source {
	return Source{
		ReadFile: func(p string) ([]byte, error) {
			if v, ok := files[p]; ok {
				return []byte(v), nil
			}
			return nil, fs.ErrNotExist
		},
		NoFile: func() (uint64, uint64, error) {
			if hard == 0 {
				return 0, 0, errors.New("no rlimit")
			}
			return hard, hard, nil // Go has already raised soft to hard
		},
		ShellNoFileSoft: func() (uint64, bool) { return soft, soft != 0 },
	}
}

func typicalProc() map[string]string {
	return map[string]string{
		"/proc/sys/fs/file-max":                  "9223372036854775807\n",
		"/proc/sys/fs/nr_open":                   "1048576\n",
		"/proc/sys/net/core/somaxconn":           "4096\n",
		"/proc/sys/net/ipv4/tcp_max_syn_backlog": "512\n",
		"/proc/sys/net/ipv4/ip_local_port_range": "32768\t60999\n",
		"/proc/meminfo":                          meminfo,
	}
}

func TestRead(t *testing.T) {
	l := Read(fakeProc(typicalProc(), 1024, 524288))
	want := Limits{OS: "linux", NoFileSoft: 1024, NoFileHard: 524288, FileMax: 9223372036854775807, NrOpen: 1048576,
		PortLow: 32768, PortHigh: 60999, Somaxconn: 4096, TCPMaxSynBacklog: 512,
		MemTotal: 8000000 * 1024, MemAvailable: 4000000 * 1024}
	if len(l.Missing) != 0 {
		t.Fatalf("missing %v", l.Missing)
	}
	l.Missing = nil
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("got %+v\nwant %+v", l, want)
	}
	if l.Ports() != 28232 {
		t.Fatalf("ports %d (Reverb's guide: 60999-32768 = 28231, +1 inclusive)", l.Ports())
	}
}

func TestReadBadInputs(t *testing.T) {
	tests := []struct {
		name        string
		edit        func(map[string]string)
		wantMissing string
	}{
		{"no proc at all", func(m map[string]string) { clear(m) }, "/proc/meminfo"},
		{"garbage port range", func(m map[string]string) { m["/proc/sys/net/ipv4/ip_local_port_range"] = "abc" }, "ip_local_port_range"},
		{"inverted port range", func(m map[string]string) { m["/proc/sys/net/ipv4/ip_local_port_range"] = "600 500" }, "bad range"},
		{"garbage file-max", func(m map[string]string) { m["/proc/sys/fs/file-max"] = "lots" }, "file-max: not a number"},
		{"meminfo without MemTotal", func(m map[string]string) { m["/proc/meminfo"] = "Foo: 1 kB\n" }, "no MemTotal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := typicalProc()
			tc.edit(files)
			l := Read(fakeProc(files, 0, 0))
			if !strings.Contains(strings.Join(l.Missing, "\n"), tc.wantMissing) {
				t.Fatalf("missing %v, want one with %q", l.Missing, tc.wantMissing)
			}
		})
	}
}

func TestParseMeminfoOldKernel(t *testing.T) {
	total, avail, err := parseMeminfo([]byte("MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 5 kB\nCached: 20 kB\n"))
	if err != nil || total != 102400 || avail != 35*1024 {
		t.Fatalf("got %d %d %v", total, avail, err)
	}
}

func TestParseProcLimits(t *testing.T) {
	in := "Limit                     Soft Limit           Hard Limit           Units     \n" +
		"Max cpu time              unlimited            unlimited            seconds   \n" +
		"Max open files            1024                 524288               files     \n"
	if v, ok := parseProcLimits([]byte(in)); !ok || v != 1024 {
		t.Fatalf("got %d %v", v, ok)
	}
	if _, ok := parseProcLimits([]byte("nothing")); ok {
		t.Fatal("parsed nothing")
	}
}

func TestCompute(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name       string
		l          Limits
		workers    int
		maxWorkers int
		tls        bool
		binding    string
		total      uint64
		perWorker  uint64
	}{
		{"open files bind, one process", Limits{NoFileHard: 1024, FileMax: 1 << 63, MemAvailable: 8 * gib}, 0, 0, false,
			"open files (one process)", 960, 960},
		{"a growing pool: open files bind no more, a worker holds its limit", Limits{NoFileHard: 10064, MemAvailable: 8 * gib}, 1, 0, false,
			"memory", uint64(8*gib*4/5) / ConnBytes, 10000},
		{"open files scale with --max-workers", Limits{NoFileHard: 10064, MemAvailable: 8 * gib}, 1, 4, false,
			"open files per worker", 40000, 10000},
		{"memory binds", Limits{NoFileHard: 1 << 20, MemAvailable: 1 * gib}, 2, 0, false,
			"memory", uint64(gib*4/5) / ConnBytes, uint64(gib*4/5) / ConnBytes},
		{"TLS costs more memory", Limits{NoFileHard: 1 << 20, MemAvailable: 1 * gib}, 1, 0, true,
			"memory", uint64(gib*4/5) / TLSConnBytes, uint64(gib*4/5) / TLSConnBytes},
		{"file-max binds", Limits{NoFileHard: 1 << 20, FileMax: 10000, MemAvailable: 64 * gib}, 4, 0, false,
			"fs.file-max", 9000, 9000},
		{"memory total when available unknown", Limits{MemTotal: 1 * gib}, 1, 0, false,
			"memory", uint64(gib*4/5) / ConnBytes, uint64(gib*4/5) / ConnBytes},
		{"nothing known", Limits{}, 2, 0, false, "", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Compute(tc.l, tc.workers, tc.maxWorkers, tc.tls)
			if c.Binding != tc.binding || c.Total != tc.total || c.PerWorker != tc.perWorker {
				t.Fatalf("got binding %q total %d per worker %d; want %q %d %d (%+v)",
					c.Binding, c.Total, c.PerWorker, tc.binding, tc.total, tc.perWorker, c.Bounds)
			}
		})
	}
}

func TestRecommendNoFile(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name string
		l    Limits
		w    int
		want uint64
	}{
		{"small machine gets the guide's 10,000", Limits{MemTotal: gib / 8}, 1, 10240},
		{"memory allows more", Limits{MemTotal: 4 * gib}, 2, (uint64(4*gib*4/5)/ConnBytes/2 + FDReserve + 1023) / 1024 * 1024},
		{"capped by nr_open", Limits{MemTotal: 64 * gib, NrOpen: 65536}, 1, 65536},
	}
	for _, tc := range tests {
		if got := RecommendNoFile(tc.l, tc.w, false); got != tc.want {
			t.Errorf("%s: got %d want %d", tc.name, got, tc.want)
		}
	}
}

func TestSnippets(t *testing.T) {
	base := Target{Dir: "/home/forge/app", Binary: "/home/forge/app/reverb", User: "forge",
		Host: "0.0.0.0", Port: 8080, PublicHost: "ws.example.com", PublicPort: 443, PublicScheme: "https",
		Workers: 4, DrainWindow: 10 * time.Second, NoFile: 20480, IdleSeconds: 60,
		Limits: Limits{FileMax: 100000, NrOpen: 1048576, Somaxconn: 128, TCPMaxSynBacklog: 8192}}
	tests := []struct {
		name    string
		edit    func(*Target)
		snippet string
		want    []string
		notWant []string
	}{
		{"limits.conf", nil, "limits.conf", []string{"forge soft nofile 20480", "forge hard nofile 20480"}, nil},
		{"sysctl raises what is low", nil, "sysctl", []string{"fs.file-max = 163840", "net.core.somaxconn = 4096",
			"net.ipv4.tcp_max_syn_backlog = 8192", "ip_local_port_range = 1024 65535"}, []string{"fs.nr_open"}},
		{"nginx over TLS", nil, "nginx", []string{"listen 443 ssl;", "server_name ws.example.com;", "location ^~ /app/ {",
			"location ^~ /apps/ {", `proxy_set_header Upgrade $http_upgrade;`, `proxy_set_header Connection "Upgrade";`,
			"X-Forwarded-For", "X-Forwarded-Proto", "proxy_pass http://127.0.0.1:8080;", "proxy_read_timeout 120s;"}, nil},
		{"nginx with a path prefix", func(t *Target) { t.Path = "/ws"; t.Host = "10.0.0.5"; t.IdleSeconds = 90 }, "nginx",
			[]string{"location ^~ /ws/app/ {", "location ^~ /ws/apps/ {", "location = /ws/up", "proxy_pass http://10.0.0.5:8080;", "proxy_read_timeout 180s;"}, nil},
		{"nginx plain on a custom port", func(t *Target) { t.PublicScheme = "http"; t.PublicPort = 6001; t.Host = "::" }, "nginx",
			[]string{"listen 6001;", "proxy_pass http://[::1]:8080;"}, []string{"ssl"}},
		{"nginx.conf", nil, "nginx.conf", []string{"worker_rlimit_nofile 21504;", "worker_connections 20480;"}, nil},
		{"supervisor", nil, "supervisor", []string{"minfds=20480", "ulimit -Hn 20480", "command=/home/forge/app/reverb start --workers 4",
			"directory=/home/forge/app", "user=forge", "stopsignal=TERM", "stopwaitsecs=30", "autorestart=true"}, nil},
		{"systemd", nil, "systemd", []string{"LimitNOFILE=20480", "KillSignal=SIGTERM", "ExecReload=/bin/kill -HUP $MAINPID",
			"Restart=always", "ExecStart=/home/forge/app/reverb start --workers 4", "User=forge", "TimeoutStopSec=30"}, nil},
		{"nr_open raised when too low", func(t *Target) { t.Limits.NrOpen = 1024 }, "sysctl", []string{"fs.nr_open = 20480"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tgt := base
			if tc.edit != nil {
				tc.edit(&tgt)
			}
			var text string
			for _, s := range Snippets(tgt) {
				if s.Name == tc.snippet {
					text = s.Text
					if !strings.HasPrefix(s.Text, "# "+s.File) && !strings.HasPrefix(s.Text, "; "+s.File) {
						t.Errorf("snippet %s does not start by naming %s", s.Name, s.File)
					}
				}
			}
			if text == "" {
				t.Fatalf("no snippet %q", tc.snippet)
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("missing %q in:\n%s", w, text)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(text, w) {
					t.Errorf("unexpected %q in:\n%s", w, text)
				}
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	for in, want := range map[uint64]string{512: "512 B", 2048: "2.0 KiB", 3 << 30: "3.0 GiB"} {
		if got := HumanBytes(in); got != want {
			t.Errorf("HumanBytes(%d) = %q want %q", in, got, want)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add("32768 60999", meminfo, "1024")
	f.Fuzz(func(t *testing.T, ports, mem, num string) {
		files := map[string]string{
			"/proc/sys/net/ipv4/ip_local_port_range": ports, "/proc/meminfo": mem,
			"/proc/sys/fs/file-max": num, "/proc/sys/fs/nr_open": num,
			"/proc/sys/net/core/somaxconn": num, "/proc/sys/net/ipv4/tcp_max_syn_backlog": num,
		}
		l := Read(fakeProc(files, 1024, 4096))
		_ = Compute(l, 3, 0, false) // must never panic
		if l.Ports() < 0 || l.Ports() > 65536 {
			t.Fatalf("ports %d", l.Ports())
		}
	})
}

// fakeDarwin answers sysctl names and `launchctl limit maxfiles` like a Mac.
func fakeDarwin(vals map[string]string, launchctl string) Source {
	return Source{
		OS: "darwin", SingleProcess: true,
		NoFile: func() (uint64, uint64, error) { return 10240, 1<<63 - 1, nil },
		Sysctl: func(name string) (string, error) {
			if v, ok := vals[name]; ok {
				return v, nil
			}
			return "", fs.ErrNotExist
		},
		Run: func(name string, args ...string) ([]byte, error) {
			if name == "launchctl" && strings.Join(args, " ") == "limit maxfiles" {
				return []byte(launchctl), nil
			}
			return nil, errors.New("unexpected command " + name)
		},
	}
}

func TestReadDarwin(t *testing.T) {
	src := fakeDarwin(map[string]string{"kern.maxfilesperproc": "24576", "kern.maxfiles": "49152", "kern.ipc.somaxconn": "128",
		"net.inet.ip.portrange.first": "49152", "net.inet.ip.portrange.last": "65535", "hw.memsize": "17179869184"},
		"\tmaxfiles    256            unlimited      \n")
	l := Read(src)
	if len(l.Missing) != 0 {
		t.Fatalf("missing %v", l.Missing)
	}
	if l.OS != "darwin" || !l.SingleProcess || l.LaunchdSoft != 256 || l.LaunchdHard != Unlimited || l.MaxFilesPerProc != 24576 ||
		l.MaxFiles != 49152 || l.Somaxconn != 128 || l.Ports() != 16384 || l.MemTotal != 16<<30 || l.NoFileHard != Unlimited {
		t.Fatalf("%+v", l)
	}
	// Go caps its soft limit at kern.maxfilesperproc: that is what one
	// process gets, and there is one process.
	if l.PerProcessFiles() != 24576 || l.SystemFiles() != 49152 {
		t.Fatalf("per process %d system %d", l.PerProcessFiles(), l.SystemFiles())
	}
	c := Compute(l, 4, 0, false)
	if c.Binding != "open files (one process)" || c.Total != 24576-FDReserve || c.PerWorker != c.Total {
		t.Fatalf("%+v", c)
	}
	broken := Read(fakeDarwin(nil, "nonsense"))
	if !strings.Contains(strings.Join(broken.Missing, "\n"), "kern.maxfilesperproc") || !strings.Contains(strings.Join(broken.Missing, "\n"), "no maxfiles line") {
		t.Fatalf("missing %v", broken.Missing)
	}
}

func TestReadWindows(t *testing.T) {
	netsh := "\r\nProtocol tcp Dynamic Port Range\r\n---------------------------------\r\nStart Port      : 49152\r\nNumber of Ports : 16384\r\n"
	src := Source{OS: "windows", SingleProcess: true,
		Run: func(string, ...string) ([]byte, error) { return []byte(netsh), nil },
		Sysctl: func(name string) (string, error) {
			return map[string]string{"TotalPhys": "8589934592", "AvailPhys": "4294967296"}[name], nil
		},
	}
	l := Read(src)
	if len(l.Missing) != 0 || l.PortLow != 49152 || l.PortHigh != 65535 || l.MemTotal != 8<<30 || l.MemAvailable != 4<<30 {
		t.Fatalf("%+v", l)
	}
	if l.PerProcessFiles() != 0 {
		t.Fatal("Windows has no per-process open-files limit for sockets")
	}
	c := Compute(l, 2, 0, false)
	if c.Binding != "memory" || c.Total != uint64((4<<30)*4/5)/ConnBytes {
		t.Fatalf("%+v", c)
	}
	if _, _, err := parseNetshDynamicPorts([]byte("garbage")); err == nil {
		t.Fatal("parsed garbage")
	}
}

// Each OS gets the snippets that fit it and a list of those that do not.
func TestSnippetsPerOS(t *testing.T) {
	base := Target{Dir: "/Users/me/app", Binary: "/Users/me/app/reverb", User: "me", Host: "0.0.0.0", Port: 8080,
		PublicHost: "app.test", PublicPort: 8080, PublicScheme: "https", Workers: 2, DrainWindow: 10 * time.Second, NoFile: 65536}
	names := func(ss []Snippet) string {
		var n []string
		for _, s := range ss {
			n = append(n, s.Name)
		}
		return strings.Join(n, " ")
	}
	linux := base
	if got := names(Snippets(linux)); got != "limits.conf sysctl nginx nginx.conf supervisor systemd" || NotApplicable("linux") != nil {
		t.Errorf("linux: %s", got)
	}
	mac := base
	mac.Limits = Limits{OS: "darwin", MaxFiles: 200000}
	ss := Snippets(mac)
	if got := names(ss); got != "launchctl launchd" {
		t.Errorf("darwin: %s", got)
	}
	if !strings.Contains(ss[0].Text, "sudo launchctl limit maxfiles 65536 200000") || !strings.Contains(ss[0].Text, "kern.maxfilesperproc=65536") ||
		!strings.Contains(ss[1].Text, "<string>maxfiles</string>") {
		t.Errorf("darwin snippets:\n%s\n%s", ss[0].Text, ss[1].Text)
	}
	na := strings.Join(NotApplicable("darwin"), "\n")
	if !strings.Contains(na, "systemd") || !strings.Contains(na, "nginx on this machine") || !strings.Contains(na, "Herd and Valet") {
		t.Errorf("darwin not applicable: %s", na)
	}
	win := base
	win.Limits = Limits{OS: "windows"}
	if got := Snippets(win); got != nil {
		t.Errorf("windows: %s", names(got))
	}
	if na := strings.Join(NotApplicable("windows"), "\n"); !strings.Contains(na, "no per-process open-files limit") || !strings.Contains(na, "Herd for Windows") {
		t.Errorf("windows not applicable: %s", na)
	}
}

// nginx never listens on the port the server itself uses.
func TestNginxNotOnTheServersPort(t *testing.T) {
	for _, tc := range []struct {
		scheme     string
		publicPort int
		listen     string
	}{{"https", 8080, "listen 443 ssl;"}, {"http", 8080, "listen 80;"}, {"https", 443, "listen 443 ssl;"}, {"http", 6001, "listen 6001;"}} {
		t.Run(tc.scheme+itoaTest(tc.publicPort), func(t *testing.T) {
			text := nginxSite(Target{Host: "0.0.0.0", Port: 8080, PublicHost: "ws.example.com", PublicPort: tc.publicPort, PublicScheme: tc.scheme})
			if !strings.Contains(text, tc.listen) || strings.Contains(text, "listen 8080") {
				t.Errorf("want %q, never 8080:\n%s", tc.listen, text)
			}
			if tc.publicPort == 8080 && !strings.Contains(text, "set REVERB_PORT=") {
				t.Errorf("no note about REVERB_PORT:\n%s", text)
			}
		})
	}
}

func itoaTest(n int) string { return strconv.Itoa(n) }

// Where the kernel tracks connections, its table bounds what can restart:
// every connection is an entry and stays one for 2 minutes after it closes.
func TestConntrack(t *testing.T) {
	files := typicalProc()
	files["/proc/sys/net/netfilter/nf_conntrack_max"] = "262144\n"
	l := Read(fakeProc(files, 1024, 20000))
	if l.ConntrackMax != 262144 || len(l.Missing) != 0 {
		t.Fatalf("conntrack %d, missing %v", l.ConntrackMax, l.Missing)
	}
	c := Compute(l, 1, 0, false)
	if c.Binding != ConntrackBound || c.Total != 131072 {
		t.Fatalf("binding %q at %d, want nf_conntrack_max at 131072", c.Binding, c.Total)
	}
	conf := sysctlConf(Target{Workers: 1, NoFile: 20480, Limits: l})
	if !strings.Contains(conf, "\nnet.netfilter.nf_conntrack_max = 851968\n") {
		t.Fatalf("sysctl snippet:\n%s", conf)
	}
	l.ConntrackMax = 1 << 30
	if conf := sysctlConf(Target{Workers: 1, NoFile: 20480, Limits: l}); !strings.Contains(conf, "# net.netfilter.nf_conntrack_max = 1073741824 is already enough") {
		t.Fatalf("sysctl snippet with a large table:\n%s", conf)
	}

	files["/proc/sys/net/netfilter/nf_conntrack_max"] = "many"
	if l := Read(fakeProc(files, 1024, 20000)); !strings.Contains(strings.Join(l.Missing, "\n"), "nf_conntrack_max: not a number") {
		t.Fatalf("garbage conntrack reading: missing %v", l.Missing)
	}
}
