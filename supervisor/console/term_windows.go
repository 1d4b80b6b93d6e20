package console

import "golang.org/x/sys/windows"

// colourTerminal reports whether fd is a console that shows ANSI colours:
// Windows 10 consoles do once virtual terminal processing is on, which is
// switched on here (Windows Terminal has it on already). A redirected
// handle (a log file, a pipe) has no console mode and stays plain.
func colourTerminal(fd uintptr) bool {
	h := windows.Handle(fd)
	var mode uint32
	if windows.GetConsoleMode(h, &mode) != nil {
		return false
	}
	if mode&windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING != 0 {
		return true
	}
	return windows.SetConsoleMode(h, mode|windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING) == nil
}
