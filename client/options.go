package client

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/lifelinehq/lifeline/internal/engine"
)

// Transport names, as Options.Transports and Conn.Transport spell them.
const (
	nameWebSocket = "websocket"
	nameStream    = "stream"
	namePoll      = "poll"
)

// Options configure Dial. A nil *Options and the zero value both work; every field
// documents its default. The numbers are those of docs/protocol.md §4.
type Options struct {
	// Transports lists the transports to use, best first: "websocket", "stream",
	// "poll". One entry forces that transport. Default {"websocket", "stream", "poll"}.
	Transports []string

	// HTTPClient makes the HTTP requests and the WebSocket handshake. Its Timeout, if
	// set, bounds each request, streams and held polls included, so leave it zero.
	// Default http.DefaultClient.
	HTTPClient *http.Client

	// Header holds extra headers sent with every request and WebSocket handshake (for
	// example Origin or Cookie). Default none.
	Header http.Header

	// Auth returns the credentials to present. It is called when a session is created
	// and before every resume; the credentials travel in the R frame ("auth") or the
	// Lifeline-Auth header, never in a URL. An error fails Dial, or the attempt when
	// resuming. Default: no credentials.
	Auth func(ctx context.Context) (string, error)

	// WebSocketHeadStart is how long the first transport runs alone before the second
	// one (stream, by default) starts, if nothing works by then. Default 150 ms.
	WebSocketHeadStart time.Duration
	// PollStart is when the third transport (poll, by default) starts, counted from the
	// start of the race, if nothing works by then. Default 300 ms.
	PollStart time.Duration
	// WebSocketDeadline bounds a WebSocket's handshake and hello, and a race's
	// attempts on every transport. Default 10 s.
	WebSocketDeadline time.Duration
	// ConnectTimeout bounds the wait for the hello when resuming on an HTTP transport
	// (a stream that a proxy buffers never delivers it). Default 3 s.
	ConnectTimeout time.Duration

	// OfflineAfter is how long the client tries to reach the server, with no
	// connection carrying the session, before it tells the application: Read returns
	// an *OfflineError once (after the messages already received), and Write returns
	// one at once, queuing nothing, until a connection carries the session again. The
	// client keeps trying meanwhile. Messages written before stay queued (at most
	// MaxQueuedBytes): they go once a connection resumes the session, or are counted
	// in ResetError.Unsent if the server lost it. Default 30 s; negative: never.
	OfflineAfter time.Duration

	// BackoffMin and BackoffMax bound the wait between failed reconnection attempts:
	// a random duration (full jitter) up to BackoffMin, doubling each attempt up to
	// BackoffMax. Defaults 250 ms and 10 s.
	BackoffMin, BackoffMax time.Duration

	// ReprobeMin and ReprobeMax bound the WebSocket re-probes made while the session
	// runs on an HTTP transport: the first after ReprobeMin, then at doubling intervals
	// up to ReprobeMax. Defaults 10 s and 5 min.
	ReprobeMin, ReprobeMax time.Duration

	// MaxMessageBytes bounds one message in either direction. Default 65536.
	MaxMessageBytes int

	// MaxQueuedBytes bounds the client's queue in each direction: messages written and
	// not yet acknowledged by the server (Write blocks while it is full), and messages
	// received and not yet read. Default 1 MiB.
	MaxQueuedBytes int

	// OnRequest answers the server's requests (docs/protocol.md §16), as
	// Conn.OnRequest does; set here, it answers from the session's first frame on.
	// Default none: requests are answered with an error, "no request handler".
	OnRequest func(ctx context.Context, req []byte) ([]byte, error)

	// Logger receives a line when the session resets or stops (Info) and when the
	// transport changes (Debug). Default slog.Default().
	Logger *slog.Logger
}

var defaultTransports = []string{nameWebSocket, nameStream, namePoll}

// withDefaults returns a copy of o with every default filled in, or an error for a
// transport list it cannot use.
func (o *Options) withDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	if len(c.Transports) == 0 {
		c.Transports = defaultTransports
	}
	c.Transports = slices.Clone(c.Transports)
	for i, name := range c.Transports {
		if !slices.Contains(defaultTransports, name) {
			return c, fmt.Errorf("lifeline: unknown transport %q", name)
		}
		if slices.Contains(c.Transports[:i], name) {
			return c, fmt.Errorf("lifeline: transport %q listed twice", name)
		}
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	c.Header = c.Header.Clone()
	engine.Default(&c.WebSocketHeadStart, 150*time.Millisecond)
	engine.Default(&c.PollStart, 300*time.Millisecond)
	engine.Default(&c.WebSocketDeadline, 10*time.Second)
	engine.Default(&c.ConnectTimeout, 3*time.Second)
	if c.OfflineAfter == 0 {
		c.OfflineAfter = 30 * time.Second
	}
	engine.Default(&c.BackoffMin, 250*time.Millisecond)
	engine.Default(&c.BackoffMax, 10*time.Second)
	engine.Default(&c.ReprobeMin, 10*time.Second)
	engine.Default(&c.ReprobeMax, 5*time.Minute)
	c.BackoffMax = max(c.BackoffMax, c.BackoffMin)
	c.ReprobeMax = max(c.ReprobeMax, c.ReprobeMin)
	c.PollStart = max(c.PollStart, c.WebSocketHeadStart)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// startAt is when the i-th transport of a race starts, if nothing works by then.
func (o *Options) startAt(i int) time.Duration {
	switch i {
	case 0:
		return 0
	case 1:
		return o.WebSocketHeadStart
	}
	return o.PollStart
}

// mount is the mount URL, kept in its HTTP form.
type mount struct {
	u *url.URL
}

// parseMount accepts a mount URL in http, https, ws or wss form.
func parseMount(raw string) (*mount, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("lifeline: mount URL: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("lifeline: mount URL %q: scheme must be http, https, ws or wss", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("lifeline: mount URL %q has no host", raw)
	}
	u.Fragment, u.RawFragment = "", ""
	return &mount{u: u}, nil
}

// endpoint returns the URL of an endpoint below the mount ("ws", "stream", "poll",
// "send"); the WebSocket one in ws or wss form.
func (m *mount) endpoint(name string) string {
	u := m.u.JoinPath(name)
	if name == "ws" {
		if u.Scheme == "https" {
			u.Scheme = "wss"
		} else {
			u.Scheme = "ws"
		}
	}
	return u.String()
}

// sessionConfig is the engine's configuration of the client's side of the session:
// it has no resume window or handshake timeout; the client keeps its side until Close.
func (o *Options) sessionConfig() engine.Config {
	return engine.Config{MaxMessage: o.MaxMessageBytes, MaxQueued: o.MaxQueuedBytes,
		AckDelay: AckDelay, AckJitter: AckDelay}
}

// AckDelay is how long the client waits at least, after the first message it has not
// yet acknowledged, before it acknowledges (docs/protocol.md §5): a random time
// between AckDelay and twice that, so that the clients of one broadcast do not all ack
// it at the same moment. 32 messages, a quarter of the server's queue limit or a P
// from the server make the ack due sooner. It is longer than the server's 1 s: acking
// later loses nothing the client received (a resume names what the client received,
// not what it acked), and a quiet client then pays no write (on stream, no request)
// for each message of a broadcast that comes about once a second.
const AckDelay = 5 * time.Second
