module github.com/lifelinehq/lifeline

go 1.26.8
