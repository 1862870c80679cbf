//go:build mage

package main

import (
	"context"

	"github.com/magefile/mage/sh"
)

// Bench prints the binary's figures: start to READY=1, runner kill -9 to registered again, idle RSS of the three processes.
//
// They are Go benchmarks of the real binary (cmd/stigmer/bench_test.go);
// nothing asserts on them. Goals: ready within 300 ms, a runner back within
// 1 s, under 64 MB for the tree.
func Bench(ctx context.Context) error {
	return sh.RunV("go", "test", "-run", "^$", "-bench", ".", "-benchtime", "5x", "./cmd/stigmer")
}
