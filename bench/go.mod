module github.com/lifelinehq/lifeline/bench

go 1.26.8

require (
	github.com/coder/websocket v1.8.15
	github.com/lifelinehq/lifeline v0.0.0
)

require (
	github.com/go-chi/chi/v5 v5.5.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
)

replace github.com/lifelinehq/lifeline => ../
