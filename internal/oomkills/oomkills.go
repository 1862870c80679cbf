// Package oomkills reads how many processes the kernel's OOM killer has killed in this process's own cgroup, on cgroup v2 and v1.
package oomkills

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Root is where the cgroup file systems are mounted.
const Root = "/sys/fs/cgroup"

// Count returns the OOM kills in the cgroup this process is in (for a
// service: the unit's, shared by all its processes), and false when the
// kernel does not tell (no cgroup, no memory controller, a kernel before
// 4.13). systemd's result does not say "oom-kill" for a service with
// OOMPolicy=continue, so this is how a SIGKILL is known to be the OOM
// killer's.
func Count() (int64, bool) { return countIn(Root, "/proc/self/cgroup") }

func countIn(root, selfCgroup string) (int64, bool) {
	f, err := os.Open(selfCgroup)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "0::/system.slice/x.service" (v2) or "4:memory:/system.slice/x.service" (v1).
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			if n, ok := field(filepath.Join(root, parts[2], "memory.events"), "oom_kill"); ok {
				return n, true
			}
		case hasController(parts[1], "memory"):
			if n, ok := field(filepath.Join(root, "memory", parts[2], "memory.oom_control"), "oom_kill"); ok {
				return n, true
			}
		}
	}
	return 0, false
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// field reads "name N" from a flat-keyed cgroup file.
func field(path, name string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == name {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
