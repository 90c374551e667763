//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// The report: with LIFELINE_COMPAT set to a file name (make compat sets it to
// docs/compatibility.md), a run of the lab that passes writes its rows there.

type reportRow struct {
	scenario  scenario
	client    string // chromium or go
	forced    string
	out       outcome
	ok        bool
	together  bool
	proxyCuts int64
}

var (
	rowsMu sync.Mutex
	rows   []reportRow
	chats  []chatLine // one per chat test
)

type chatLine struct{ engine, line string }

func addRow(r reportRow) {
	rowsMu.Lock()
	rows = append(rows, r)
	rowsMu.Unlock()
}

func addChat(engine, line string) {
	rowsMu.Lock()
	chats = append(chats, chatLine{engine, line})
	rowsMu.Unlock()
}

// writeReport writes the report if asked to and every test passed; code is the
// run's exit code so far, and the one returned.
func writeReport(code int) int {
	file := os.Getenv("LIFELINE_COMPAT")
	if file == "" {
		return code
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "lab: a test failed: %s not written\n", file)
		return code
	}
	rowsMu.Lock()
	defer rowsMu.Unlock()
	if len(rows) == 0 || env == nil {
		fmt.Fprintf(os.Stderr, "lab: no scenario ran (-run?): %s not written\n", file)
		return 1
	}
	if err := os.WriteFile(file, report(), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "lab: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "lab: wrote %s\n", file)
	return code
}

func report() []byte {
	var b bytes.Buffer
	v := env.versions
	fmt.Fprintf(&b, `# Compatibility

Written by `+"`make compat`"+` on %s from a passing run of the integration lab
(`+"`integration/lab_*_test.go`"+`, also part of `+"`make test`"+`). Do not edit by hand.

Chromium %s (headless, driven by playwright-core), nginx %s, haproxy %s,
squid %s, Go %s, Node %s, Debian bookworm, 2 cores.

In every scenario the echo example (`+"`examples/echo`"+`) runs behind the network
described, and each client opens a session through it, then sends 1,000 messages
(alternately text and binary, 1 to 310 bytes) and checks the 1,000 echoes: each
exactly once, in order, intact. Then it sends 50 more, one at a time, each 0 to
20 ms after the last echo, and times each to its echo: the *round trip* a user of
the app waits for on that network (cuts included, in the random-cuts rows). A row
is written only when all of that held, with no session reset. **Chromium** is the served `+"`lifeline.min.js`"+` in a fresh browser
context, loaded from the echo page through the same proxy; **Go** is the `+"`client`"+`
package. *Time to open* runs from `+"`new Lifeline`"+` (or `+"`client.Dial`"+`) to open;
rows marked ‡ ran at the same time as the scenario's other rows, so their
times are less precise. *Drops survived* counts the connection losses the client
lived through (Chromium: `+"`reconnecting`"+` events; Go: `+"`Stats().Drops`"+`; neither
counts a stream's planned recycle or the move up to WebSocket). Poll rows show
none under random cuts: a poll is a short request, so the cuts land on idle
keep-alive connections between polls, and the next poll simply opens another.

`, time.Now().UTC().Format("2006-01-02"), v["chromium"], v["nginx"], v["haproxy"], v["squid"], v["go"], v["node"])

	b.WriteString("| scenario | client | transport reached | time to open | messages checked | round trip: median, max | drops survived |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	last := ""
	for _, r := range rows {
		name := ""
		if r.scenario.name != last {
			name, last = fmt.Sprintf("%d. %s", scenarioNumber(r.scenario.name), r.scenario.name), r.scenario.name
		}
		cl := engineNames[r.client]
		reached := strings.Join(r.out.Transports, " → ")
		if r.forced != "" {
			reached += " (forced)"
		}
		mark := ""
		if r.together {
			mark = " ‡"
		}
		med, max := r.out.rtt()
		fmt.Fprintf(&b, "| %s | %s | %s | %.1f ms%s | %s + %d each way | %.1f ms, %.1f ms | %d |\n",
			name, cl, reached, r.out.OpenMs, mark, thousands(r.scenario.x.n), len(r.out.RTTms), med, max, r.out.Reconnects)
	}
	b.WriteString("\n## Scenarios\n\n")
	for i, sc := range labScenarios() {
		fmt.Fprintf(&b, "%d. **%s**: %s.", i+1, sc.name, sc.desc)
		for _, r := range rows {
			if r.scenario.name == sc.name && r.proxyCuts > 0 {
				fmt.Fprintf(&b, " The fault proxy cut %d connections in this run.", r.proxyCuts)
				break
			}
		}
		b.WriteString("\n")
	}
	if len(chats) > 0 {
		b.WriteString("\n## Chat\n\nThe chat example (`examples/chat`), two Chromium browser contexts in one room, typing into the page at the same time:\n\n")
		for _, c := range chats {
			fmt.Fprintf(&b, "- %s\n", c.line)
		}
	}
	b.WriteString(`
## Notes

- A browser allows 6 HTTP/1.1 connections per host. A session on stream holds one
  (plus short POSTs), one on poll holds one most of the time. Many tabs of one app
  on a fallback, through an HTTP/1.1 proxy, can exhaust them, as with any
  SSE or long-polling library; over HTTP/2 (the TLS scenario) they share one
  connection.
- A buffering proxy delays a stream's hello, so the client falls back to poll at
  300 ms; send ` + "`X-Accel-Buffering: no`" + ` (Lifeline does) or turn buffering off for the
  Lifeline mount to keep streams.
- An idle timeout shorter than the heartbeat (15 s by default) drops idle
  connections; the session resumes without loss, but set ` + "`Options.Heartbeat`" + `
  below the proxy's timeout to avoid the drops.
`)
	return b.Bytes()
}

func scenarioNumber(name string) int {
	for i, sc := range labScenarios() {
		if sc.name == name {
			return i + 1
		}
	}
	return 0
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	if len(s) > 3 {
		s = s[:len(s)-3] + "," + s[len(s)-3:]
	}
	return s
}
