//go:build mage

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"
)

// Test groups the test suites.
type Test mg.Namespace

// All runs every test: the Go tests, the vulnerability check, the checks on the built packages, the release checks and rehearsal, and the VM lifecycle test.
func (Test) All(ctx context.Context) {
	// They run in this order; a failure stops the rest. Each one's time is
	// printed at the end, of those that ran, so that a run shows where the
	// budget went.
	suites := []struct {
		name   string
		target any
	}{
		{"test:go", Test.Go}, {"test:vuln", Test.Vuln}, {"pkg:check", Pkg.Check},
		{"release:check", Release.Check}, {"release:rehearse", Release.Rehearse}, {"vm:all", VM.All},
	}
	var took []string
	start := time.Now()
	defer func() {
		fmt.Println()
		for _, t := range took {
			fmt.Println(t)
		}
		fmt.Printf("%-17s %5.0f s\n", "test:all", time.Since(start).Seconds())
	}()
	for _, s := range suites {
		t0 := time.Now()
		// Through mg, so that what the suites share (the packages) is built once.
		mg.SerialCtxDeps(ctx, s.target)
		took = append(took, fmt.Sprintf("%-17s %5.0f s", s.name, time.Since(t0).Seconds()))
	}
}

// Go runs the Go tests of the whole module (go test ./...) and cross-compiles and vets for macOS.
func (Test) Go(ctx context.Context) error {
	// The repository's tests run apt-ftparchive, createrepo_c and gpg; the
	// VM harness's (scripts/vm) shellcheck, and mkfs.vfat and mtools for
	// its cloud seed; the monitoring kit's, promtool (Debian's prometheus
	// package).
	if err := installTools(ctx, append(repoTools(), tool{"shellcheck", "shellcheck"}, tool{"mkfs.vfat", "dosfstools"},
		tool{"mcopy", "mtools"}, tool{"promtool", "prometheus"})); err != nil {
		return err
	}
	if err := staticcheck(); err != nil {
		return err
	}
	if err := checkDarwin(ctx); err != nil {
		return err
	}
	return sh.RunV("go", "test", "./...")
}

// Bench prints the binary's figures: start to READY=1, runner kill -9 to registered again, idle RSS of the three processes.
//
// They are Go benchmarks of the real binary (cmd/stigmer/bench_test.go);
// nothing asserts on them. Goals: ready within 300 ms, a runner back within
// 1 s, under 64 MB for the tree.
func (Test) Bench(ctx context.Context) error {
	return sh.RunV("go", "test", "-run", "^$", "-bench", ".", "-benchtime", "5x", "./cmd/stigmer")
}
