//go:build unix

package doctor

import (
	"os"
	"os/user"
	"strconv"
	"syscall"
)

func ownerName(dir string) string {
	fi, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 { // a root-owned checkout says nothing about who should run it
		return ""
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(st.Uid), 10))
	if err != nil {
		return ""
	}
	return u.Username
}
