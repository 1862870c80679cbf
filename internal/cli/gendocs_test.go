package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/golden"

	"github.com/stigmer/stigmer/internal/buildinfo"
	"github.com/stigmer/stigmer/internal/config"
)

// Every page that a SEE ALSO names is written, and no hidden internal-*
// command gets one.
func TestWriteManPages(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	dir := t.TempDir()
	var out bytes.Buffer
	root := NewRoot(buildinfo.Info{}, &out, &out)
	assert.NilError(t, writeManPages(root, dir))

	entries, err := os.ReadDir(dir)
	assert.NilError(t, err)
	written := map[string]bool{}
	for _, e := range entries {
		written[e.Name()] = true
		assert.Check(t, !strings.Contains(e.Name(), "internal"), "page for a hidden command: %s", e.Name())
	}
	assert.Check(t, written["stigmer.1"])
	assert.Check(t, written["stigmer-server.1"])
	assert.Check(t, written[ServicePage])
	// Linux ships bash, zsh and fish completions only.
	assert.Check(t, written["stigmer-completion-bash.1"])
	assert.Check(t, !written["stigmer-completion-powershell.1"], "a PowerShell page on Linux")

	// SEE ALSO lines: \fBstigmer-server(1)\fP; the pages of other
	// packages (systemctl(1), systemd.exec(5)) are not ours to write.
	ref := regexp.MustCompile(`\\fB(stigmer[a-z0-9.-]*)\(([18])\)\\fP`)
	var missing []string
	for name := range written {
		page, err := os.ReadFile(filepath.Join(dir, name))
		assert.NilError(t, err)
		_, seeAlso, ok := strings.Cut(string(page), ".SH SEE ALSO")
		if !ok {
			continue
		}
		for _, m := range ref.FindAllStringSubmatch(seeAlso, -1) {
			if !written[m[1]+"."+m[2]] {
				missing = append(missing, name+" -> "+m[1]+"("+m[2]+")")
			}
		}
	}
	sort.Strings(missing)
	assert.Check(t, is.Len(missing, 0), "SEE ALSO names pages not written: %v", missing)
}

// stigmer.service(8) documents the service: every variable the server
// reads with its default, the files, the exit statuses and the signals.
// The whole page is a golden file (go test ./internal/cli -update).
func TestServicePage(t *testing.T) {
	page := string(servicePage(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)))
	golden.Assert(t, page, ServicePage+".golden")

	sections := map[string]string{}
	parts := strings.Split(page, "\n.SH ")
	for _, p := range parts[1:] {
		name, body, _ := strings.Cut(p, "\n")
		sections[strings.Trim(name, `"`)] = body
	}
	for _, want := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "ENVIRONMENT", "FILES", "EXIT STATUS", "SIGNALS", "SEE ALSO"} {
		assert.Check(t, sections[want] != "", "no %s section", want)
	}
	env := sections["ENVIRONMENT"]
	for _, v := range config.Vars() {
		entry := ".TP\n\\fB" + v.Name + "\\fP\n"
		_, text, found := strings.Cut(env, entry)
		if !assert.Check(t, found, "%s is not in ENVIRONMENT", v.Name) {
			continue
		}
		text, _, _ = strings.Cut(text, ".TP")
		def := v.Default
		if def == "" {
			def = "empty"
		}
		assert.Check(t, is.Contains(strings.Join(strings.Fields(text), " "), "Default: "+def+"."), "%s", v.Name)
	}
	for _, code := range []string{"0", "1", "2", "78"} {
		assert.Check(t, is.Contains(sections["EXIT STATUS"], "\\fB"+code+"\\fP\n"), "exit status %s", code)
	}
	for _, sig := range []string{"SIGTERM", "SIGINT", "SIGHUP", "SIGKILL", "SIGABRT"} {
		assert.Check(t, is.Contains(sections["SIGNALS"], sig))
	}
	for _, f := range []string{"/etc/default/stigmer", "/etc/sysconfig/stigmer", "/var/lib/stigmer/history.db", "/usr/share/stigmer/monitoring/", "/usr/share/doc/stigmer/examples/"} {
		assert.Check(t, is.Contains(sections["FILES"], f))
	}
}

// stigmer(1), which the unit's Documentation= names after the service's
// page, has the CLI's exit statuses and points at stigmer.service(8).
func TestRootPage(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	dir := t.TempDir()
	var out bytes.Buffer
	assert.NilError(t, writeManPages(NewRoot(buildinfo.Info{}, &out, &out), dir))
	page, err := os.ReadFile(filepath.Join(dir, "stigmer.1"))
	assert.NilError(t, err)
	text := string(page)
	exit := strings.Index(text, ".SH EXIT STATUS\n")
	env := strings.Index(text, ".SH ENVIRONMENT\n")
	seeAlso := strings.Index(text, ".SH SEE ALSO\n")
	assert.Assert(t, exit > 0 && env > exit && seeAlso > env, "sections out of place:\n%s", text)
	assert.Check(t, is.Contains(text[exit:env], "\\fB2\\fP\nA usage mistake"))
	assert.Check(t, is.Contains(text[seeAlso:], "\\fBstigmer.service(8)\\fP\n"))
	assert.Check(t, strings.Count(text, ".TH ") == 1, "one title")
}
