package main

import "github.com/reverb-go/reverb/supervisor"

// The worker entry point: `reverb start` runs this same binary as
// `reverb _worker ...` with the listening socket and its bus connection
// inherited. Hidden from the usage (the name starts with "_").
func init() {
	register(supervisor.WorkerCommand, "internal: one worker process of `reverb start`", supervisor.RunWorker)
}
