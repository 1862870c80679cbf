// Package fakegithub is a stand-in for the part of GitHub's REST API that
// package ghrelease calls (list, read, create, publish and delete releases;
// upload and download assets), for tests and the release rehearsal: GitHub
// itself cannot be reached here. It keeps each release's notes and assets
// as files under a directory, so a rehearsal leaves what each tag would
// have uploaded where a person can look.
//
// It answers like the API where ghrelease depends on it: pages of at most
// per_page releases, newest first, linked by a Link header; drafts listed
// only with a token; 404 for what is not there; upload addresses on their
// own path, as uploads.github.com is another host. Tests can make it answer
// with a rate limit, tamper with a stored asset or lose one.
package fakegithub

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// NotesFile is where a release's notes are kept, in its directory.
const NotesFile = "notes.md"

// Server is the stand-in, listening on a loopback port.
type Server struct {
	*httptest.Server
	Repo  string // owner/name it serves
	Token string // the token it expects
	Dir   string // Dir/TAG/ holds each release's assets and notes.md
	// PagesURL is what GET /repos/{repo}/pages gives as html_url; "" is a
	// repository without Pages (404).
	PagesURL string
	// MaxPerPage caps per_page as the API does at 100; tests set it lower
	// to see every page followed.
	MaxPerPage int

	mu          sync.Mutex
	releases    []*release // oldest first
	nextID      int64
	rateLimited int // the next n requests are answered 429
	requests    int
}

type release struct {
	id         int64
	tag, name  string
	notes      string
	draft, pre bool
	assets     []*asset
}

type asset struct {
	id   int64
	name string
	size int64
}

// New starts a stand-in for repo that expects token and stores under dir.
// Stop it with Close.
func New(repo, token, dir string) *Server {
	s := &Server{Repo: repo, Token: token, Dir: dir, MaxPerPage: 100, nextID: 1}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// RateLimit makes the next n requests answer 429 with Retry-After: 1.
func (s *Server) RateLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimited = n
}

// Requests is how many requests the stand-in has answered.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// AddRelease stores a release with the files as its assets (copied),
// as an earlier run would have left it.
func (s *Server) AddRelease(tag string, draft, prerelease bool, files ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &release{id: s.id(), tag: tag, name: tag, draft: draft, pre: prerelease}
	s.releases = append(s.releases, r)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := s.store(r, filepath.Base(f), data); err != nil {
			return err
		}
	}
	return nil
}

// AssetPath is the file that holds a stored asset, for a test to tamper with
// or remove (the API then still lists it: a missing asset).
func (s *Server) AssetPath(tag, name string) string {
	return filepath.Join(s.Dir, tag, name)
}

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

func (s *Server) store(r *release, name string, data []byte) error {
	if err := os.MkdirAll(filepath.Join(s.Dir, r.tag), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(s.AssetPath(r.tag, name), data, 0o644); err != nil {
		return err
	}
	for _, a := range r.assets {
		if a.name == name {
			return fmt.Errorf("asset %s exists", name)
		}
	}
	r.assets = append(r.assets, &asset{id: s.id(), name: name, size: int64(len(data))})
	return nil
}

func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.rateLimited > 0 {
		s.rateLimited--
		w.Header().Set("Retry-After", "1")
		apiError(w, http.StatusTooManyRequests, "You have exceeded a secondary rate limit.")
		return
	}
	if req.Header.Get("Authorization") != "Bearer "+s.Token {
		apiError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	repo := "/repos/" + s.Repo
	path := req.URL.Path
	switch {
	case strings.HasPrefix(path, "/uploads"+repo+"/releases/") && req.Method == http.MethodPost:
		s.upload(w, req, strings.TrimPrefix(path, "/uploads"+repo+"/releases/"))
	case path == repo+"/pages" && req.Method == http.MethodGet && s.PagesURL != "":
		writeJSON(w, http.StatusOK, map[string]string{"html_url": s.PagesURL})
	case path == repo+"/releases" && req.Method == http.MethodGet:
		s.list(w, req)
	case path == repo+"/releases" && req.Method == http.MethodPost:
		s.create(w, req)
	case strings.HasPrefix(path, repo+"/releases/tags/") && req.Method == http.MethodGet:
		tag := strings.TrimPrefix(path, repo+"/releases/tags/")
		for _, r := range s.releases {
			if r.tag == tag && !r.draft {
				writeJSON(w, http.StatusOK, s.json(r))
				return
			}
		}
		apiError(w, http.StatusNotFound, "Not Found")
	case strings.HasPrefix(path, repo+"/releases/assets/") && req.Method == http.MethodGet:
		s.download(w, strings.TrimPrefix(path, repo+"/releases/assets/"))
	case strings.HasPrefix(path, repo+"/releases/"):
		s.edit(w, req, strings.TrimPrefix(path, repo+"/releases/"))
	default:
		apiError(w, http.StatusNotFound, "Not Found")
	}
}

// list serves one page of the releases, newest first.
func (s *Server) list(w http.ResponseWriter, req *http.Request) {
	perPage, page := 30, 1
	if n, err := strconv.Atoi(req.URL.Query().Get("per_page")); err == nil && n > 0 {
		perPage = n
	}
	perPage = min(perPage, s.MaxPerPage)
	if n, err := strconv.Atoi(req.URL.Query().Get("page")); err == nil && n > 0 {
		page = n
	}
	var all []map[string]any
	for i := len(s.releases) - 1; i >= 0; i-- {
		all = append(all, s.json(s.releases[i]))
	}
	from, to := min((page-1)*perPage, len(all)), min(page*perPage, len(all))
	if to < len(all) {
		next := fmt.Sprintf("%s%s?per_page=%d&page=%d", s.URL, req.URL.Path, perPage, page+1)
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next))
	}
	out := all[from:to]
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) create(w http.ResponseWriter, req *http.Request) {
	var in struct {
		Tag        string `json:"tag_name"`
		Name       string `json:"name"`
		Body       string `json:"body"`
		Draft      bool   `json:"draft"`
		Prerelease bool   `json:"prerelease"`
	}
	if err := json.NewDecoder(req.Body).Decode(&in); err != nil || in.Tag == "" {
		apiError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	for _, r := range s.releases {
		if r.tag == in.Tag && !r.draft {
			apiError(w, http.StatusUnprocessableEntity, "Validation Failed: tag_name already_exists")
			return
		}
	}
	r := &release{id: s.id(), tag: in.Tag, name: in.Name, notes: in.Body, draft: in.Draft, pre: in.Prerelease}
	if err := os.MkdirAll(filepath.Join(s.Dir, r.tag), 0o755); err != nil {
		apiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if err := os.WriteFile(filepath.Join(s.Dir, r.tag, NotesFile), []byte(in.Body), 0o644); err != nil {
		apiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.releases = append(s.releases, r)
	writeJSON(w, http.StatusCreated, s.json(r))
}

// edit publishes (PATCH draft=false) or deletes a release by id.
func (s *Server) edit(w http.ResponseWriter, req *http.Request, id string) {
	r, i := s.byID(id)
	if r == nil {
		apiError(w, http.StatusNotFound, "Not Found")
		return
	}
	switch req.Method {
	case http.MethodPatch:
		var in struct {
			Draft *bool `json:"draft"`
		}
		if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
			apiError(w, http.StatusUnprocessableEntity, "Problems parsing JSON")
			return
		}
		if in.Draft != nil {
			r.draft = *in.Draft
		}
		writeJSON(w, http.StatusOK, s.json(r))
	case http.MethodDelete:
		s.releases = append(s.releases[:i], s.releases[i+1:]...)
		if err := os.RemoveAll(filepath.Join(s.Dir, r.tag)); err != nil {
			apiError(w, http.StatusInternalServerError, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		apiError(w, http.StatusNotFound, "Not Found")
	}
}

func (s *Server) upload(w http.ResponseWriter, req *http.Request, rest string) {
	id, _, _ := strings.Cut(rest, "/")
	r, _ := s.byID(id)
	name := req.URL.Query().Get("name")
	if r == nil || name == "" {
		apiError(w, http.StatusNotFound, "Not Found")
		return
	}
	data, err := io.ReadAll(req.Body)
	if err == nil {
		err = s.store(r, name, data)
	}
	if err != nil {
		apiError(w, http.StatusUnprocessableEntity, "Validation Failed: "+err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, s.assetJSON(r, r.assets[len(r.assets)-1]))
}

func (s *Server) download(w http.ResponseWriter, id string) {
	for _, r := range s.releases {
		for _, a := range r.assets {
			if strconv.FormatInt(a.id, 10) == id {
				data, err := os.ReadFile(s.AssetPath(r.tag, a.name))
				if err != nil {
					apiError(w, http.StatusNotFound, "Not Found")
					return
				}
				w.Header().Set("Content-Type", "application/octet-stream")
				_, _ = w.Write(data)
				return
			}
		}
	}
	apiError(w, http.StatusNotFound, "Not Found")
}

func (s *Server) byID(id string) (*release, int) {
	for i, r := range s.releases {
		if strconv.FormatInt(r.id, 10) == id {
			return r, i
		}
	}
	return nil, -1
}

func (s *Server) json(r *release) map[string]any {
	assets := []map[string]any{}
	sort.SliceStable(r.assets, func(i, j int) bool { return r.assets[i].name < r.assets[j].name })
	for _, a := range r.assets {
		assets = append(assets, s.assetJSON(r, a))
	}
	return map[string]any{
		"id": r.id, "tag_name": r.tag, "name": r.name, "body": r.notes, "draft": r.draft, "prerelease": r.pre,
		"html_url":   fmt.Sprintf("%s/%s/releases/tag/%s", s.URL, s.Repo, r.tag),
		"upload_url": fmt.Sprintf("%s/uploads/repos/%s/releases/%d/assets{?name,label}", s.URL, s.Repo, r.id),
		"assets":     assets,
	}
}

// assetJSON lists an asset with the size it was uploaded with, as the API
// does, whatever a test did to the stored file since.
func (s *Server) assetJSON(r *release, a *asset) map[string]any {
	return map[string]any{"id": a.id, "name": a.name, "size": a.size,
		"url": fmt.Sprintf("%s/repos/%s/releases/assets/%d", s.URL, s.Repo, a.id)}
}

func apiError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
