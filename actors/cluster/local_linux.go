package cluster

import "syscall"

// localProcAttr puts a local worker in a process group of its own (a
// terminal's Ctrl-C reaches only the coordinator, which drains the run
// before stopping its workers) and has the kernel kill it when the
// coordinator dies, even by kill -9.
func localProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
