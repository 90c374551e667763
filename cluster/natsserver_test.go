package cluster_test

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// natsServer is a real nats-server (Debian's package; make cluster-deps installs it)
// listening on 127.0.0.1, stopped by its PID.
type natsServer struct {
	t    testing.TB
	conf string // a configuration file, or ""
	bin  string
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when its stderr is drained
}

// startNATS starts a nats-server on a free port of 127.0.0.1. A missing binary fails
// the test: the cluster tests never skip.
func startNATS(t testing.TB) *natsServer { return startNATSConf(t, "") }

// startNATSConf is startNATS with configuration lines (like "max_payload: 32768").
func startNATSConf(t testing.TB, conf string) *natsServer {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server"} {
			if _, err2 := exec.LookPath(p); err2 == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		t.Fatal("nats-server not found: the cluster tests need a real NATS server; run `make cluster-deps` (apt-get install nats-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ns := &natsServer{t: t, bin: bin, port: port}
	if conf != "" {
		ns.conf = filepath.Join(t.TempDir(), "nats.conf")
		if err := os.WriteFile(ns.conf, []byte(conf+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ns.start()
	t.Cleanup(ns.stop)
	return ns
}

func (ns *natsServer) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(ns.port) }

// start runs the server and returns once it says it is ready.
func (ns *natsServer) start() {
	ns.t.Helper()
	args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(ns.port)}
	if ns.conf != "" {
		args = append(args, "-c", ns.conf)
	}
	ns.cmd = exec.Command(ns.bin, args...)
	stderr, err := ns.cmd.StderrPipe()
	if err != nil {
		ns.t.Fatal(err)
	}
	if err := ns.cmd.Start(); err != nil {
		ns.t.Fatalf("start nats-server: %v", err)
	}
	ns.done = make(chan struct{})
	sc := bufio.NewScanner(stderr)
	var log []string
	for sc.Scan() {
		log = append(log, sc.Text())
		if strings.Contains(sc.Text(), "Server is ready") {
			go func() { io.Copy(io.Discard, stderr); close(ns.done) }()
			return
		}
	}
	close(ns.done)
	ns.cmd.Wait()
	ns.t.Fatalf("nats-server exited before it was ready:\n%s", strings.Join(log, "\n"))
}

// stop kills the server (by its PID) and waits for it.
func (ns *natsServer) stop() {
	if ns.cmd == nil || ns.cmd.Process == nil {
		return
	}
	ns.cmd.Process.Kill()
	<-ns.done
	ns.cmd.Wait()
	ns.cmd = nil
}
