package redistest

import "syscall"

// childAttr makes the kernel kill redis-server when the test process dies,
// however it dies.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
