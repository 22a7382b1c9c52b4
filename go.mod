module github.com/sluice-ws/sluice

go 1.26.0

require (
	github.com/gobwas/httphead v0.1.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
