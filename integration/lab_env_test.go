//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The lab's shared environment: the example servers built once, a certificate for the
// TLS scenario, and one driver (browser/driver.mjs) per browser engine for every test.
// Each test starts its own servers and proxies (proc) and stops exactly those.

// labEnv is made once, by the first test that needs it, and closed after all tests.
type labEnv struct {
	dir               string // holds the binaries, the certificate, the proxies' files
	echoBin, chatBin  string
	certFile, keyFile string
	roots             *x509.CertPool     // trusts the lab's certificate
	drivers           map[string]*driver // by engine
	versions          map[string]string  // nginx, haproxy, squid, node, go and each engine
}

// engines are the browser engines the lab runs, each through its own driver
// (browser/driver.mjs, LAB_ENGINE): Chromium, Firefox and WebKit (WebKitGTK).
var engines = []string{"chromium", "firefox", "webkit"}

// engineNames are the engines' names in messages and the report.
var engineNames = map[string]string{"chromium": "Chromium", "firefox": "Firefox", "webkit": "WebKit", "go": "Go"}

// labTools are what the lab runs, each with the Debian package that has it.
var labTools = []struct{ file, pkg string }{
	{"nginx", "nginx"}, {"haproxy", "haproxy"}, {"squid", "squid"}, {"node", "nodejs (Node 20 or later)"},
	{"/usr/bin/chromium", "chromium"}, {"/usr/bin/firefox-esr", "firefox-esr"},
	{"WebKitWebDriver", "webkit2gtk-driver"}, {"/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser", "libwebkit2gtk-4.1-0"},
	{"Xvfb", "xvfb"},
}

// labModules are the npm packages browser/driver.mjs uses (browser/package.json).
var labModules = []string{"playwright-core", "puppeteer-core", "selenium-webdriver"}

var (
	envOnce sync.Once
	env     *labEnv
	envErr  error
)

func init() {
	afterAll = append(afterAll, func(code int) int {
		if env != nil {
			env.close()
		}
		return writeReport(code)
	})
}

// lab returns the environment, making it on first use; a missing tool fails the test
// with the command that installs it (make lab-deps).
func lab(t *testing.T) *labEnv {
	t.Helper()
	envOnce.Do(func() { env, envErr = newLab() })
	if envErr != nil {
		t.Fatalf("lab: %v", envErr)
	}
	return env
}

func newLab() (*labEnv, error) {
	for _, tool := range labTools {
		if _, err := exec.LookPath(tool.file); err != nil {
			return nil, fmt.Errorf("%s is missing: run make lab-deps (Debian package %s)", tool.file, tool.pkg)
		}
	}
	for _, m := range labModules {
		if _, err := os.Stat("browser/node_modules/" + m + "/package.json"); err != nil {
			return nil, fmt.Errorf("%s is missing from integration/browser: run make lab-deps", m)
		}
	}
	dir, err := os.MkdirTemp("", "lifeline-lab-")
	if err != nil {
		return nil, err
	}
	e := &labEnv{dir: dir, drivers: map[string]*driver{}, versions: map[string]string{}}
	fail := func(err error) (*labEnv, error) { e.close(); return nil, err }
	for name, bin := range map[string]*string{"echo": &e.echoBin, "chat": &e.chatBin} {
		*bin = filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", *bin, "../examples/"+name).CombinedOutput(); err != nil {
			return fail(fmt.Errorf("building examples/%s: %v\n%s", name, err, out))
		}
	}
	spki, err := e.makeCert()
	if err != nil {
		return fail(err)
	}
	// The engines launch at once (Firefox takes 6-12 s); each driver answers its
	// version once its browser is up.
	for _, eng := range engines {
		d, err := startDriver(eng, spki)
		if err != nil {
			return fail(fmt.Errorf("%s driver: %v", eng, err))
		}
		e.drivers[eng] = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		engVer = map[string]string{}
	)
	for _, eng := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v string
			err := e.drivers[eng].call(ctx, map[string]any{"op": "version"}, &v)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", eng, err))
			}
			engVer[eng] = v
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	for k, v := range engVer {
		e.versions[k] = v
	}
	e.versions["nginx"] = firstMatch(`nginx/(\S+)`, "nginx", "-v")
	e.versions["haproxy"] = firstMatch(`HAProxy version (\S+)`, "haproxy", "-v")
	e.versions["squid"] = firstMatch(`Version (\S+)`, "squid", "-v")
	e.versions["node"] = firstMatch(`v(\S+)`, "node", "--version")
	e.versions["go"] = firstMatch(`go version go(\S+)`, "go", "version")
	return e, nil
}

func (e *labEnv) close() {
	var wg sync.WaitGroup
	for _, d := range e.drivers {
		wg.Add(1)
		go func() { defer wg.Done(); d.close() }()
	}
	wg.Wait()
	os.RemoveAll(e.dir)
}

// firstMatch runs a command and returns the first group of re in what it printed.
func firstMatch(re, name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	if m := regexp.MustCompile(re).FindSubmatch(out); m != nil {
		return string(m[1])
	}
	return "unknown"
}

// makeCert writes a self-signed certificate for 127.0.0.1 and returns the base64
// SHA-256 of its public key, the form Chromium's --ignore-certificate-errors-spki-list
// takes: Chromium accepts this certificate and no other.
func (e *labEnv) makeCert() (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "lifeline lab"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", err
	}
	e.certFile, e.keyFile = filepath.Join(e.dir, "cert.pem"), filepath.Join(e.dir, "key.pem")
	if err := os.WriteFile(e.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(e.keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return "", err
	}
	e.roots = x509.NewCertPool()
	e.roots.AddCert(cert)
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// httpClient is the Go client's HTTP client in the lab: it trusts the lab's
// certificate, opens a fresh connection per request when keepAlive is false (the
// fault proxy judges a connection by its first request), and goes through the
// forward proxy (http://host:port) when one is given.
func (e *labEnv) httpClient(keepAlive bool, proxy string) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: e.roots},
		DisableKeepAlives: !keepAlive,
	}
	if proxy != "" {
		tr.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse(proxy) }
	}
	return &http.Client{Transport: tr}
}

// proc is a process a test started; the test's cleanup stops it (SIGTERM, then
// SIGKILL after 5 s) and waits for it.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// syncBuffer collects a process's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 1<<20 {
		return len(p), nil
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// start runs a command; stdout, when given, receives its standard output.
func start(t *testing.T, stdout io.Writer, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: filepath.Base(name), cmd: exec.Command(name, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stderr = p.out
	p.cmd.Stdout = p.out
	if stdout != nil {
		p.cmd.Stdout = io.MultiWriter(stdout, p.out)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if !p.stop() {
			t.Errorf("%s did not stop on SIGTERM; killed", p.name)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", p.name, p.out.String())
		}
	})
	return p
}

// stop ends the process and reports whether SIGTERM was enough.
func (p *proc) stop() bool {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return false
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startApp runs an example server on a free port and returns its address.
func startApp(t *testing.T, bin string) string {
	t.Helper()
	addr, _ := startNode(t, bin)
	return addr
}

// startNode is startApp with more arguments (-nats, -node), returning the process too.
func startNode(t *testing.T, bin string, args ...string) (string, *proc) {
	t.Helper()
	w := &urlWatch{found: make(chan string, 1)}
	p := start(t, w, bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	select {
	case u := <-w.found:
		return strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/"), p
	case <-p.done:
		t.Fatalf("%s exited before printing its URL:\n%s", bin, p.out.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("%s printed no URL in 15 s:\n%s", bin, p.out.String())
	}
	return "", nil
}

var urlRE = regexp.MustCompile(`http://[^\s]+`)

// urlWatch is a process's standard output: it sends the first URL printed on found.
type urlWatch struct {
	mu    sync.Mutex
	buf   []byte
	sent  bool
	found chan string
}

func (w *urlWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.sent && len(w.buf) < 64<<10 {
		w.buf = append(w.buf, p...)
		if i := bytes.LastIndexByte(w.buf, '\n'); i >= 0 {
			if u := urlRE.Find(w.buf[:i]); u != nil {
				w.sent = true
				w.found <- string(u)
			}
		}
	}
	return len(p), nil
}

// freePort returns a loopback port free at the time of the call. A proxy started on
// it may still lose a race for it: startProxy then tries another.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProxy writes the configuration conf(port) and runs the proxy (nginx or
// haproxy) on it until it accepts connections; it returns "127.0.0.1:port".
func startProxy(t *testing.T, conf func(port int) string, name string, args func(confFile string) []string) string {
	t.Helper()
	dir := t.TempDir()
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		file := filepath.Join(dir, fmt.Sprintf("%s-%d.conf", name, port))
		if err := os.WriteFile(file, []byte(conf(port)), 0o644); err != nil {
			t.Fatal(err)
		}
		p := start(t, nil, name, args(file)...)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !p.exited(); time.Sleep(20 * time.Millisecond) {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				return addr
			}
		}
		if attempt == 2 {
			t.Fatalf("%s did not start:\n%s", name, p.out.String())
		}
		p.stop()
	}
}

// nginx runs nginx in front of app. server is the body of its server block after
// listen (TLS settings); location the body of location / after proxy_pass.
func (e *labEnv) nginx(t *testing.T, app, listen, server, location string) string {
	t.Helper()
	dir := t.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the workers must reach the test's private temp dirs
	}
	conf := func(port int) string {
		return fmt.Sprintf(`# written by the Lifeline lab
daemon off;
worker_processes 1;
%[1]s
pid %[2]s/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    server {
        listen 127.0.0.1:%[3]d%[4]s;
        %[5]s
        location / {
            proxy_pass http://%[6]s;
            proxy_set_header Host $http_host;
            proxy_read_timeout 120s;
            %[7]s
        }
    }
}
`, user, dir, port, listen, server, app, location)
	}
	return startProxy(t, conf, "nginx", func(f string) []string { return []string{"-e", "stderr", "-p", dir, "-c", f} })
}

// haproxy runs haproxy in front of apps (balance roundrobin, no stickiness, no health
// checks) with every timeout at idle.
func haproxy(t *testing.T, idle time.Duration, apps ...string) string {
	t.Helper()
	var servers strings.Builder
	for i, app := range apps {
		fmt.Fprintf(&servers, "    server app%d %s\n", i+1, app)
	}
	conf := func(port int) string {
		ms := idle.Milliseconds()
		return fmt.Sprintf(`# written by the Lifeline lab
global
    maxconn 4000
defaults
    mode http
    timeout connect 5s
    timeout client %[1]dms
    timeout server %[1]dms
    timeout tunnel %[1]dms
    timeout http-request %[1]dms
    timeout http-keep-alive %[1]dms
frontend web
    bind 127.0.0.1:%[2]d
    default_backend app
backend app
    balance roundrobin
%[3]s`, ms, port, servers.String())
	}
	return startProxy(t, conf, "haproxy", func(f string) []string { return []string{"-db", "-f", f} })
}

// squid runs squid as a forward proxy with the access rules of Debian's default
// configuration that matter here: CONNECT only to port 443 (so a browser's ws:// is
// refused), and no Upgrade forwarded (squid's default); nothing is cached. It returns
// "127.0.0.1:port".
func squid(t *testing.T) string {
	t.Helper()
	// Its logs go to a directory of its own: as root, squid runs as the proxy user,
	// which cannot write the test's private temp dirs or open the test's pipes.
	dir, err := os.MkdirTemp("", "lifeline-squid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	user := ""
	if os.Geteuid() == 0 {
		user = "cache_effective_user proxy"
		if u, err := osuser.Lookup("proxy"); err == nil {
			var uid, gid int
			fmt.Sscan(u.Uid, &uid)
			fmt.Sscan(u.Gid, &gid)
			os.Chown(dir, uid, gid)
		}
	}
	var name string // squid's service name: it names its shared memory segments
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "cache.log"))
			t.Logf("squid cache.log:\n%s", log)
		}
		// A squid that had to be killed leaves its segments behind.
		shm, _ := filepath.Glob("/dev/shm/" + name + "-*")
		for _, f := range shm {
			os.Remove(f)
		}
	})
	conf := func(port int) string {
		name = fmt.Sprintf("lifelinelab%d", port) // alphanumeric only
		return fmt.Sprintf(`# written by the Lifeline lab
http_port 127.0.0.1:%[1]d
acl SSL_ports port 443
acl CONNECT method CONNECT
http_access deny CONNECT !SSL_ports
http_access allow localhost
http_access deny all
cache deny all
access_log stdio:%[2]s/access.log
cache_log %[2]s/cache.log
pid_filename none
shutdown_lifetime 0 seconds
%[3]s
`, port, dir, user)
	}
	return startProxy(t, conf, "squid", func(f string) []string { return []string{"-N", "-n", name, "-f", f} })
}

// driver is browser/driver.mjs for one engine: one browser for the whole run.
type driver struct {
	engine string
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *syncBuffer // its stderr
	done   chan struct{}

	mu      sync.Mutex
	nextID  int
	waiting map[int]*driverCall
}

// driverCall is a request waiting for its reply; events (replies with an event and
// no result) come before it.
type driverCall struct {
	reply   chan driverReply
	onEvent func(event string)
}

type driverReply struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
	Event  string          `json:"event"` // "open": the exchange's page opened its session
}

func startDriver(engine, spki string) (*driver, error) {
	d := &driver{engine: engine, cmd: exec.Command("node", "driver.mjs"), out: &syncBuffer{}, done: make(chan struct{}), waiting: map[int]*driverCall{}}
	d.cmd.Dir = "browser"
	d.cmd.Env = append(os.Environ(), "LAB_ENGINE="+engine, "LAB_SPKI="+spki)
	d.cmd.Stderr = d.out
	var err error
	if d.in, err = d.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var r driverReply
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				fmt.Fprintf(d.out, "lab: bad driver line %q\n", sc.Text())
				continue
			}
			d.mu.Lock()
			c := d.waiting[r.ID]
			if r.Event == "" {
				delete(d.waiting, r.ID)
			}
			d.mu.Unlock()
			switch {
			case c == nil:
			case r.Event != "":
				if c.onEvent != nil {
					c.onEvent(r.Event)
				}
			default:
				c.reply <- r
			}
		}
		d.cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

// call sends one request and decodes its result into v.
func (d *driver) call(ctx context.Context, req map[string]any, v any) error {
	return d.callEvents(ctx, req, v, nil)
}

// callEvents is call, with onEvent called (on the driver's reading goroutine) for
// each event the request reports before its result.
func (d *driver) callEvents(ctx context.Context, req map[string]any, v any, onEvent func(event string)) error {
	ch := make(chan driverReply, 1)
	d.mu.Lock()
	d.nextID++
	id := d.nextID
	d.waiting[id] = &driverCall{reply: ch, onEvent: onEvent}
	d.mu.Unlock()
	req["id"] = id
	b, _ := json.Marshal(req)
	if _, err := d.in.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s driver: %v\n%s", d.engine, err, d.out.String())
	}
	select {
	case r := <-ch:
		if r.Error != "" {
			return fmt.Errorf("%s driver: %s", d.engine, r.Error)
		}
		return json.Unmarshal(r.Result, v)
	case <-d.done:
		return fmt.Errorf("%s driver exited:\n%s", d.engine, d.out.String())
	case <-ctx.Done():
		d.mu.Lock()
		delete(d.waiting, id)
		d.mu.Unlock()
		return fmt.Errorf("%s driver: %s: %w", d.engine, req["op"], ctx.Err())
	}
}

// close ends the driver: it closes its browser and everything it started when its
// input ends, or on SIGTERM (which does not wait for requests still running); only
// a driver deaf to both is killed, and may then leave its browser behind.
func (d *driver) close() {
	d.in.Close()
	for _, step := range []func(){func() {}, func() { d.cmd.Process.Signal(syscall.SIGTERM) }, func() { d.cmd.Process.Kill() }} {
		step()
		select {
		case <-d.done:
			return
		case <-time.After(30 * time.Second):
			fmt.Fprintf(os.Stderr, "lab: the %s driver did not exit\n", d.engine)
		}
	}
	<-d.done
}
