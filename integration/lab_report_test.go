//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// The report: with LIFELINE_COMPAT set to a file name (make compat sets it to
// docs/compatibility.md), a run of the lab that passes writes its rows there.

type reportRow struct {
	scenario  scenario
	client    string // an engine or go
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

// engineLabels names each engine with its version and how the lab drives it.
func engineLabels(v map[string]string) map[string]string {
	return map[string]string{
		"chromium": "Chromium " + v["chromium"],
		"firefox":  "Firefox ESR " + v["firefox"],
		"webkit":   v["webkit"], // "WebKitGTK 2.50.6"
	}
}

// engineDifferences are what the lab found to differ between the engines, each with
// what the client or the lab does about it (the report lists them).
var engineDifferences = []string{
	"**A stream cut by the network** (random-cuts): Chromium and Firefox fail the fetch body " +
		"(`TypeError: network error`, `Error in input stream`); WebKitGTK (libsoup) ends it as if it " +
		"were complete (" + "`done`" + " after the bytes that came). The protocol ends a planned stream recycle " +
		"the same way, with no frame (docs/protocol.md §5), so in WebKit the client takes the cut for a " +
		"recycle: it reopens the stream at once and fires no `reconnecting`. Nothing is lost (the resume " +
		"resends, and the row checks every message), but the WebKit stream row shows 0 drops survived: " +
		"the lab holds it to the number of stream requests instead (†). The client cannot tell the two " +
		"apart from the body alone; a recycle marked by a frame of its own would let it (a protocol change).",
	"**`ws://` through a forward proxy** (squid-forward-proxy): Chromium and Firefox ask the proxy for a " +
		"`CONNECT` tunnel (refused: 403, port not 443); WebKitGTK sends the handshake to the proxy as " +
		"`GET ws://…` (squid: 501). Either way the WebSocket fails and the session opens on the stream.",
	"**Timers**: Firefox and WebKit give `performance.now()` in whole milliseconds here (Chromium: " +
		"0.1 ms), so their times to open and round trips are whole milliseconds.",
	"**The lab's certificate** (nginx-tls): Chromium accepts the lab's certificate and no other " +
		"(`--ignore-certificate-errors-spki-list`); WebDriver has no such option, so Firefox and WebKit " +
		"accept any (`acceptInsecureCerts`). Every server of the lab is on 127.0.0.1.",
}

func report() []byte {
	var b bytes.Buffer
	v := env.versions
	el := engineLabels(v)
	fmt.Fprintf(&b, `# Compatibility

Written by `+"`make compat`"+` on %s from a passing run of the integration lab
(`+"`integration/lab_*_test.go`"+`, also part of `+"`make test`"+`). Do not edit by hand.

Browser engines, all headless and from Debian's packages: **%s** (driven by
playwright-core), **%s** (puppeteer-core over WebDriver BiDi), **%s**
(its MiniBrowser on Xvfb, through WebKitWebDriver and selenium-webdriver). nginx %s,
haproxy %s, squid %s, Go %s, Node %s, Debian bookworm, 2 cores.

In every scenario the echo example (`+"`examples/echo`"+`) runs behind the network
described, and each client opens a session through it, then sends 1,000 messages
(alternately text and binary, 1 to 310 bytes) and checks the 1,000 echoes: each
exactly once, in order, intact. Then it sends 50 more, one at a time, each 0 to
20 ms after the last echo, and times each to its echo: the *round trip* a user of
the app waits for on that network (cuts included, in the random-cuts rows). A row
is written only when all of that held, with no session reset. Each browser runs the
served `+"`lifeline.min.js`"+` in a fresh browser context (WebKit: a fresh browser session),
loaded from the echo page through the same proxy; **Go** is the `+"`client`"+` package.
Every engine runs every scenario and every forced transport.

`, time.Now().UTC().Format("2006-01-02"), el["chromium"], el["firefox"], el["webkit"], v["nginx"], v["haproxy"], v["squid"], v["go"], v["node"])

	// The summary: a column per engine, the transports each reached.
	order := map[string]int{}
	for i, c := range labClients {
		order[c] = i
	}
	slices.SortStableFunc(rows, func(a, b reportRow) int {
		if d := scenarioNumber(a.scenario.name) - scenarioNumber(b.scenario.name); d != 0 {
			return d
		}
		if d := order[a.client] - order[b.client]; d != 0 {
			return d
		}
		return slices.Index(a.scenario.forced, a.forced) - slices.Index(b.scenario.forced, b.forced)
	})
	b.WriteString("## Summary\n\nThe transports each client's session reached when negotiated (*forced*: the transports also forced, one run each, all passing).\n\n")
	b.WriteString("| scenario |")
	for _, c := range labClients {
		fmt.Fprintf(&b, " %s |", cmp(el[c], "Go client"))
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(labClients)) + "\n")
	for i, sc := range labScenarios() {
		fmt.Fprintf(&b, "| %d. %s |", i+1, sc.name)
		for _, c := range labClients {
			var cell, forced []string
			for _, r := range rows {
				if r.scenario.name != sc.name || r.client != c {
					continue
				}
				if r.forced == "" {
					cell = append(cell, strings.Join(r.out.Transports, " → "))
				} else {
					forced = append(forced, r.forced)
				}
			}
			if len(forced) > 0 {
				cell = append(cell, "forced: "+strings.Join(forced, ", "))
			}
			fmt.Fprintf(&b, " %s |", cmp(strings.Join(cell, "; "), "not run"))
		}
		b.WriteString("\n")
	}

	b.WriteString(`
## Every run

*Time to open* runs from ` + "`new Lifeline`" + ` (or ` + "`client.Dial`" + `) to open;
rows marked ‡ ran at the same time as the scenario's other rows (every engine's), so
their times are less precise. *Drops survived* counts the connection losses the client
lived through (browsers: ` + "`reconnecting`" + ` events; Go: ` + "`Stats().Drops`" + `; neither
counts a stream's planned recycle or the move up to WebSocket). Poll rows show
few or none under random cuts: a poll is a short request, so most cuts land on idle
keep-alive connections between polls, and the next poll simply opens another.
† WebKit cannot show a cut stream as a drop (see *Differences between the engines*):
its stream rows count the stream's requests instead, and must show more than the
recycles of the exchange explain.

`)
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
		drops := fmt.Sprint(r.out.Reconnects)
		if r.scenario.reconnects > 0 && r.out.Reconnects < r.scenario.reconnects && silentStreamCuts[r.client] != "" && r.out.Transport == "stream" {
			drops = fmt.Sprintf("%d † (%d stream requests)", r.out.Reconnects, r.out.Streams+1)
		}
		med, max := r.out.rtt()
		fmt.Fprintf(&b, "| %s | %s | %s | %.1f ms%s | %s + %d each way | %.1f ms, %.1f ms | %s |\n",
			name, cl, reached, r.out.OpenMs, mark, thousands(r.scenario.x.n), len(r.out.RTTms), med, max, drops)
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
		b.WriteString("\n## Chat\n\nThe chat example (`examples/chat`), two tabs of one engine (two browser contexts; WebKit: two browser sessions) in one room, typing into the page at the same time:\n\n")
		slices.SortStableFunc(chats, func(a, b chatLine) int { return order[a.engine] - order[b.engine] })
		for _, c := range chats {
			fmt.Fprintf(&b, "- %s\n", c.line)
		}
	}
	b.WriteString("\n## Differences between the engines\n\n")
	for _, d := range engineDifferences {
		fmt.Fprintf(&b, "- %s\n", d)
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
