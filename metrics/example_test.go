package metrics_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lifelinehq/lifeline/metrics"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// Mount Lifeline and its metrics on one chi router: Prometheus scrapes /metrics.
func Example() {
	srv := server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		<-ctx.Done()
	}), nil)

	col, err := metrics.New(srv, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer col.Close()
	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer, with promhttp.Handler()
	reg.MustRegister(col)

	r := chi.NewRouter()
	r.Mount("/lifeline", srv)
	r.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Addr: "127.0.0.1:8080", Handler: r, ReadHeaderTimeout: 10 * time.Second}
	_ = hs // hs.ListenAndServe()
}

// Options: a label that tells the nodes sharing a registry apart, and histogram
// buckets of one's own.
func ExampleNew_options() {
	srv := server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {}), nil)
	col, err := metrics.New(srv, &metrics.Options{
		ConstLabels:     prometheus.Labels{"node": "eu-1"},
		DurationBuckets: prometheus.ExponentialBuckets(1e-5, 10, 6), // 10 µs to 1 s
	})
	if err != nil {
		log.Fatal(err)
	}
	defer col.Close()
	prometheus.MustRegister(col) // served by promhttp.Handler()
}
