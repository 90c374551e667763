package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/nats-io/nats.go"
)

// The nodes a Cluster knows: each node announces itself on Prefix.hello when it
// joins, and every node that hears it answers with its own name, so that a node knows
// every node that joined before or after it. A node that is gone is forgotten the
// first time it does not answer (no responders).

// hello announces this node and asks the others to answer (New calls it).
func (c *Cluster) hello() error {
	return c.nc.PublishRequest(c.o.Prefix+".hello", c.base+"hello", appendString(appendStart(nil, kindHello, 0), c.o.Node))
}

// receiveHello notes another node: its announcement (answered) or its answer.
func (c *Cluster) receiveHello(m *nats.Msg) {
	rd := reader{b: m.Data}
	kind, _ := rd.start()
	node := rd.string()
	if rd.err != nil || kind != kindHello || validName(node) != nil || node == c.o.Node {
		return
	}
	c.mu.Lock()
	c.known[node] = struct{}{}
	c.mu.Unlock()
	if m.Reply != "" {
		c.nc.Publish(m.Reply, appendString(appendStart(nil, kindHello, 0), c.o.Node))
	}
}

// answerMembers answers another node's Members with this node's members of a group.
func (c *Cluster) answerMembers(m *nats.Msg, group string) {
	if m.Reply == "" {
		return
	}
	var ids []string
	if c.started.Load() && c.members != nil {
		ids = c.members(group)
	}
	b := appendUvarint(appendStart(nil, kindMembers, 0), len(ids))
	for _, id := range ids {
		b = appendString(b, id)
	}
	if int64(len(b)) > c.nc.MaxPayload() {
		b = appendString(appendStart(nil, kindMembers, 1), "too many members for one NATS message")
	}
	m.Respond(b)
}

// ErrIncomplete is returned by Members when some node did not answer in time: the
// members it returns are those of the nodes that did.
var ErrIncomplete = errors.New("lifeline/cluster: some nodes did not answer")

// Members returns the ids of the sessions in the group ("" for every confirmed
// session) on every node of the cluster, sorted. It asks every node it knows at once
// and waits at most ProbeTimeout (or ctx) for each; a node that is gone (no
// responders) is forgotten, one that does not answer in time makes the error wrap
// ErrIncomplete.
func (c *Cluster) Members(ctx context.Context, group string) ([]string, error) {
	var ids []string
	if c.started.Load() && c.members != nil {
		ids = c.members(group)
	}
	c.mu.Lock()
	nodes := make([]string, 0, len(c.known))
	for n := range c.known {
		nodes = append(nodes, n)
	}
	c.mu.Unlock()
	ask := appendString(appendStart(nil, kindMembers, 0), group)
	var mu sync.Mutex
	var late []string
	var wg sync.WaitGroup
	for _, node := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, c.o.ProbeTimeout)
			defer cancel()
			m, err := c.nc.RequestWithContext(ctx, c.o.Prefix+"."+node+".ctl", ask)
			var got []string
			if err == nil {
				rd := reader{b: m.Data}
				kind, flag := rd.start()
				if kind != kindMembers || flag != 0 {
					err = fmt.Errorf("%s: %s", node, rd.string())
				}
				for n := rd.uvarint(); err == nil && rd.err == nil && n > 0; n-- {
					got = append(got, rd.string())
				}
				if err == nil && rd.err != nil {
					err = rd.err
				}
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, nats.ErrNoResponders):
				c.mu.Lock()
				delete(c.known, node) // gone
				c.mu.Unlock()
			case err != nil:
				late = append(late, node)
			default:
				ids = append(ids, got...)
			}
		}()
	}
	wg.Wait()
	sort.Strings(ids)
	ids = slices.Compact(ids)
	if len(late) > 0 {
		sort.Strings(late)
		return ids, fmt.Errorf("%w: %v", ErrIncomplete, late)
	}
	return ids, nil
}
