package vulncheck

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// repoRoot is the module whose go.mod pins govulncheck.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	assert.NilError(t, err)
	return root
}

// offline is the offline database, made once per machine and version.
func offline(t *testing.T) Database {
	t.Helper()
	cache, err := CacheDir()
	assert.NilError(t, err)
	db, err := Offline(context.Background(), cache)
	assert.NilError(t, err)
	return db
}

// fixture is the module in testdata that calls x/text's
// language.ParseAcceptLanguage at v0.3.7 (GO-2022-1059, fixed in v0.3.8).
func fixture(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "vulnerable"))
	assert.NilError(t, err)
	return dir
}

const fixtureVuln = "GO-2022-1059"

func TestOfflineDatabase(t *testing.T) {
	db := offline(t)
	assert.Assert(t, strings.HasPrefix(db.URL, "file://"), db.URL)
	assert.Assert(t, is.Contains(db.Desc, "golang.org/x/vulndb@"))
	dir := strings.TrimPrefix(db.URL, "file://")
	modules, err := os.ReadFile(filepath.Join(dir, "index", "modules.json"))
	assert.NilError(t, err)
	for _, want := range []string{`"path":"stdlib"`, `"path":"golang.org/x/text"`, `"id":"` + fixtureVuln + `"`} {
		assert.Assert(t, is.Contains(string(modules), want))
	}
	_, err = os.Stat(filepath.Join(dir, "ID", fixtureVuln+".json"))
	assert.NilError(t, err)
}

func TestCheckFailsOnAVulnerableModule(t *testing.T) {
	db := offline(t)
	for name, target := range map[string]func(t *testing.T) Target{
		"source": func(t *testing.T) Target { return Source(fixture(t), "", "./...") },
		"binary": func(t *testing.T) Target {
			// Built as the packages' binaries are: stripped, trimmed.
			bin := filepath.Join(t.TempDir(), "vulnerable")
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", bin, ".")
			cmd.Dir = fixture(t)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			out, err := cmd.CombinedOutput()
			assert.NilError(t, err, string(out))
			return Binary(fixture(t), bin)
		},
	} {
		t.Run(name, func(t *testing.T) {
			var log bytes.Buffer
			err := Check(context.Background(), &log, repoRoot(t), db, nil, target(t))
			assert.ErrorContains(t, err, fixtureVuln)
			assert.ErrorContains(t, err, ExcusedFile)
			out := log.String()
			assert.Assert(t, is.Contains(out, "found in golang.org/x/text@v0.3.7, fixed in golang.org/x/text@v0.3.8"), out)
			// The source scan names the path from main; a binary's
			// symbols say only which vulnerable functions it holds.
			assert.Assert(t, is.Contains(out, "golang.org/x/text/language."), out)
		})
	}
}

func TestCheckTakesAnExcusal(t *testing.T) {
	excused := []Excusal{{ID: fixtureVuln, Module: "golang.org/x/text", Reason: "the fixture only parses its own fixed header",
		Expires: time.Now().AddDate(0, 1, 0).Format(time.DateOnly)}}
	var log bytes.Buffer
	err := Check(context.Background(), &log, repoRoot(t), offline(t), excused, Source(fixture(t), "", "./..."))
	assert.NilError(t, err, log.String())
	assert.Assert(t, is.Contains(log.String(), "excused "+fixtureVuln), log.String())
}

func TestReadExcusals(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	good := `{"id": "GO-2026-6617", "module": "stdlib", "reason": "the HTTP/2 server is never enabled here", "expires": "2027-03-01"}`
	for _, tc := range []struct {
		name, file, wantErr string
		want                int
	}{
		// Success.
		{name: "good", file: `{"excused": [` + good + `]}`, want: 1},
		{name: "empty list", file: `{"excused": []}`},
		// Failure: every entry is reviewed, and reviewed again.
		{name: "expired", file: `{"excused": [{"id": "GO-2026-6617", "module": "stdlib", "reason": "the HTTP/2 server is never enabled here", "expires": "2026-12-01"}]}`, wantErr: "expired on 2026-12-01"},
		{name: "over a year", file: `{"excused": [{"id": "GO-2026-6617", "module": "stdlib", "reason": "the HTTP/2 server is never enabled here", "expires": "2028-01-01"}]}`, wantErr: "more than a year ahead"},
		{name: "no reason", file: `{"excused": [{"id": "GO-2026-6617", "module": "stdlib", "reason": "n/a", "expires": "2027-01-01"}]}`, wantErr: "says too little"},
		{name: "bad id", file: `{"excused": [{"id": "CVE-2026-1", "module": "stdlib", "reason": "the HTTP/2 server is never enabled here", "expires": "2027-01-01"}]}`, wantErr: "is not GO-YYYY-NNNN"},
		{name: "no module", file: `{"excused": [{"id": "GO-2026-6617", "reason": "the HTTP/2 server is never enabled here", "expires": "2027-01-01"}]}`, wantErr: "module is empty"},
		{name: "bad date", file: `{"excused": [{"id": "GO-2026-6617", "module": "stdlib", "reason": "the HTTP/2 server is never enabled here", "expires": "soon"}]}`, wantErr: "not a date"},
		{name: "unknown field", file: `{"excused": [{"id": "GO-2026-6617", "modules": "stdlib"}]}`, wantErr: "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ExcusedFile)
			assert.NilError(t, os.WriteFile(path, []byte(tc.file), 0o644))
			got, err := ReadExcusals(path, now)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, len(got), tc.want)
		})
	}
	t.Run("no file", func(t *testing.T) {
		got, err := ReadExcusals(filepath.Join(t.TempDir(), ExcusedFile), now)
		assert.NilError(t, err)
		assert.Equal(t, len(got), 0)
	})
}

// TestParseKeepsTheMostPreciseFinding: govulncheck reports one entry at
// module, package and symbol level; a symbol-level finding makes it called,
// one at module level alone does not.
func TestParseKeepsTheMostPreciseFinding(t *testing.T) {
	stream := `{"config": {"protocol_version": "v1.0.0"}}
{"osv": {"id": "GO-2026-0001", "summary": "reached"}}
{"osv": {"id": "GO-2026-0002", "summary": "only required"}}
{"finding": {"osv": "GO-2026-0001", "fixed_version": "v1.2.0", "trace": [{"module": "example.com/m", "version": "v1.1.0"}]}}
{"finding": {"osv": "GO-2026-0001", "fixed_version": "v1.2.0", "trace": [{"module": "example.com/m", "version": "v1.1.0", "package": "example.com/m/p", "function": "F"}, {"module": "example.com/main", "package": "example.com/main", "function": "main"}]}}
{"finding": {"osv": "GO-2026-0001", "fixed_version": "v1.2.0", "trace": [{"module": "example.com/m", "version": "v1.1.0", "package": "example.com/m/p"}]}}
{"finding": {"osv": "GO-2026-0002", "trace": [{"module": "example.com/n", "version": "v0.1.0"}]}}
`
	vulns, err := Parse(strings.NewReader(stream))
	assert.NilError(t, err)
	assert.Equal(t, len(vulns), 2)
	assert.Check(t, vulns[0].Called)
	assert.Check(t, is.Equal(vulns[0].Summary, "reached"))
	assert.Check(t, is.Equal(vulns[0].Fixed, "v1.2.0"))
	assert.Check(t, is.Equal(len(vulns[0].Trace), 2))
	assert.Check(t, !vulns[1].Called)
	assert.Check(t, is.Equal(vulns[1].Fixed, ""))
	r := Result{Vulns: vulns}
	assert.Check(t, is.Equal(len(r.Called()), 1))
}
