package main

import (
	"strconv"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/supervisor"
	"github.com/reverb-go/reverb/sysctl/doctor"
)

// startChecks is what `reverb start` warns about once it knows where it
// listens: clients told a scheme the server does not speak on its own port,
// and configuration keys without effect (the same rules as reverb doctor).
func startChecks(p *laravelcfg.Project, ep supervisor.Endpoint, secure bool) []string {
	port, err := strconv.Atoi(ep.Port)
	if err != nil {
		return nil
	}
	return doctor.StartWarnings(p, ep.Host, port, laravelcfg.NormalizePath(ep.Path), secure)
}
