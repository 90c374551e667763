//go:build integration

package integration

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// labTabs and labTabRounds: TestLabTabs opens this many tabs, and each then makes
// this many round trips.
const labTabs, labTabRounds = 8, 20

// TestLabTabs: many tabs starve each other (issue 10, point 8). Eight tabs of the echo
// example in one Chromium context, so that they share its six HTTP/1.1 connections per
// host, open at once behind nginx-buffering (the lab scenario whose nginx buffers
// responses and forwards no Upgrade: only long-polling works), each with the client's
// default transports; then every tab makes 20 round trips, one message at a time, all
// tabs at once (browser/tabs.mjs). Every tab must open on poll and keep its session
// (no reset), and every message must come back once.
//
// The bounds on time are the issue's requirements ("eight tabs on a poll-only path
// must open within about a second and keep round trips under 2 s"), asserted with a
// margin on the open only: each tab opens within 3 s, and its longest round trip is
// under 2 s. (Before the fix the tabs took about 10 s to open and round trips 15 s.)
func TestLabTabs(t *testing.T) {
	e := lab(t)
	app := startApp(t, e.echoBin)
	base := "http://" + e.nginx(t, app, "", "", "proxy_buffering on;\n            proxy_ignore_headers X-Accel-Buffering;") + "/"
	var tabs []struct {
		OpenMs, LoadOpenMs float64
		Transport, Final   string
		RTTms              []float64 `json:"rttMs"`
		Lost, Dups, Wrong  int
		Resets, Reconnects int
		Closed             any
	}
	runScript(t, 3*time.Minute, &tabs, "tabs.mjs", base, strconv.Itoa(labTabs), strconv.Itoa(labTabRounds))
	if len(tabs) != labTabs {
		t.Fatalf("%d tabs reported, want %d", len(tabs), labTabs)
	}
	var maxOpen, maxRTT float64
	for i, tb := range tabs {
		longest := 0.0
		if len(tb.RTTms) > 0 {
			longest = slices.Max(tb.RTTms)
		}
		maxOpen, maxRTT = max(maxOpen, tb.OpenMs), max(maxRTT, longest)
		t.Logf("tab %d: open %.0f ms (%d ms after its navigation began) on %s, ended on %s; %d round trips, longest %.0f ms; %d resets, %d reconnections",
			i, tb.OpenMs, int(tb.LoadOpenMs), tb.Transport, tb.Final, len(tb.RTTms), longest, tb.Resets, tb.Reconnects)
		if tb.Transport != "poll" {
			t.Errorf("tab %d opened on %q, want poll (the only transport this nginx lets through)", i, tb.Transport)
		}
		if tb.OpenMs > 3000 {
			t.Errorf("tab %d took %.0f ms to open, want about a second (3 s at most)", i, tb.OpenMs)
		}
		if longest >= 2000 {
			t.Errorf("tab %d: a round trip took %.0f ms, want under 2 s", i, longest)
		}
		if tb.Resets > 0 || tb.Closed != nil {
			t.Errorf("tab %d: %d resets, closed %v; want none", i, tb.Resets, tb.Closed)
		}
		if len(tb.RTTms) != labTabRounds || tb.Lost > 0 || tb.Dups > 0 || tb.Wrong > 0 {
			t.Errorf("tab %d: %d of %d round trips, %d lost, %d duplicated, %d not its own", i, len(tb.RTTms), labTabRounds, tb.Lost, tb.Dups, tb.Wrong)
		}
	}
	t.Logf("%d tabs: slowest open %.0f ms, longest round trip %.0f ms", labTabs, maxOpen, maxRTT)
}
