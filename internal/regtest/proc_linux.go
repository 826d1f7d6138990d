package regtest

import "syscall"

// childAttr makes the kernel kill the registry when the test process dies,
// however it dies.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
