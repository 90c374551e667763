package main

import "syscall"

// childAttr makes a server child die with this process, however this one ends (a
// log.Fatal, a kill), rather than outlive it holding its port and its sessions.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
