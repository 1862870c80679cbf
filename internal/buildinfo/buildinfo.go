// Package buildinfo describes the running binary: the version, commit and
// build date stamped at link time, or what Go embedded from VCS when unstamped.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Info is what `stigmer version` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// New returns the build information, filling what the linker did not stamp
// from the VCS data Go embeds (vcs.revision, vcs.time, vcs.modified). An
// unstamped version is "dev".
func New(version, commit, date string) Info {
	info := Info{Version: version, Commit: commit, Date: date,
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if info.Version == "" {
		info.Version = "dev"
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		fillFromVCS(&info, bi.Settings)
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	if info.Date == "" {
		info.Date = "unknown"
	}
	return info
}

func fillFromVCS(info *Info, settings []debug.BuildSetting) {
	var modified bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			if info.Commit == "" {
				info.Commit = s.Value
			}
		case "vcs.time":
			if info.Date == "" {
				info.Date = s.Value
			}
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && info.Commit != "" && info.Version == "dev" {
		info.Commit += "-dirty"
	}
}
