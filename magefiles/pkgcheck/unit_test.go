//go:build pkgcheck

package pkgcheck

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/icmd"
)

// directive is one Key=value line of the unit, with the comment lines
// right above it.
type directive struct {
	section, key, value, comment string
	line                         int
}

func unitDirectives(t *testing.T) []directive {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "packaging/stigmer.service"))
	assert.NilError(t, err)
	defer f.Close()
	var out []directive
	var section, comment string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "":
			comment = ""
		case strings.HasPrefix(l, "#"):
			comment += l + "\n"
		case strings.HasPrefix(l, "["):
			section, comment = strings.Trim(l, "[]"), ""
		default:
			k, v, ok := strings.Cut(l, "=")
			assert.Assert(t, ok, "line %d: %q is not Key=value", n, l)
			out = append(out, directive{section, k, v, comment, n})
			comment = ""
		}
	}
	assert.NilError(t, sc.Err())
	return out
}

// knownDirectives reads a vendored testdata/compat list: Section.Key lines.
func knownDirectives(t *testing.T, name string) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	for _, l := range strings.Split(readFile(t, filepath.Join("testdata/compat", name)), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") && !strings.HasSuffix(l, "# legacy-ignored") {
			known[l] = true
		}
	}
	return known
}

// TestUnitDirectivesCompat checks every directive against systemd 239 (RHEL
// 8): unknown there, its comment must say so and what happens instead
// (mention 239). Every directive must be known to 245 (Ubuntu 20.04), which
// also catches typos.
func TestUnitDirectivesCompat(t *testing.T) {
	v239 := knownDirectives(t, "systemd-239-rhel8.txt")
	v245 := knownDirectives(t, "systemd-245.txt")
	for _, d := range unitDirectives(t) {
		name := d.section + "." + d.key
		assert.Check(t, v245[name], "line %d: %s is unknown to systemd 245", d.line, name)
		if !v239[name] {
			assert.Check(t, strings.Contains(d.comment, "239"),
				"line %d: %s is unknown to systemd 239; comment why it is there and what 239 does without it", d.line, name)
		}
	}
}

// TestUnitContract checks the values the issue, the guide and the binary's
// runtime contract fix.
func TestUnitContract(t *testing.T) {
	got := map[string][]string{}
	order := map[string]int{}
	for _, d := range unitDirectives(t) {
		name := d.section + "." + d.key
		got[name] = append(got[name], d.value)
		if _, seen := order[name]; !seen {
			order[name] = d.line
		}
	}
	for _, c := range []struct{ name, want string }{
		{"Unit.Description", "Stigmer Server - AI Agent Workflow Platform"},
		{"Service.Type", "notify"},
		{"Service.ExecStart", "/usr/bin/stigmer internal-server"},
		{"Service.ExecStopPost", "-/usr/bin/stigmer internal-stopped"},
		{"Service.User", "stigmer"},
		{"Service.Group", "stigmer"},
		// on-failure restarts every failure result, timeout included; a
		// prevent list holding 0 stopped the restart of a timed-out start.
		{"Service.Restart", "on-failure"},
		{"Service.RestartSec", "10"},
		{"Service.RestartPreventExitStatus", "78"},
		{"Service.RestartForceExitStatus", "SIGHUP SIGINT SIGPIPE SIGTERM"},
		{"Service.EnvironmentFile", "-/etc/default/stigmer|-/etc/sysconfig/stigmer"},
		{"Service.Environment", "STIGMER_DATA_DIR=/var/lib/stigmer|STIGMER_LOG_DIR=/var/log/stigmer|STIGMER_RUNTIME_DIR=/run/stigmer"},
		{"Service.StateDirectory", "stigmer"},
		{"Service.StateDirectoryMode", "0750"},
		{"Service.LogsDirectory", "stigmer"},
		{"Service.LogsDirectoryMode", "0755"},
		{"Service.RuntimeDirectory", "stigmer"},
		{"Service.RuntimeDirectoryMode", "0755"},
		{"Service.OOMPolicy", "continue"},
		{"Service.KillMode", "mixed"},
		{"Service.ProtectSystem", "strict"},
		{"Service.ProtectHome", "yes"},
		{"Service.PrivateTmp", "yes"},
		{"Service.PrivateDevices", "yes"},
		{"Service.NoNewPrivileges", "yes"},
		{"Service.CapabilityBoundingSet", ""},
		{"Service.RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"},
		{"Service.SystemCallFilter", "@system-service|~@privileged @resources"},
		{"Service.PrivateMounts", "yes"},
		{"Service.PrivateUsers", "yes"},
		{"Service.UMask", "0077"},
		{"Service.MemoryDenyWriteExecute", "yes"},
		{"Install.WantedBy", "multi-user.target"},
	} {
		assert.Check(t, strings.Join(got[c.name], "|") == c.want, "%s=%q, want %q", c.name, got[c.name], c.want)
	}
	for _, name := range []string{"Service.WatchdogSec", "Service.TimeoutStopSec", "Unit.StartLimitIntervalSec"} {
		assert.Check(t, len(got[name]) == 1, "%s must be set once", name)
	}
	// EnvironmentFile= wins over Environment= in systemd anyway; keeping the
	// defaults first makes the file read that way too.
	assert.Check(t, order["Service.Environment"] < order["Service.EnvironmentFile"], "Environment= must come before EnvironmentFile=")
	// The watchdog must give the server longer than its 10 s runner drain to stop.
	stop, err := time.ParseDuration(got["Service.TimeoutStopSec"][0])
	assert.NilError(t, err)
	assert.Check(t, stop > 10*time.Second, "TimeoutStopSec=%s must exceed the server's 10 s runner drain", stop)
}

// TestUnitVerify runs systemd-analyze verify on the unit as installed: a root
// directory holding the host's unit tree (for the targets it names), the unit
// and the built binary at /usr/bin/stigmer; and on the nightly backup's
// example units as the README installs them, beside it. Any message fails
// the test.
func TestUnitVerify(t *testing.T) {
	needTool(t, "systemd-analyze")
	root := t.TempDir()
	units := filepath.Join(root, "lib/systemd/system")
	assert.NilError(t, os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	assert.NilError(t, os.MkdirAll(filepath.Dir(units), 0o755))
	run(t, "cp", "-r", "/lib/systemd/system", units)
	run(t, "cp", filepath.Join(repoRoot(t), "packaging/stigmer.service"), units)
	run(t, "cp", filepath.Join(repoRoot(t), "packaging/examples/stigmer-backup.service"), filepath.Join(repoRoot(t), "packaging/examples/stigmer-backup.timer"), units)
	run(t, "cp", filepath.Join(distDir(t, "STIGMER_DIST"), "stigmer"), filepath.Join(root, "usr/bin/stigmer"))
	// What the backup's units run besides stigmer, from this host.
	assert.NilError(t, os.MkdirAll(filepath.Join(root, "bin"), 0o755))
	run(t, "cp", "-L", "/bin/sh", filepath.Join(root, "bin/sh"))
	run(t, "cp", "-L", "/usr/bin/find", filepath.Join(root, "usr/bin/find"))
	// --man=no: man would look on this host, not in root;
	// TestDocumentationPagesShip checks the pages Documentation= names.
	res := icmd.RunCmd(icmd.Command("systemd-analyze", "verify", "--man=no", "--root="+root, "stigmer.service", "stigmer-backup.service", "stigmer-backup.timer"), icmd.WithTimeout(time.Minute))
	res.Assert(t, icmd.Expected{ExitCode: 0, Err: icmd.None, Out: icmd.None})
}

// TestDocumentationPagesShip: each man page the unit's Documentation= names
// (what `systemctl help stigmer` opens) is in every package, and the
// service's page renders as a page about the service.
func TestDocumentationPagesShip(t *testing.T) {
	unit := readFile(t, filepath.Join(repoRoot(t), "packaging/stigmer.service"))
	re := regexp.MustCompile(`man:([a-z0-9.-]+)\(([1-8])\)`)
	var pages []string
	for _, l := range strings.Split(unit, "\n") {
		if strings.HasPrefix(l, "Documentation=") {
			for _, m := range re.FindAllStringSubmatch(l, -1) {
				pages = append(pages, "/usr/share/man/man"+m[2]+"/"+m[1]+"."+m[2]+".gz")
			}
		}
	}
	assert.DeepEqual(t, pages, []string{"/usr/share/man/man8/stigmer.service.8.gz", "/usr/share/man/man1/stigmer.1.gz"})
	for _, p := range packages(t, distDir(t, "STIGMER_DIST")) {
		t.Run(p.String(), func(t *testing.T) {
			var files []string
			switch p.format {
			case "deb":
				for _, l := range lines(run(t, "dpkg-deb", "-c", p.path)) {
					f := strings.Fields(l)
					files = append(files, strings.TrimPrefix(f[len(f)-1], "."))
				}
			case "rpm":
				files = lines(run(t, "rpm", "-qlp", p.path))
			}
			for _, page := range pages {
				assert.Check(t, slices.Contains(files, page), "%s does not ship %s", p.path, page)
			}
			if p.format != "deb" {
				return
			}
			dir := t.TempDir()
			run(t, "dpkg-deb", "-x", p.path, dir)
			res := icmd.RunCmd(icmd.Command("man", "--warnings", "-l", filepath.Join(dir, pages[0])), icmd.WithEnv("MANWIDTH=80", "PATH="+os.Getenv("PATH")))
			res.Assert(t, icmd.Expected{Out: "stigmer.service - the Stigmer server, run and restarted by systemd", Err: icmd.None})
			for _, section := range []string{"ENVIRONMENT", "FILES", "EXIT STATUS", "SIGNALS"} {
				assert.Check(t, strings.Contains(res.Stdout(), "\n"+section+"\n"), "no %s", section)
			}
		})
	}
}
