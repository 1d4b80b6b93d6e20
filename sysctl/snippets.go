package sysctl

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Target is what the snippets are filled in with.
type Target struct {
	Dir    string // absolute Laravel project root
	Binary string // absolute path of the reverb binary
	User   string // the Unix user that runs the server
	// Host, Port and Path are where the server listens (Path normalised).
	Host string
	Port int
	Path string
	// PublicHost, PublicPort and PublicScheme are where clients connect
	// (REVERB_HOST, REVERB_PORT, REVERB_SCHEME).
	PublicHost   string
	PublicPort   int
	PublicScheme string
	Workers      int
	DrainWindow  time.Duration
	// NoFile is the open-files limit to give each server process.
	NoFile uint64
	// IdleSeconds is the longest quiet time of a healthy connection
	// (ping_interval and activity_timeout of the apps).
	IdleSeconds int
	Limits      Limits
}

// Snippet is one ready-to-paste file fragment.
type Snippet struct {
	Name string `json:"name"`
	File string `json:"file"`
	Text string `json:"text"`
}

// RecommendNoFile picks the open-files limit per server process: enough for
// the connections memory allows per worker plus the reserve, at least the
// 10,000 of Reverb's production guide, at most fs.nr_open.
func RecommendNoFile(l Limits, workers int, tls bool) uint64 {
	procs := uint64(max(workers, 1))
	mem := Compute(Limits{MemTotal: l.MemTotal, MemAvailable: l.MemTotal}, workers, 0, tls) // whole machine, not just what is free now
	want := uint64(10_000)
	if mem.Total > 0 {
		want = max(want, mem.Total/procs+FDReserve)
	}
	want = (want + 1023) / 1024 * 1024
	ceiling := uint64(1 << 20) // Linux's default fs.nr_open
	if l.NrOpen > 0 {
		ceiling = l.NrOpen
	}
	if l.OS == "darwin" && l.MaxFiles > 0 {
		ceiling = l.MaxFiles
	}
	return min(want, ceiling)
}

// Snippets returns the configuration fragments that fit t's operating
// system: limits.conf, sysctl, nginx, supervisor and systemd on Linux;
// launchctl and sysctl on macOS; none on Windows (see NotApplicable).
func Snippets(t Target) []Snippet {
	switch t.Limits.OS {
	case "darwin":
		return []Snippet{
			{"launchctl", "Terminal (until the next reboot)", darwinNow(t)},
			{"launchd", "/Library/LaunchDaemons/limit.maxfiles.plist", darwinPlist(t)},
		}
	case "", "linux":
		return []Snippet{
			{"limits.conf", "/etc/security/limits.conf", limitsConf(t)},
			{"sysctl", "/etc/sysctl.d/60-reverb.conf", sysctlConf(t)},
			{"nginx", "/etc/nginx/sites-available/reverb", nginxSite(t)},
			{"nginx.conf", "/etc/nginx/nginx.conf", nginxMain(t)},
			{"supervisor", "/etc/supervisor/conf.d/reverb.conf", supervisorConf(t)},
			{"systemd", "/etc/systemd/system/reverb.service", systemdUnit(t)},
		}
	}
	return nil
}

// NotApplicable says which of the Linux snippets do not fit os, and why.
func NotApplicable(os string) []string {
	switch os {
	case "darwin":
		return []string{
			"limits.conf, systemd and supervisor: Linux only; on macOS launchd sets the limits (snippets above) and composer dev or a terminal keeps ./reverb start running",
			"nginx on this machine: Herd and Valet already serve the site, and browsers connect to ./reverb start directly (with the Herd or Valet certificate of REVERB_HOST for wss)",
		}
	case "windows":
		return []string{
			"limits.conf, sysctl, systemd and supervisor: Linux only; Windows has no per-process open-files limit for sockets to raise",
			"nginx on this machine: Herd for Windows serves the site, and browsers connect to ./reverb start directly (with the Herd certificate of REVERB_HOST for wss)",
		}
	}
	return nil
}

func darwinNow(t Target) string {
	hard := max(t.NoFile*2, t.Limits.MaxFiles)
	return fmt.Sprintf(`# Terminal (until the next reboot; the launchd plist below makes it permanent).
sudo launchctl limit maxfiles %[1]d %[2]d
sudo sysctl -w kern.maxfilesperproc=%[1]d kern.maxfiles=%[2]d
# then, in the terminal that runs it (Go raises its soft limit by itself):
ulimit -n %[1]d && ./reverb start
`, t.NoFile, hard)
}

func darwinPlist(t Target) string {
	hard := max(t.NoFile*2, t.Limits.MaxFiles)
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<!-- /Library/LaunchDaemons/limit.maxfiles.plist — then: sudo chown root:wheel it && sudo launchctl load -w it -->
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
  <dict>
    <key>Label</key>
    <string>limit.maxfiles</string>
    <key>ProgramArguments</key>
    <array>
      <string>launchctl</string>
      <string>limit</string>
      <string>maxfiles</string>
      <string>%d</string>
      <string>%d</string>
    </array>
    <key>RunAtLoad</key>
    <true/>
    <key>ServiceIPC</key>
    <false/>
  </dict>
</plist>
`, t.NoFile, hard)
}

func limitsConf(t Target) string {
	return fmt.Sprintf(`# /etc/security/limits.conf — open files for %[1]s (log in again to apply).
# Go raises its soft limit to the hard limit by itself: the hard value is the one that counts.
%[1]s soft nofile %[2]d
%[1]s hard nofile %[2]d
`, t.User, t.NoFile)
}

func sysctlConf(t Target) string {
	l := t.Limits
	var b strings.Builder
	b.WriteString("# /etc/sysctl.d/60-reverb.conf — apply with: sudo sysctl --system\n")
	wantFileMax := t.NoFile * uint64(max(t.Workers, 1)) * 2
	if l.FileMax == 0 || l.FileMax < wantFileMax {
		fmt.Fprintf(&b, "fs.file-max = %d\n", wantFileMax)
	} else {
		fmt.Fprintf(&b, "# fs.file-max = %d is already enough\n", l.FileMax)
	}
	if l.NrOpen != 0 && l.NrOpen < t.NoFile {
		fmt.Fprintf(&b, "fs.nr_open = %d\n", t.NoFile)
	}
	b.WriteString("# Ephemeral ports bound connections a proxy on this host opens to one upstream address.\n")
	b.WriteString("net.ipv4.ip_local_port_range = 1024 65535\n")
	if l.ConntrackMax > 0 {
		// Each connection is an entry, and stays one in TIME_WAIT (120 s)
		// after it closes: the restart's reconnect wave needs two each.
		mem := Compute(Limits{MemTotal: l.MemTotal, MemAvailable: l.MemTotal}, t.Workers, 0, false).Total
		want := max(2*mem, 262144)
		want = (want + 65535) / 65536 * 65536
		b.WriteString("# Connection tracking (a firewall or Docker): every connection is an entry, and stays one for 2 minutes\n" +
			"# after it closes, so a restart needs two per connection; a full table drops new connections.\n")
		if l.ConntrackMax < want {
			fmt.Fprintf(&b, "net.netfilter.nf_conntrack_max = %d\n", want)
		} else {
			fmt.Fprintf(&b, "# net.netfilter.nf_conntrack_max = %d is already enough\n", l.ConntrackMax)
		}
	}
	b.WriteString("# Accept queue: absorbs the reconnect wave after a restart or a network blip.\n")
	fmt.Fprintf(&b, "net.core.somaxconn = %d\n", max(l.Somaxconn, 4096))
	fmt.Fprintf(&b, "net.ipv4.tcp_max_syn_backlog = %d\n", max(l.TCPMaxSynBacklog, 4096))
	return b.String()
}

// upstream is the address a local proxy connects to: a wildcard listen
// address is reached over loopback.
func upstream(t Target) string {
	h := t.Host
	switch h {
	case "", "0.0.0.0":
		h = "127.0.0.1"
	case "::", "[::]":
		h = "[::1]"
	}
	return net.JoinHostPort(strings.Trim(h, "[]"), strconv.Itoa(t.Port))
}

func nginxSite(t Target) string {
	host := t.PublicHost
	if host == "" {
		host = "ws.example.com"
	}
	// nginx listens where clients are told to connect, never on the port
	// the server itself listens on (the two would collide): then the
	// standard port, and clients must be told that one.
	port, note := t.PublicPort, ""
	def := 80
	if t.PublicScheme == "https" {
		def = 443
	}
	if port == 0 || port == t.Port {
		if port == t.Port {
			note = fmt.Sprintf("    # Clients are told port %d, where reverb itself listens: with nginx in front set REVERB_PORT=%d (and REVERB_SCHEME=%s).\n",
				t.Port, def, map[int]string{80: "http", 443: "https"}[def])
		}
		port = def
	}
	listen := fmt.Sprintf("    listen %d;\n    listen [::]:%d;\n", port, port)
	if t.PublicScheme == "https" {
		listen = fmt.Sprintf("    listen %d ssl;\n    listen [::]:%d ssl;\n"+
			"    ssl_certificate     /etc/letsencrypt/live/%s/fullchain.pem;\n"+
			"    ssl_certificate_key /etc/letsencrypt/live/%s/privkey.pem;\n", port, port, host, host)
	}
	listen = note + listen
	idle := max(2*t.IdleSeconds, 120)
	up := upstream(t)
	return fmt.Sprintf(`# /etc/nginx/sites-available/reverb — then: ln -s ../sites-available/reverb /etc/nginx/sites-enabled/ && nginx -t && systemctl reload nginx
server {
%[1]s    server_name %[2]s;

    # WebSocket connections: %[3]s/app/{key}
    location ^~ %[3]s/app/ {
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header Scheme $scheme;
        proxy_set_header SERVER_PORT $server_port;
        proxy_set_header REMOTE_ADDR $remote_addr;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "Upgrade";
        # Longer than the quietest healthy connection (ping_interval / activity_timeout).
        proxy_read_timeout %[4]ds;
        proxy_send_timeout %[4]ds;
        proxy_buffering off;
        proxy_pass http://%[5]s;
    }

    # HTTP API used by Laravel's broadcaster: %[3]s/apps/{id}/...
    location ^~ %[3]s/apps/ {
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Connection "";
        proxy_pass http://%[5]s;
    }

    location = %[3]s/up {
        proxy_pass http://%[5]s;
    }
}
`, listen, host, t.Path, idle, up)
}

func nginxMain(t Target) string {
	conns := t.NoFile
	return fmt.Sprintf(`# /etc/nginx/nginx.conf (top level and events block). Each proxied WebSocket
# takes two of worker_connections (client side + upstream side).
worker_processes auto;
worker_rlimit_nofile %d;

events {
    worker_connections %d;
    multi_accept on;
}
`, conns+1024, conns)
}

func supervisorConf(t Target) string {
	stopWait := int((t.DrainWindow + 20*time.Second).Seconds())
	return fmt.Sprintf(`; /etc/supervisor/conf.d/reverb.conf — then: supervisorctl reread && supervisorctl update
; and in /etc/supervisor/supervisord.conf, section [supervisord]:  minfds=%[1]d
; (supervisord does not start at all when it cannot raise its limit to minfds: check first, as root, sh -c 'ulimit -Hn %[1]d')
; Zero-downtime restart from a deploy script: php artisan reverb:restart (or supervisorctl signal HUP reverb).
[program:reverb]
command=%[2]s start --workers %[3]d
directory=%[4]s
user=%[5]s
autostart=true
autorestart=true
startsecs=1
stopsignal=TERM
; the drain window (%[6]s) plus a margin
stopwaitsecs=%[7]d
redirect_stderr=true
stdout_logfile=%[4]s/storage/logs/reverb.log
stdout_logfile_maxbytes=10MB
`, t.NoFile, t.Binary, t.Workers, t.Dir, t.User, t.DrainWindow, stopWait)
}

func systemdUnit(t Target) string {
	stopWait := int((t.DrainWindow + 20*time.Second).Seconds())
	return fmt.Sprintf(`# /etc/systemd/system/reverb.service — then: systemctl daemon-reload && systemctl enable --now reverb
# Zero-downtime restart: systemctl reload reverb (SIGHUP) or php artisan reverb:restart.
[Unit]
Description=Laravel Reverb (Go) for %[1]s
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=%[2]s
WorkingDirectory=%[1]s
ExecStart=%[3]s start --workers %[4]d
ExecReload=/bin/kill -HUP $MAINPID
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=%[5]d
Restart=always
RestartSec=1
LimitNOFILE=%[6]d

[Install]
WantedBy=multi-user.target
`, t.Dir, t.User, t.Binary, t.Workers, stopWait, t.NoFile)
}
