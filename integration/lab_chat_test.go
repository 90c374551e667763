//go:build integration

package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestLabChat: the chat example in two tabs of one engine on two different transports,
// in one room, both typing at once: each page shows the other as a member and every
// message of both, each sender's in the order typed, none twice. The engines run at
// the same time (TestLabChat/<engine>/<transport>-<transport>).
func TestLabChat(t *testing.T) {
	e := lab(t)
	for _, eng := range engines {
		t.Run(eng, func(t *testing.T) {
			t.Parallel()
			labChat(t, e, eng)
		})
	}
}

func labChat(t *testing.T, e *labEnv, eng string) {
	for _, pair := range [][2]string{{"websocket", "poll"}, {"stream", "websocket"}} {
		t.Run(pair[0]+"-"+pair[1], func(t *testing.T) {
			base := "http://" + startApp(t, e.chatBin) + "/"
			const n = 25
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var res struct {
				Joined []struct {
					Status, Room, Me string
					Members          []string
				}
				Logs  [][][2]string
				Final []string
			}
			err := e.drivers[eng].call(ctx, map[string]any{"op": "chat", "base": base, "room": "lab", "n": n,
				"a": map[string]string{"name": "ann", "transport": pair[0]},
				"b": map[string]string{"name": "bob", "transport": pair[1]}}, &res)
			if err != nil {
				t.Fatal(err)
			}
			names := []string{"ann", "bob"}
			for i, j := range res.Joined {
				if j.Status != pair[i] || j.Room != "lab" || j.Me != names[i] || !slices.Contains(j.Members, "ann") || !slices.Contains(j.Members, "bob") {
					t.Errorf("page %d joined as %+v, want %s on %s with both members", i, j, names[i], pair[i])
				}
			}
			for i, log := range res.Logs {
				next := map[string]int{}
				for _, m := range log {
					want := fmt.Sprintf("%s says %d", m[0], next[m[0]])
					if m[1] != want {
						t.Errorf("page %d (%s): got %q from %s, want %q", i, names[i], m[1], m[0], want)
						break
					}
					next[m[0]]++
				}
				if next["ann"] != n || next["bob"] != n {
					t.Errorf("page %d (%s) shows %d of ann's and %d of bob's %d messages", i, names[i], next["ann"], next["bob"], n)
				}
			}
			if !slices.Equal(res.Final, pair[:]) {
				t.Errorf("transports at the end %v, want %v", res.Final, pair)
			}
			if !t.Failed() {
				addChat(eng, fmt.Sprintf("%[1]s on %[2]s and %[1]s on %[3]s: both see each other as members, and each shows all %[4]d messages (%[5]d typed in each page), each sender's in order, none twice.",
					engineNames[eng], pair[0], pair[1], 2*n, n))
			}
		})
	}
}
