package repo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// AptProbe is the host's apt in a private root (its own lists, status and
// sources) that reads one tree through one keyring and nothing else: how
// the tests, and the release rehearsal, see a tree as a host would, without
// touching the host's apt.
type AptProbe struct {
	root string
	opts []string
}

// NewAptProbe makes a probe under dir (an empty directory) for the tree
// served at url, trusting only keyring (a Signed-By file), for amd64.
func NewAptProbe(dir, url, keyring string) (*AptProbe, error) {
	for _, d := range []string{"etc/apt/sources.list.d", "etc/apt/preferences.d", "etc/apt/apt.conf.d", "var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	status := filepath.Join(dir, "var/lib/dpkg/status")
	if err := os.WriteFile(status, nil, 0o644); err != nil {
		return nil, err
	}
	src := fmt.Sprintf("Types: deb\nURIs: %s/\nSuites: %s\nComponents: %s\nArchitectures: amd64\nSigned-By: %s\n", url, Suite, Component, keyring)
	if err := os.WriteFile(filepath.Join(dir, "etc/apt/sources.list.d/stigmer.sources"), []byte(src), 0o644); err != nil {
		return nil, err
	}
	return &AptProbe{root: dir, opts: []string{"-o", "Dir=" + dir, "-o", "Dir::State::status=" + status,
		"-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root", "-o", "Dir::Etc::Parts=" + filepath.Join(dir, "etc/apt/apt.conf.d"),
		"-o", "APT::Architecture=amd64", "-o", "Acquire::Languages=none"}}, nil
}

// Run runs apt-get (update, ...) or apt-cache (policy, madison, ...) in the
// probe's root and returns its combined output.
func (p *AptProbe) Run(tool string, args ...string) (string, error) {
	out, err := exec.Command(tool, append(append([]string{}, p.opts...), args...)...).CombinedOutput()
	return string(out), err
}
