package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"github.com/stigmer/stigmer/internal/envfile"
	"github.com/stigmer/stigmer/internal/unitstate"
)

// service is the environment the service gets, as far as this user can
// read it: systemd's own variables, the unit's Environment= and then its
// EnvironmentFile= files, later ones winning, as systemd builds it.
type service struct {
	files []*envFile
	vars  map[string]string
	// fromUnit tells whether the file list and Environment= came from
	// systemd (else: the packaged unit's, assumed).
	fromUnit bool
}

// envFile is one EnvironmentFile= as found on disk.
type envFile struct {
	path     string
	optional bool
	info     fs.FileInfo // nil when stat failed
	statErr  error
	readErr  error // reading it (permission denied for non-root users)
	vars     []envfile.Var
	problems []envfile.Problem
}

func (f *envFile) missing() bool { return os.IsNotExist(f.statErr) }

// serviceBase is what systemd puts in every service's environment before
// Environment=: a PATH, and INVOCATION_ID, by which the server knows it
// runs under systemd (and so uses the system directories). HOME is the
// service user's, which the package makes /var/lib/stigmer.
var serviceBase = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"INVOCATION_ID=stigmer-doctor",
	"HOME=/var/lib/stigmer",
	"USER=" + serviceUser,
	"LOGNAME=" + serviceUser,
}

// packagedEnvironment is the packaged unit's Environment=.
var packagedEnvironment = []string{"STIGMER_DATA_DIR=/var/lib/stigmer", "STIGMER_LOG_DIR=/var/log/stigmer"}

// service reads the env files once.
func (e *Env) service(ctx context.Context) *service {
	if e.svc != nil {
		return e.svc
	}
	s := &service{}
	environment, files := packagedEnvironment, packagedEnvFiles
	if st, err := e.unitState(ctx); err == nil && st.LoadState == "loaded" {
		environment, files, s.fromUnit = st.Environment, st.EnvironmentFiles, true
	}
	if len(e.EnvFiles) > 0 {
		files = nil
		for _, p := range e.EnvFiles {
			files = append(files, unitstate.EnvironmentFile{Path: p})
		}
	}
	var parsed [][]envfile.Var
	systemd := 0 // unknown: the floor's rules
	if st, err := e.unitState(ctx); err == nil {
		systemd, _ = unitstate.VersionNumber(st.SystemdVersion)
	}
	for _, f := range files {
		ef := e.readEnvFile(f, systemd)
		s.files = append(s.files, ef)
		parsed = append(parsed, ef.vars)
	}
	s.vars = envfile.Environ(append(append([]string{}, serviceBase...), environment...), parsed...)
	e.svc = s
	return s
}

// readEnvFile reads an env file as systemd release systemd does (0:
// unknown, read as the oldest supported).
func (e *Env) readEnvFile(f unitstate.EnvironmentFile, systemd int) *envFile {
	ef := &envFile{path: f.Path, optional: f.Optional}
	ef.info, ef.statErr = os.Stat(f.Path)
	if ef.statErr != nil {
		return ef
	}
	data, err := e.ReadFile(f.Path)
	if err != nil {
		ef.readErr = err
		return ef
	}
	ef.vars, ef.problems = envfile.Parse(data, systemd)
	return ef
}

// present lists the env files that exist.
func (s *service) present() []*envFile {
	var out []*envFile
	for _, f := range s.files {
		if !f.missing() {
			out = append(out, f)
		}
	}
	return out
}

// unreadable is the first env file that exists but could not be read.
func (s *service) unreadable() *envFile {
	for _, f := range s.files {
		if f.readErr != nil || (f.statErr != nil && !f.missing()) {
			return f
		}
	}
	return nil
}

// get is a variable of the service's environment, or def.
func (s *service) get(name, def string) string {
	if v := s.vars[name]; v != "" {
		return v
	}
	return def
}

// getenv is the config.Getenv of the service's environment.
func (s *service) getenv(name string) string { return s.vars[name] }

// assumption is appended to verdicts built on settings that an unreadable
// env file may change.
func (e *Env) assumption(ctx context.Context) string {
	if f := e.service(ctx).unreadable(); f != nil {
		return " (assumed: " + f.path + " may change it, and uid " + strconv.Itoa(e.UID) + " cannot read it)"
	}
	return ""
}

// mainEnvFile is the env file an operator edits: the first that exists,
// else the first the unit names.
func (s *service) mainEnvFile() string {
	if p := s.present(); len(p) > 0 {
		return p[0].path
	}
	if len(s.files) > 0 {
		return s.files[0].path
	}
	return packagedEnvFiles[0].Path
}

// editFix is the fix for a setting in the env file.
func (s *service) editFix(what string) string {
	f := s.mainEnvFile()
	return "sudoedit " + f + " (" + what + "), then sudo systemctl restart stigmer"
}

// ServiceEnvironment is the environment stigmer.service gets, read as
// doctor reads it (systemd's own variables, the unit's Environment= and
// then its EnvironmentFile= files, or EnvFiles, each as this host's
// systemd parses it), for a command that acts with the service's
// configuration while its server does not run. files are the env files
// that were read. An env file this user cannot read, or one named
// (EnvFiles, or without "-" in the unit) that is missing, is an error
// naming it.
func (e *Env) ServiceEnvironment(ctx context.Context) (getenv func(string) string, files []string, err error) {
	s := e.service(ctx)
	for _, f := range s.files {
		switch {
		case f.missing() && f.optional:
			continue
		case f.missing():
			return nil, nil, fmt.Errorf("the env file %s does not exist", f.path)
		case f.statErr != nil || f.readErr != nil:
			return nil, nil, fmt.Errorf("cannot read the env file %s as uid %d: %w; run as root (sudo)", f.path, e.UID, errors.Join(f.statErr, f.readErr))
		}
		files = append(files, f.path)
	}
	return s.getenv, files, nil
}
