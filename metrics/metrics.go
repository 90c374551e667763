// Package metrics exports a Lifeline server's counters and events as Prometheus
// metrics, through the ecosystem's own library (github.com/prometheus/client_golang).
// It is a package of its own so that an application that does not want Prometheus
// does not build or link it: package server has no such dependency.
//
// The metrics, each name prefixed with Options.Namespace ("lifeline" by default):
//
//	lifeline_sessions{transport}                    gauge: sessions held, by the transport attached last ("none": no connection yet)
//	lifeline_sessions_created_total                 counter
//	lifeline_sessions_resumed_total                 counter: connections that resumed a session (a run of polls counts once)
//	lifeline_sessions_reset_total                   counter: requests for a session that is unknown or gone (the client resets)
//	lifeline_sessions_closed_total{code}            counter: sessions ended, by close code (1000: a clean end)
//	lifeline_transport_fallbacks_total              counter: sessions moved to a lower transport (websocket > stream > poll)
//	lifeline_transport_upgrades_total               counter: sessions moved to a higher transport
//	lifeline_messages_total{direction}              counter: messages in (from clients) and out (to clients)
//	lifeline_bytes_total{direction}                 counter: frame bytes in and out, without HTTP and WebSocket headers
//	lifeline_queued_bytes{direction}                gauge: payload bytes held in the sessions' queues
//	lifeline_broadcast_fanout                       histogram: sessions one Broadcast reached
//	lifeline_broadcast_duration_seconds             histogram: how long one Broadcast took
//
// Counters of closes and broadcasts start when the Collector is made. Broadcast
// metrics have no group label: groups are the application's, often one per room or
// user, and a label per group would grow without bound.
//
// Relay traffic between the nodes of a cluster is not counted: Lifeline does not relay
// yet. When it does, its metrics (lifeline_relay_messages_total{direction},
// lifeline_relay_bytes_total{direction}) belong in Collect, next to the messages.
package metrics

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
)

// Options configure New. A nil *Options and the zero value both work; every field
// documents its default.
type Options struct {
	// Namespace prefixes every metric name (namespace_name). Default "lifeline".
	Namespace string
	// ConstLabels are added to every metric, for example {"node": "a"} when several
	// servers share a registry. Default none.
	ConstLabels prometheus.Labels
	// DurationBuckets are the upper bounds, in seconds, of the broadcast duration
	// histogram, increasing. Default 10 µs to about 2.6 s, each 4 times the last.
	DurationBuckets []float64
	// FanoutBuckets are the upper bounds of the broadcast fan-out histogram,
	// increasing. Default 1 to about 1 million, each 4 times the last.
	FanoutBuckets []float64
}

// Collector is a prometheus.Collector of one Server's metrics: register it with a
// prometheus.Registerer. It is safe for concurrent use.
type Collector struct {
	srv    *server.Server
	remove func()

	sessions, created, resumed, reset, fallbacks, upgrades *prometheus.Desc
	messages, bytes, queued                                *prometheus.Desc

	closed   *prometheus.CounterVec
	fanout   prometheus.Histogram
	duration prometheus.Histogram

	mu    sync.Mutex
	codes map[closecode.Code]prometheus.Counter // closed's children, looked up once per code
}

// New returns a Collector of srv's metrics. It observes srv (Server.Observe) until
// Close. It fails on a nil srv or invalid options, naming what is wrong.
func New(srv *server.Server, opts *Options) (*Collector, error) {
	if srv == nil {
		return nil, errors.New("metrics: nil *server.Server")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = "lifeline"
	}
	if !model.LegacyValidation.IsValidMetricName(o.Namespace) {
		return nil, fmt.Errorf("metrics: namespace %q is not a valid metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)", o.Namespace)
	}
	for name := range o.ConstLabels {
		if !model.LegacyValidation.IsValidLabelName(name) || name == "transport" || name == "direction" || name == "code" {
			return nil, fmt.Errorf("metrics: const label %q is not a valid label name or is one of the labels the metrics use (transport, direction, code)", name)
		}
	}
	var err error
	if o.DurationBuckets, err = buckets("DurationBuckets", o.DurationBuckets, prometheus.ExponentialBuckets(10e-6, 4, 10)); err != nil {
		return nil, err
	}
	if o.FanoutBuckets, err = buckets("FanoutBuckets", o.FanoutBuckets, prometheus.ExponentialBuckets(1, 4, 11)); err != nil {
		return nil, err
	}

	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(o.Namespace, "", name), help, labels, o.ConstLabels)
	}
	c := &Collector{
		srv:       srv,
		sessions:  desc("sessions", "Sessions held, by the transport attached last (none: no connection yet).", "transport"),
		created:   desc("sessions_created_total", "Sessions created."),
		resumed:   desc("sessions_resumed_total", "Connections that resumed a session (a run of polls counts once)."),
		reset:     desc("sessions_reset_total", "Requests for a session that is unknown or gone, after which the client resets."),
		fallbacks: desc("transport_fallbacks_total", "Sessions moved to a lower transport (websocket > stream > poll)."),
		upgrades:  desc("transport_upgrades_total", "Sessions moved to a higher transport."),
		messages:  desc("messages_total", "Messages from clients (in) and to clients (out).", "direction"),
		bytes:     desc("bytes_total", "Frame bytes from clients (in) and to clients (out), without HTTP and WebSocket headers.", "direction"),
		queued:    desc("queued_bytes", "Payload bytes held in the sessions' queues: unacknowledged (out), unread (in).", "direction"),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: o.Namespace, Name: "sessions_closed_total", ConstLabels: o.ConstLabels,
			Help: "Sessions ended, by close code (1000: a clean end; docs/protocol.md §7).",
		}, []string{"code"}),
		fanout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: o.Namespace, Name: "broadcast_fanout", ConstLabels: o.ConstLabels, Buckets: o.FanoutBuckets,
			Help: "Sessions one Broadcast queued its message for.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: o.Namespace, Name: "broadcast_duration_seconds", ConstLabels: o.ConstLabels, Buckets: o.DurationBuckets,
			Help: "How long one Broadcast took.",
		}),
		codes: make(map[closecode.Code]prometheus.Counter),
	}
	c.remove = srv.Observe(server.Observer{Closed: c.onClosed, Broadcast: c.onBroadcast})
	return c, nil
}

// buckets checks a histogram's bucket bounds, or returns def for none.
func buckets(field string, b, def []float64) ([]float64, error) {
	if len(b) == 0 {
		return def, nil
	}
	for i := 1; i < len(b); i++ {
		if !(b[i] > b[i-1]) {
			return nil, fmt.Errorf("metrics: %s must increase: %v", field, b)
		}
	}
	return slices.Clone(b), nil
}

func (c *Collector) onClosed(code closecode.Code, _ string) {
	c.mu.Lock()
	ctr := c.codes[code]
	if ctr == nil {
		ctr = c.closed.WithLabelValues(strconv.Itoa(int(code)))
		c.codes[code] = ctr
	}
	c.mu.Unlock()
	ctr.Inc()
}

func (c *Collector) onBroadcast(_ string, reached int, took time.Duration) {
	c.fanout.Observe(float64(reached))
	c.duration.Observe(took.Seconds())
}

// Close stops observing the server; Collect still reports what was counted. Safe to
// call more than once.
func (c *Collector) Close() { c.remove() }

// Describe sends the descriptions of every metric (prometheus.Collector).
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.sessions, c.created, c.resumed, c.reset, c.fallbacks, c.upgrades, c.messages, c.bytes, c.queued} {
		ch <- d
	}
	c.closed.Describe(ch)
	c.fanout.Describe(ch)
	c.duration.Describe(ch)
}

// Collect sends the current values (prometheus.Collector). It reads Server.Stats once.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.srv.Stats()
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(max(v, 0)), labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(c.sessions, st.WebSocket, "websocket")
	gauge(c.sessions, st.Stream, "stream")
	gauge(c.sessions, st.Poll, "poll")
	gauge(c.sessions, st.Sessions-st.WebSocket-st.Stream-st.Poll, "none")
	counter(c.created, st.Created)
	counter(c.resumed, st.Resumes)
	counter(c.reset, st.Resets)
	counter(c.fallbacks, st.Fallbacks)
	counter(c.upgrades, st.Upgrades)
	counter(c.messages, st.MessagesIn, "in")
	counter(c.messages, st.MessagesOut, "out")
	counter(c.bytes, st.BytesIn, "in")
	counter(c.bytes, st.BytesOut, "out")
	// Relay traffic (a cluster's nodes forwarding sessions' messages) goes here once
	// Lifeline relays: lifeline_relay_messages_total and lifeline_relay_bytes_total.
	gauge(c.queued, st.QueuedOut, "out")
	gauge(c.queued, st.QueuedIn, "in")
	c.closed.Collect(ch)
	c.fanout.Collect(ch)
	c.duration.Collect(ch)
}
