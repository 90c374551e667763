#!/bin/sh
# cluster-demo.sh (make cluster-demo): a NATS server, three chat nodes and haproxy
# with balance roundrobin and no stickiness, all on 127.0.0.1. Open
# http://127.0.0.1:8080/ in two browsers: every request may land on any node, and
# people on different nodes chat together. Ctrl-C stops everything it started, by PID.
# PORT (default 8080) is the front; the nodes take PORT+1..PORT+3, NATS PORT+22.
set -eu
PORT=${PORT:-8080}
NATS_PORT=$((PORT + 22))
GO=${GO:-go}
dir=$(mktemp -d)
pids=""
stop() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
"$GO" build -o "$dir/chat" ./examples/chat

"$NATS" -a 127.0.0.1 -p "$NATS_PORT" >"$dir/nats.log" 2>&1 &
pids="$pids $!"
sleep 0.5
for i in 1 2 3; do
	"$dir/chat" -addr "127.0.0.1:$((PORT + i))" -nats "nats://127.0.0.1:$NATS_PORT" -node "node$i" -origin "127.0.0.1:$PORT,localhost:$PORT" &
	pids="$pids $!"
done
cat >"$dir/haproxy.cfg" <<CFG
global
	maxconn 4096
defaults
	mode http
	timeout connect 5s
	timeout client 60s
	timeout server 60s
	timeout tunnel 1h
frontend front
	bind 127.0.0.1:$PORT
	default_backend chat
backend chat
	balance roundrobin
	# Health checks and redispatch take a stopped node out of the rotation within 2 s
	# (without them a third of the requests would wait for haproxy's retries to a dead
	# node, 3 s, before failing: docs/cluster.md).
	option redispatch
	server node1 127.0.0.1:$((PORT + 1)) check inter 1s fall 2 rise 1
	server node2 127.0.0.1:$((PORT + 2)) check inter 1s fall 2 rise 1
	server node3 127.0.0.1:$((PORT + 3)) check inter 1s fall 2 rise 1
CFG
"$HAPROXY" -f "$dir/haproxy.cfg" -db &
pids="$pids $!"
echo "cluster-demo: open http://127.0.0.1:$PORT/ (haproxy round-robin over node1..node3, NATS on $NATS_PORT); Ctrl-C stops"
wait
