package hal

import (
	"fmt"
	"syscall"
)

// RaiseFDLimit raises the soft limit on open files to at least need (up to
// the hard limit) and returns the new soft limit. When even the hard limit
// is lower than need it raises as far as it can and returns an error that
// says how to fix it.
func RaiseFDLimit(need uint64) (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("hal: read the open-files limit: %w", err)
	}
	if l.Cur >= need {
		return l.Cur, nil
	}
	l.Cur = min(need, l.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("hal: raise the open-files limit to %d: %w", l.Cur, err)
	}
	if l.Cur < need {
		return l.Cur, fmt.Errorf("hal: this run needs about %d open files but the hard limit is %d: "+
			"raise it (ulimit -Hn %d as root, or nofile in /etc/security/limits.conf, or LimitNOFILE= for a systemd unit), "+
			"or run fewer devices per process", need, l.Max, need)
	}
	return l.Cur, nil
}
