// Command stigmer is the Stigmer server, its supervised runners and the
// operator CLI in one binary. Behaviour lives in internal/; this file only
// wires signals, build information and the exit code.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stigmer/stigmer/internal/buildinfo"
	"github.com/stigmer/stigmer/internal/cli"
)

// Stamped at link time by Mage and GoReleaser:
// -X main.version=1.2.3 -X main.commit=abc123 -X main.date=2026-01-02T03:04:05Z
var (
	version string
	commit  string
	date    string
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, buildinfo.New(version, commit, date), os.Args[1:])
	stop()
	os.Exit(code)
}
