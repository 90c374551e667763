package main

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetrics: /metrics serves the chat's Lifeline metrics, parsed by Prometheus' own
// parser: two people on two transports, the room's broadcasts counted.
func TestMetrics(t *testing.T) {
	_, url := start(t)
	ann := dial(t, url, "ann", "websocket")
	ann.join("kitchen")
	bob := dial(t, url, "bob", "poll")
	bob.join("kitchen")
	ann.expect(msg{Type: "presence", Room: "kitchen", Name: "bob", Text: "joined", Members: []string{"ann", "bob"}})
	bob.say("hi")
	ann.expect(msg{Type: "say", Room: "kitchen", Name: "bob", Text: "hi"})

	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("GET /metrics (%s): %v", res.Status, err)
	}
	gauge := func(name, tr string) float64 {
		for _, m := range fams[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "transport" && l.GetValue() == tr {
					return m.GetGauge().GetValue()
				}
			}
		}
		t.Fatalf("no %s{transport=%q}", name, tr)
		return 0
	}
	if ws, poll := gauge("lifeline_sessions", "websocket"), gauge("lifeline_sessions", "poll"); ws != 1 || poll != 1 {
		t.Errorf("sessions: websocket %v, poll %v; want 1 and 1", ws, poll)
	}
	if f := fams["lifeline_broadcast_fanout"]; f.GetType() != dto.MetricType_HISTOGRAM || f.GetMetric()[0].GetHistogram().GetSampleCount() == 0 {
		t.Errorf("broadcast fan-out %v, want a histogram of the room's broadcasts", f)
	}
	if fams["go_goroutines"] == nil {
		t.Error("no Go runtime metrics")
	}
}
