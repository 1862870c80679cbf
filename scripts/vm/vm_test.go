// Package vm_test checks the VM harness's scripts without booting a guest:
// shellcheck over every script, the shape of the row files (the file name
// is the row's id and place, the header its title and tags), and the list
// of rows in README.md against the plan the guest runs.
package vm_test

import (
	"bufio"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/golden"
	"gotest.tools/v3/icmd"

	"go.yaml.in/yaml/v3"
)

// scripts lists the harness's shell scripts: every *.sh, and every other
// file whose first line runs a shell (the initrd's init).
func scripts(t *testing.T) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(path, ".sh") || shebang(t, path) {
			found = append(found, path)
		}
		return nil
	})
	assert.NilError(t, err)
	return found
}

// shebang reports whether path starts with a #! line that runs a shell.
func shebang(t *testing.T, path string) bool {
	f, err := os.Open(path)
	assert.NilError(t, err)
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	return regexp.MustCompile(`^#!.*\b(sh|bash|dash)\b`).MatchString(line)
}

// TestShellcheck runs shellcheck (all severities, following sourced files)
// over every script of the harness.
func TestShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Fatal("shellcheck is not installed: go tool mage check:go installs it (or apt-get install shellcheck)")
	}
	files := scripts(t)
	assert.Assert(t, len(files) >= 20, "found only %v", files)
	icmd.RunCmd(icmd.Command("shellcheck", append([]string{"-x"}, files...)...)).Assert(t, icmd.Success)
}

// TestScriptLength holds every script to 400 lines and every row to 150:
// a longer one wants splitting, or its helpers want a library.
func TestScriptLength(t *testing.T) {
	for _, path := range scripts(t) {
		limit := 400
		if strings.HasPrefix(path, "guest/rows/") {
			limit = 150
		}
		text, err := os.ReadFile(path)
		assert.NilError(t, err)
		n := strings.Count(string(text), "\n")
		assert.Check(t, n <= limit, "%s has %d lines, more than %d", path, n, limit)
	}
}

var (
	rowName   = regexp.MustCompile(`^[0-9]{3}-([a-z0-9]+(-[a-z0-9]+)*)\.sh$`)
	rowDir    = regexp.MustCompile(`^(deb|rpm)-[0-9]+$`)
	knownTags = map[string]bool{
		"always":    true, // runs under STIGMER_VM_ONLY too: the rows after it need it
		"toolchain": true, // runs on deb13, which checks the newest toolchain only
	}
)

// TestRowFiles checks each file under guest/rows against what run.sh and
// lib/row.sh take from it: the directory names the role and boot, the file
// name the place and the id (unique in the whole tree, which
// STIGMER_VM_ONLY names), the header the title and known tags; a row runs
// with bash under set -eu and sources the frame.
func TestRowFiles(t *testing.T) {
	dirs, err := os.ReadDir("guest/rows")
	assert.NilError(t, err)
	ids := map[string]string{}
	for _, dir := range dirs {
		assert.Check(t, rowDir.MatchString(dir.Name()), "guest/rows/%s: a row directory is <deb|rpm>-<boot>", dir.Name())
		files, err := os.ReadDir(filepath.Join("guest/rows", dir.Name()))
		assert.NilError(t, err)
		assert.Check(t, len(files) > 0, "guest/rows/%s is empty", dir.Name())
		for _, f := range files {
			path := filepath.Join("guest/rows", dir.Name(), f.Name())
			m := rowName.FindStringSubmatch(f.Name())
			if !assert.Check(t, m != nil, "%s: a row file is NNN-<id>.sh, the id in lower case and dashes", path) {
				continue
			}
			if other, ok := ids[m[1]]; ok {
				t.Errorf("%s: the id %q is %s's too", path, m[1], other)
			}
			ids[m[1]] = path
			checkRow(t, path)
		}
	}
}

func checkRow(t *testing.T, path string) {
	t.Helper()
	info, err := os.Stat(path)
	assert.NilError(t, err)
	assert.Check(t, info.Mode()&0o111 != 0, "%s is not executable", path)
	b, err := os.ReadFile(path)
	assert.NilError(t, err)
	text := string(b)
	assert.Check(t, strings.HasPrefix(text, "#!/bin/bash\n# plan: "), "%s must start with #!/bin/bash and its '# plan: ' line", path)
	assert.Check(t, strings.Contains(text, "\nset -eu\n"), "%s must set -eu", path)
	assert.Check(t, strings.Contains(text, "\n. \"${0%/*}/../../lib/row.sh\"\n"), "%s must source lib/row.sh", path)
	for _, tag := range header(text, "tags") {
		assert.Check(t, knownTags[tag], "%s: unknown tag %q (known: %v)", path, tag, slices.Sorted(maps.Keys(knownTags)))
	}
	guests := guestNames(t)
	for _, g := range header(text, "guests") {
		assert.Check(t, guests[g], "%s: '# guests: ' names %q, which vmtest.sh does not boot (its guests: %v)", path, g, slices.Sorted(maps.Keys(guests)))
	}
}

// guest is one line of the guests file.
type guest struct {
	name, image, sha256, format, tag string
	boots                            []string
}

// readGuests parses the guests file the harness boots from: six fields a
// line, comments and blank lines skipped.
func readGuests(t *testing.T) []guest {
	t.Helper()
	b, err := os.ReadFile("guests")
	assert.NilError(t, err)
	var guests []guest
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if !assert.Check(t, len(f) == 6, "guests: %q has %d fields, want 6 (NAME IMAGE SHA256 FORMAT BOOTS TAG)", line, len(f)) {
			continue
		}
		guests = append(guests, guest{name: f[0], image: f[1], sha256: f[2], format: f[3],
			boots: strings.Split(f[4], "|"), tag: strings.TrimPrefix(f[5], "-")})
	}
	assert.Assert(t, len(guests) > 0, "no guests in the guests file")
	return guests
}

// guestNames are the guests the harness knows: a row's "# guests: " line
// naming another would never run.
func guestNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, g := range readGuests(t) {
		names[g.name] = true
	}
	return names
}

var (
	guestName   = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	builtImage  = regexp.MustCompile(`^debian(-cloud)?:[a-z]+$`)
	sha256Hex   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	vmAllGuests = regexp.MustCompile(`(?m)^const vmGuests = "([^"]*)"$`)
)

// TestGuestsFile checks each guest as the harness takes it: a unique name;
// an image built here (no sum) or downloaded over https with its sha256 as
// 64 hex digits; a package format cloud-init knows the tools' names for;
// boots of row directories that exist; a known tag. And the guests
// go tool mage vm:all boots are among them, all buildable here.
func TestGuestsFile(t *testing.T) {
	seen := map[string]guest{}
	for _, g := range readGuests(t) {
		_, dup := seen[g.name]
		assert.Check(t, !dup && guestName.MatchString(g.name), "guest name %q: unique, lower case, digits and dashes", g.name)
		seen[g.name] = g
		switch {
		case builtImage.MatchString(g.image):
			assert.Check(t, is.Equal(g.sha256, "-"), "%s: an image built here has no sum", g.name)
		case strings.HasPrefix(g.image, "https://"):
			assert.Check(t, sha256Hex.MatchString(g.sha256), "%s: sha256 %q is not 64 lower-case hex digits", g.name, g.sha256)
		default:
			t.Errorf("%s: image %q is neither debian:SUITE, debian-cloud:SUITE nor an https URL", g.name, g.image)
		}
		assert.Check(t, g.format == "deb" || g.format == "rpm", "%s: format %q, want deb or rpm", g.name, g.format)
		for _, boot := range g.boots {
			for _, dir := range strings.Split(boot, ",") {
				_, err := os.Stat(filepath.Join("guest/rows", dir))
				assert.Check(t, err == nil, "%s: boot runs guest/rows/%s, which does not exist", g.name, dir)
			}
		}
		assert.Check(t, g.tag == "" || knownTags[g.tag], "%s: unknown tag %q", g.name, g.tag)
	}
	b, err := os.ReadFile("../../magefiles/vm.go")
	assert.NilError(t, err)
	m := vmAllGuests.FindSubmatch(b)
	assert.Assert(t, m != nil, "magefiles/vm.go has no `const vmGuests = \"...\"` line")
	for _, name := range strings.Fields(string(m[1])) {
		g, ok := seen[name]
		assert.Check(t, ok, "vm:all boots %q, which the guests file does not list", name)
		assert.Check(t, builtImage.MatchString(g.image), "vm:all boots %q, whose image %q cannot be had without network", name, g.image)
	}
}

// TestFetchRefusesAnImageWhoseSumDiffers runs the harness's download of a
// cloud image (cloud.sh's vm_fetch) on a small local file: the pinned sum
// gets the cached copy; a cached copy changed since is refused; another
// sum is refused, says both sums and leaves
// nothing in the cache; a sum that is not 64 hex digits is refused before
// any download.
func TestFetchRefusesAnImageWhoseSumDiffers(t *testing.T) {
	dir := t.TempDir()
	image := filepath.Join(dir, "tiny-cloud.qcow2")
	assert.NilError(t, os.WriteFile(image, []byte("not really a disk image\n"), 0o644))
	const sum = "0b1d2df8b4a6b4c0d6bbd9b4d1b9c7b61e6b1e0b0c7e2b6a0c1d5a1f3e7c9b2a"
	fetch := func(sha string) *icmd.Result {
		cache := filepath.Join(dir, "cache")
		return icmd.RunCmd(icmd.Command("bash", "-c", `set -eu; . ./cloud.sh; mkdir -p "$VM_CACHE"; vm_fetch "$1" "$2"`,
			"fetch", "file://"+image, sha), icmd.WithEnv("VM_CACHE="+cache, "PATH="+os.Getenv("PATH")))
	}
	got := strings.Fields(icmd.RunCmd(icmd.Command("sha256sum", image)).Stdout())[0]
	assert.Assert(t, got != sum)

	res := fetch(got)
	res.Assert(t, icmd.Success)
	cached := strings.TrimSpace(res.Stdout())
	b, err := os.ReadFile(cached)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(string(b), "not really a disk image\n"))

	// A copy in the cache changed since: refused too, and removed.
	assert.NilError(t, os.WriteFile(cached, []byte("changed in the cache\n"), 0o644))
	fetch(got).Assert(t, icmd.Expected{ExitCode: 1, Err: "scripts/vm/guests pins " + got})
	_, err = os.Stat(cached)
	assert.Check(t, os.IsNotExist(err), "the changed copy stays in the cache")

	res = fetch(sum)
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "refused file://" + image + ": its sha256 is " + got + ", scripts/vm/guests pins " + sum})
	left, err := filepath.Glob(filepath.Join(dir, "cache", "cloud-"+sum[:16]+"-*"))
	assert.NilError(t, err)
	assert.Check(t, is.Len(left, 0), "the refused image stays in the cache")

	res = fetch("abc")
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "is not 64 hex digits: 'abc'"})
	assert.Check(t, !strings.Contains(res.Stderr(), "downloading"), res.Stderr())
}

// header returns the words of a row's "# KEY: " line.
func header(text, key string) []string {
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		if v, ok := strings.CutPrefix(line, "# "+key+": "); ok {
			return strings.Fields(v)
		}
	}
	return nil
}

// TestPlan runs run.sh --plan for every row directory: one line per row,
// its id and title, in file order; for a guest named, only the rows whose
// "# guests: " line names it or is absent; for a tag, only the rows tagged
// with it, and those whose "# guests: " line names the guest.
func TestPlan(t *testing.T) {
	dirs, err := os.ReadDir("guest/rows")
	assert.NilError(t, err)
	guests := append([]string{""}, slices.Sorted(maps.Keys(guestNames(t)))...)
	for _, dir := range dirs {
		role, phase, _ := strings.Cut(dir.Name(), "-")
		files, err := filepath.Glob(filepath.Join("guest/rows", dir.Name(), "*.sh"))
		assert.NilError(t, err)
		type row struct {
			id           string
			tags, guests []string
		}
		var rows []row
		for _, f := range files {
			text, err := os.ReadFile(f)
			assert.NilError(t, err)
			_, id, _ := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".sh"), "-")
			rows = append(rows, row{id, header(string(text), "tags"), header(string(text), "guests")})
		}
		for _, tag := range []string{"", "toolchain"} {
			for _, guest := range guests {
				var want []string
				for _, r := range rows {
					named := guest != "" && slices.Contains(r.guests, guest)
					if tag != "" && !slices.Contains(r.tags, tag) && !named {
						continue
					}
					if guest == "" || len(r.guests) == 0 || named {
						want = append(want, r.id)
					}
				}
				res := icmd.RunCmd(icmd.Command("bash", "guest/run.sh", "--plan", role, phase, tag, guest))
				res.Assert(t, icmd.Success)
				var got []string
				for _, line := range strings.Split(strings.TrimSuffix(res.Stdout(), "\n"), "\n") {
					if id, _, ok := strings.Cut(line, "\t"); ok {
						got = append(got, id)
					}
				}
				assert.Check(t, is.DeepEqual(got, want), "%s, tag %q, guest %q: %q", dir.Name(), tag, guest, res.Stdout())
			}
		}
	}
}

const (
	rowsBegin = "<!-- rows: written by `go test ./scripts/vm -update` from guest/rows; edit the rows, not this list -->\n"
	rowsEnd   = "<!-- end of rows -->\n"
)

// TestReadmeRows checks the list of rows in README.md against the plan:
// for each row directory, run.sh --plan's lines and which rows carry each
// tag. With -update it rewrites the list.
func TestReadmeRows(t *testing.T) {
	b, err := os.ReadFile("README.md")
	assert.NilError(t, err)
	readme := string(b)
	i, j := strings.Index(readme, rowsBegin), strings.Index(readme, rowsEnd)
	assert.Assert(t, i >= 0 && j > i, "README.md has no %q ... %q block", rowsBegin, rowsEnd)
	want := readme[:i+len(rowsBegin)] + rowList(t) + readme[j:]
	if golden.FlagUpdate() {
		assert.NilError(t, os.WriteFile("README.md", []byte(want), 0o644))
		return
	}
	assert.Equal(t, readme, want, "README.md's list of rows is not the plan's: run go test ./scripts/vm -update")
}

// rowList renders the plan of every row directory for README.md.
func rowList(t *testing.T) string {
	dirs, err := os.ReadDir("guest/rows")
	assert.NilError(t, err)
	var out strings.Builder
	for _, dir := range dirs {
		role, phase, _ := strings.Cut(dir.Name(), "-")
		res := icmd.RunCmd(icmd.Command("bash", "guest/run.sh", "--plan", role, phase))
		res.Assert(t, icmd.Success)
		fmt.Fprintf(&out, "\n`%s`:\n\n```\n", dir.Name())
		for _, line := range strings.Split(strings.TrimSuffix(res.Stdout(), "\n"), "\n") {
			id, title, _ := strings.Cut(line, "\t")
			fmt.Fprintf(&out, "%-20s %s\n", id, title)
		}
		out.WriteString("```\n")
		tagged, only := map[string][]string{}, map[string][]string{}
		files, err := filepath.Glob(filepath.Join("guest/rows", dir.Name(), "*.sh"))
		assert.NilError(t, err)
		for _, f := range files {
			text, err := os.ReadFile(f)
			assert.NilError(t, err)
			_, id, _ := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".sh"), "-")
			for _, tag := range header(string(text), "tags") {
				tagged[tag] = append(tagged[tag], id)
			}
			if g := header(string(text), "guests"); len(g) > 0 {
				key := strings.Join(g, " and ")
				only[key] = append(only[key], id)
			}
		}
		for _, tag := range slices.Sorted(maps.Keys(knownTags)) {
			if len(tagged[tag]) > 0 {
				fmt.Fprintf(&out, "\nTagged %s: %s.\n", tag, strings.Join(tagged[tag], ", "))
			}
		}
		for _, g := range slices.Sorted(maps.Keys(only)) {
			fmt.Fprintf(&out, "\nOnly on %s: %s.\n", g, strings.Join(only[g], ", "))
		}
	}
	out.WriteString("\n")
	return out.String()
}

// TestSeedIsANoCloudSeed builds a cloud guest's seed as vmtest.sh does for
// a boot and reads it back as cloud-init's NoCloud finds it: a vfat
// filesystem labelled CIDATA with meta-data (the instance, the same at
// every boot), user-data (a #cloud-config that installs the tools by the
// guest's package format and installs and starts the unit from the input
// disk) and the boot's vmtest.* words in vmtest-args.
func TestSeedIsANoCloudSeed(t *testing.T) {
	for _, format := range []string{"deb", "rpm"} {
		dir := t.TempDir()
		seed := filepath.Join(dir, "seed.img")
		const words = "vmtest.rows=deb-1 vmtest.guest=ubuntu2404"
		icmd.RunCmd(icmd.Command("bash", "-c", `set -eu; . ./cloud.sh; WORK=$1; vm_seed "$1/seed.img" ubuntu2404 "$2" "$3"`,
			"seed", dir, format, words)).Assert(t, icmd.Success)
		res := icmd.RunCmd(icmd.Command("blkid", "-o", "export", seed))
		res.Assert(t, icmd.Success)
		assert.Check(t, is.Contains(res.Stdout(), "LABEL=CIDATA\n"))
		assert.Check(t, is.Contains(res.Stdout(), "TYPE=vfat\n"))
		read := func(name string) string {
			res := icmd.RunCmd(icmd.Command("mtype", "-i", seed, "::"+name))
			res.Assert(t, icmd.Success)
			return res.Stdout()
		}
		assert.Check(t, is.Equal(read("meta-data"), "instance-id: vmtest-ubuntu2404\nlocal-hostname: vmtest-ubuntu2404\n"))
		assert.Check(t, is.Equal(read("vmtest-args"), words+"\n"))
		userData := read("user-data")
		assert.Check(t, strings.HasPrefix(userData, "#cloud-config\n"), userData)
		var config struct {
			Packages []string
			Runcmd   []string
		}
		assert.NilError(t, yaml.Unmarshal([]byte(userData), &config))
		tools := map[string][]string{"deb": {"curl", "gpg", "jq", "procps"}, "rpm": {"curl", "gnupg2", "jq", "procps-ng", "perl", "audit", "policycoreutils"}}
		assert.Check(t, is.DeepEqual(config.Packages, tools[format]))
		assert.Check(t, is.Contains(strings.Join(config.Runcmd, "\n"), "install -m 0644 /run/vmtest-unit/vmtest-boot.service /etc/systemd/system/vmtest-boot.service\n"))
		assert.Check(t, is.Equal(config.Runcmd[len(config.Runcmd)-1], "systemctl start --no-block vmtest-boot.service"))
	}
}

// TestUnfinishedSetupIsCaught reads boot lines as a guest sends them: a
// cloud guest whose cloud-init setup did not end done is named with its
// status; a done one and a guest without cloud-init are not.
func TestUnfinishedSetupIsCaught(t *testing.T) {
	for line, want := range map[string]string{
		"VMT BOOT 65.41 systemd 252 cloud-init done":    "",
		"VMT BOOT 65.41 systemd 252 cloud-init error":   "error\n",
		"VMT BOOT 65.41 systemd 255 cloud-init running": "running\n",
		"VMT BOOT 65.41 systemd 255 cloud-init unknown": "unknown\n",
		"VMT BOOT 11.30 systemd 252":                    "",
	} {
		results := filepath.Join(t.TempDir(), "results-1.log.txt")
		assert.NilError(t, os.WriteFile(results, []byte("VMT RESULT install PASS it ran\n"+line+"\nVMT END\n"), 0o644))
		res := icmd.RunCmd(icmd.Command("bash", "-c", `set -eu; . ./cloud.sh; vm_setup_unfinished "$1"`, "check", results))
		res.Assert(t, icmd.Success)
		assert.Check(t, is.Equal(res.Stdout(), want), line)
	}
}

// TestSELinuxDenials runs the check every row ends with (lib/selinux.sh)
// against stand-ins for what a Debian host cannot have: SELinux's enforce
// flag (a file) and ausearch or, without auditd, journalctl (scripts that
// print what they were asked and a denial naming stigmer beside one that
// does not). Enforcing: the stigmer denial only, asked for since the row's
// start; permissive or absent: nothing.
func TestSELinuxDenials(t *testing.T) {
	const (
		ours   = `type=AVC msg=audit(1765130000.123:412): avc:  denied  { write } for  pid=2201 comm="stigmer" name="stigmer" dev="vda1" ino=1234 scontext=system_u:system_r:unconfined_service_t:s0 tcontext=system_u:object_r:var_lib_t:s0 tclass=dir permissive=0`
		theirs = `type=AVC msg=audit(1765130001.456:413): avc:  denied  { read } for  pid=900 comm="chronyd" name="adjtime" scontext=system_u:system_r:chronyd_t:s0 tcontext=system_u:object_r:etc_t:s0 tclass=file permissive=0`
	)
	for _, tool := range []string{"ausearch", "journalctl"} {
		dir := t.TempDir()
		stand := func(name, body string) {
			assert.NilError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755))
		}
		stand("fake-"+tool, fmt.Sprintf("echo \"$*\" >%s/asked\ncat <<'EOF'\n%s\n%s\nEOF\n", dir, ours, theirs))
		assert.NilError(t, os.Symlink("fake-"+tool, filepath.Join(dir, tool)))
		// Only the stand-in, the shell's tools and nothing of the host's audit.
		bin := filepath.Join(dir, "bin")
		assert.NilError(t, os.Mkdir(bin, 0o755))
		for _, cmd := range []string{"cat", "grep", "head"} {
			p, err := exec.LookPath(cmd)
			assert.NilError(t, err)
			assert.NilError(t, os.Symlink(p, filepath.Join(bin, cmd)))
		}
		check := func(enforce string) *icmd.Result {
			flag := filepath.Join(dir, "enforce")
			if enforce == "" {
				flag = filepath.Join(dir, "absent")
			} else {
				assert.NilError(t, os.WriteFile(flag, []byte(enforce), 0o644))
			}
			res := icmd.RunCmd(icmd.Command("bash", "-c", `. guest/lib/selinux.sh; selinux_denials "12/07/2026 19:12:14"`),
				icmd.WithEnv("PATH="+dir+":"+bin, "SELINUX_ENFORCE="+flag))
			res.Assert(t, icmd.Success)
			return res
		}
		assert.Check(t, is.Equal(check("1").Stdout(), ours+"\n"), tool)
		asked, err := os.ReadFile(filepath.Join(dir, "asked"))
		assert.NilError(t, err)
		want := map[string]string{"ausearch": "-m AVC,USER_AVC,SELINUX_ERR -ts 12/07/2026 19:12:14\n",
			"journalctl": "-q --no-pager --since 2026-12-07 19:12:14\n"}[tool]
		assert.Check(t, is.Equal(string(asked), want))
		assert.Check(t, is.Equal(check("0").Stdout(), ""), tool)
		assert.Check(t, is.Equal(check("").Stdout(), ""), tool)
	}
}
