package sysctl

import (
	"fmt"
	"strconv"
	"strings"
)

// readDarwin reads macOS: the process's RLIMIT_NOFILE, launchd's maxfiles,
// kern.maxfilesperproc and kern.maxfiles, the listen queue, the ephemeral
// port range and the memory size. Compiled on every OS so Linux CI tests it
// with fake values.
func readDarwin(src Source) Limits {
	l := readNoFile(src)
	if l.NoFileHard >= 1<<62 {
		l.NoFileHard = Unlimited
	}
	miss := func(name string, err error) { l.Missing = append(l.Missing, name+": "+err.Error()) }
	sysctlUint := func(name string, dst *uint64) {
		if src.Sysctl == nil {
			miss(name, fmt.Errorf("no sysctl reader"))
			return
		}
		s, err := src.Sysctl(name)
		if err != nil {
			miss(name, err)
			return
		}
		v, err := parseUint(strings.TrimSpace(s))
		if err != nil {
			miss(name, err)
			return
		}
		*dst = v
	}
	sysctlUint("kern.maxfilesperproc", &l.MaxFilesPerProc)
	sysctlUint("kern.maxfiles", &l.MaxFiles)
	var somax, first, last uint64
	sysctlUint("kern.ipc.somaxconn", &somax)
	l.Somaxconn = int(min(somax, 1<<31))
	sysctlUint("net.inet.ip.portrange.first", &first)
	sysctlUint("net.inet.ip.portrange.last", &last)
	if first > 0 && last >= first && last <= 65535 {
		l.PortLow, l.PortHigh = int(first), int(last)
	}
	sysctlUint("hw.memsize", &l.MemTotal)

	if src.Run == nil {
		miss("launchctl limit maxfiles", fmt.Errorf("cannot run commands"))
		return l
	}
	out, err := src.Run("launchctl", "limit", "maxfiles")
	if err != nil {
		miss("launchctl limit maxfiles", err)
		return l
	}
	soft, hard, err := parseLaunchctlLimit(out, "maxfiles")
	if err != nil {
		miss("launchctl limit maxfiles", err)
		return l
	}
	l.LaunchdSoft, l.LaunchdHard = soft, hard
	return l
}

// parseLaunchctlLimit reads `launchctl limit maxfiles` output:
// "\tmaxfiles    256            unlimited      ".
func parseLaunchctlLimit(out []byte, name string) (soft, hard uint64, err error) {
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != name {
			continue
		}
		if soft, err = parseUint(f[1]); err != nil {
			return 0, 0, err
		}
		if hard, err = parseUint(f[2]); err != nil {
			return 0, 0, err
		}
		return soft, hard, nil
	}
	return 0, 0, fmt.Errorf("no %s line in %q", name, strings.TrimSpace(string(out)))
}

// parseNetshDynamicPorts reads `netsh int ipv4 show dynamicport tcp`:
// "Start Port      : 49152" and "Number of Ports : 16384".
func parseNetshDynamicPorts(out []byte) (low, high int, err error) {
	start, count := -1, -1
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, convErr := strconv.Atoi(strings.TrimSpace(v))
		if convErr != nil {
			continue
		}
		switch k = strings.ToLower(strings.TrimSpace(k)); {
		case strings.HasPrefix(k, "start port"):
			start = n
		case strings.HasPrefix(k, "number of ports"):
			count = n
		}
	}
	if start <= 0 || count <= 0 || start+count-1 > 65535 {
		return 0, 0, fmt.Errorf("no dynamic port range in %q", strings.TrimSpace(string(out)))
	}
	return start, start + count - 1, nil
}

// readWindows reads what bounds connections on Windows: there is no
// per-process open-files limit for sockets, so only the dynamic (ephemeral)
// port range and memory are read.
func readWindows(src Source) Limits {
	var l Limits
	miss := func(name string, err error) { l.Missing = append(l.Missing, name+": "+err.Error()) }
	if src.Run != nil {
		out, err := src.Run("netsh", "int", "ipv4", "show", "dynamicport", "tcp")
		if err == nil {
			l.PortLow, l.PortHigh, err = parseNetshDynamicPorts(out)
		}
		if err != nil {
			miss("netsh int ipv4 show dynamicport tcp", err)
		}
	}
	if src.Sysctl != nil {
		for name, dst := range map[string]*uint64{"TotalPhys": &l.MemTotal, "AvailPhys": &l.MemAvailable} {
			s, err := src.Sysctl(name)
			if err == nil {
				*dst, err = parseUint(strings.TrimSpace(s))
			}
			if err != nil {
				miss("memory "+name, err)
			}
		}
	}
	return l
}
