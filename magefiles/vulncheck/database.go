package vulncheck

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/module"
)

// OnlineDB is govulncheck's default database.
const OnlineDB = "https://vuln.go.dev"

// VulnDB is the golang.org/x/vulndb version whose data/osv the offline
// database is made from. Its pseudo-version's time is how current the
// offline database is: move it forward as the project's dependencies are.
const VulnDB = "golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018"

// Database says which vulnerability database a scan reads.
type Database struct {
	URL  string // what govulncheck's -db gets
	Desc string // one line for the output: which database, and why
}

// Choose returns the online database when it answers within a few seconds,
// else the offline one, built (or reused) under cacheDir.
func Choose(ctx context.Context, cacheDir string) (Database, error) {
	probeErr := probe(ctx, OnlineDB)
	if probeErr == nil {
		return Database{URL: OnlineDB, Desc: "the online database, " + OnlineDB}, nil
	}
	db, err := Offline(ctx, cacheDir)
	if err != nil {
		return Database{}, fmt.Errorf("%s could not be reached (%v), and the offline copy failed: %w", OnlineDB, probeErr, err)
	}
	db.Desc += fmt.Sprintf("; %s could not be reached: %v", OnlineDB, probeErr)
	return db, nil
}

// probe asks the database for its index, as govulncheck would first.
func probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url+"/index/db.json.gz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HEAD %s: %s", req.URL, resp.Status)
	}
	return nil
}

// Offline makes the database from VulnDB's data/osv into
// cacheDir/<version> (once per version) and returns it.
func Offline(ctx context.Context, cacheDir string) (Database, error) {
	path, ver, _ := strings.Cut(VulnDB, "@")
	asOf, err := module.PseudoVersionTime(ver)
	if err != nil {
		return Database{}, fmt.Errorf("reading the time of %s: %w", VulnDB, err)
	}
	dir := filepath.Join(cacheDir, ver)
	n, err := readCount(dir)
	if err != nil {
		src, err := download(ctx, VulnDB)
		if err != nil {
			return Database{}, err
		}
		if n, err = writeDB(filepath.Join(src, "data", "osv"), dir, asOf); err != nil {
			return Database{}, fmt.Errorf("making the offline vulnerability database in %s: %w", dir, err)
		}
	}
	return Database{
		URL:  "file://" + dir,
		Desc: fmt.Sprintf("an offline copy: %d entries from %s data/osv (as of %s)", n, path+"@"+ver, asOf.Format("2006-01-02")),
	}, nil
}

// download fetches a module through the module proxy into the module
// cache and returns its directory.
func download(ctx context.Context, modVer string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", modVer).Output()
	if err != nil {
		return "", fmt.Errorf("running go mod download %s: %w", modVer, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("reading go mod download's answer for %s: %w", modVer, err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("downloading %s: %s", modVer, m.Error)
	}
	return m.Dir, nil
}

// countFile marks a finished database and holds its number of entries.
const countFile = "entries"

func readCount(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, countFile))
	if err != nil {
		return 0, err
	}
	var n int
	_, err = fmt.Sscan(string(b), &n)
	return n, err
}

// entry is the part of an OSV entry the index needs.
type entry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases"`
	Affected []struct {
		Package struct {
			Name string `json:"name"` // the module path, or stdlib and toolchain
		} `json:"package"`
	} `json:"affected"`
}

// modVuln is one entry of a module in index/modules.json. Fixed is left
// out: govulncheck then reads every entry of a module it finds and decides
// from the entry's ranges itself.
type modVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
}

// writeDB writes the v1 layout: index/db.json, index/modules.json,
// index/vulns.json and ID/<id>.json for every OSV file in src. The files
// in data/osv carry no modification time (the hosted database fills it in
// from the repository's history), so asOf stands in for it.
func writeDB(src, dir string, asOf time.Time) (int, error) {
	if err := os.RemoveAll(dir); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "ID"), 0o755); err != nil {
		return 0, err
	}
	files, err := filepath.Glob(filepath.Join(src, "*.json"))
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("finding OSV entries in %s: none (%v)", src, err)
	}
	modules := map[string][]modVuln{}
	type vulnMeta struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Aliases  []string  `json:"aliases,omitempty"`
	}
	var vulns []vulnMeta
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return 0, fmt.Errorf("reading %s: %w", f, err)
		}
		if filepath.Base(f) != e.ID+".json" {
			return 0, fmt.Errorf("%s holds entry %q: OSV files are named <id>.json", f, e.ID)
		}
		if e.Modified.IsZero() {
			e.Modified = asOf
		}
		seen := map[string]bool{}
		for _, a := range e.Affected {
			if p := a.Package.Name; !seen[p] {
				seen[p] = true
				modules[p] = append(modules[p], modVuln{ID: e.ID, Modified: e.Modified})
			}
		}
		vulns = append(vulns, vulnMeta{e.ID, e.Modified, e.Aliases})
		if err := os.WriteFile(filepath.Join(dir, "ID", e.ID+".json"), raw, 0o644); err != nil {
			return 0, err
		}
	}
	type modMeta struct {
		Path  string    `json:"path"`
		Vulns []modVuln `json:"vulns"`
	}
	var index []modMeta
	for p, v := range modules {
		index = append(index, modMeta{p, v})
	}
	sort.Slice(index, func(i, j int) bool { return index[i].Path < index[j].Path })
	for name, v := range map[string]any{
		"db":      map[string]time.Time{"modified": asOf},
		"modules": index,
		"vulns":   vulns,
	} {
		if err := writeJSON(filepath.Join(dir, "index", name+".json"), v); err != nil {
			return 0, err
		}
	}
	// Last: its presence says the database is whole.
	return len(files), os.WriteFile(filepath.Join(dir, countFile), []byte(fmt.Sprint(len(files))), 0o644)
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(f).Encode(v); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// CacheDir is where Offline keeps its databases: the user cache dir, so
// that fresh clones share them.
func CacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache dir for the vulnerability database: %w", err)
	}
	return filepath.Join(base, "stigmer", "vulndb"), nil
}
