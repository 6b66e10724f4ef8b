//go:build !linux

package cluster

import "syscall"

// localProcAttr puts a local worker in a process group of its own, so a
// terminal's Ctrl-C reaches only the coordinator. (Outside Linux there is
// no parent-death signal: a coordinator killed with kill -9 leaves its
// workers running until they are stopped.)
func localProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
