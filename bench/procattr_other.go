//go:build !linux

package main

import "syscall"

// childAttr: elsewhere a child outlives a bench that dies without stopping it.
func childAttr() *syscall.SysProcAttr { return nil }
