package ghrelease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Client is one repository's releases on one GitHub API. Its methods are
// safe for concurrent use when HTTP is.
type Client struct {
	API   string       // the API's base URL: GITHUB_API_URL in Actions
	Repo  string       // "owner/name": GITHUB_REPOSITORY in Actions
	Token string       // sent as a bearer token; the job's GITHUB_TOKEN
	HTTP  *http.Client // nil: a client with a 10-minute timeout
	// MaxWait is the longest a rate-limited call waits before it tries
	// again; a longer wait is an error that says when to re-run. 0: a
	// minute.
	MaxWait time.Duration
	// Wait waits d or until ctx ends; nil: a timer. Tests replace it.
	Wait func(ctx context.Context, d time.Duration) error
	Log  io.Writer
}

// Release is what the API says of a release.
type Release struct {
	ID         int64   `json:"id"`
	TagName    string  `json:"tag_name"`
	Name       string  `json:"name"`
	Draft      bool    `json:"draft"`
	Prerelease bool    `json:"prerelease"`
	HTMLURL    string  `json:"html_url"`
	UploadURL  string  `json:"upload_url"`
	Assets     []Asset `json:"assets"`
}

// Asset is one file of a release.
type Asset struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
	URL  string `json:"url"` // the API's address of the asset, which serves its bytes to Accept: application/octet-stream
}

// maxTries bounds the calls one request makes when rate-limited.
const maxTries = 4

// do sends the request that newReq makes (anew for each try), waiting out
// a rate limit when the API says it lifts within MaxWait, and returns the
// response of a 2xx answer. Any other answer is an error that quotes the
// API's message; a 404 wraps ErrNotFound.
func (c *Client) do(ctx context.Context, what string, newReq func() (*http.Request, error)) (*http.Response, error) {
	for try := 1; ; try++ {
		req, err := newReq()
		if err != nil {
			return nil, err
		}
		req = req.WithContext(ctx)
		req.Header.Set("Authorization", "Bearer "+c.Token)
		req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
		if req.Header.Get("Accept") == "" {
			req.Header.Set("Accept", "application/vnd.github+json")
		}
		resp, err := c.httpClient().Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if resp.StatusCode/100 == 2 {
			return resp, nil
		}
		msg := apiMessage(resp)
		resp.Body.Close()
		wait, limited := rateLimitWait(resp, time.Now())
		if !limited {
			err := fmt.Errorf("%s: GitHub's API answered %s: %s", what, resp.Status, msg)
			if resp.StatusCode == http.StatusNotFound {
				err = fmt.Errorf("%w: %w", ErrNotFound, err)
			}
			return nil, err
		}
		if wait > c.maxWait() || try == maxTries {
			return nil, fmt.Errorf("%s: GitHub's API rate limit for this token is used up (%s, %s); it lifts in %s, at %s: re-run the workflow then",
				what, resp.Status, msg, wait.Round(time.Second), time.Now().Add(wait).UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(c.log(), "%s: rate-limited (%s), trying again in %s\n", what, resp.Status, wait.Round(time.Second))
		if err := c.wait(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// ErrNotFound is wrapped by the errors of calls the API answered with 404.
var ErrNotFound = errors.New("not found")

// rateLimitWait says whether resp is a rate-limit answer and how long to
// wait: a 403 or 429 with Retry-After (the secondary limits), or with
// X-RateLimit-Remaining: 0 (the hourly limit; X-RateLimit-Reset is when it
// lifts, in Unix seconds).
func rateLimitWait(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
		if err != nil {
			return time.Hour, true
		}
		return max(time.Unix(reset, 0).Sub(now), 0) + time.Second, true
	}
	// GitHub's documented advice for a secondary limit without a header.
	if resp.StatusCode == http.StatusTooManyRequests {
		return time.Minute, true
	}
	return 0, false
}

// apiMessage is the "message" of an API error's JSON body, or its start.
func apiMessage(resp *http.Response) string {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return e.Message
	}
	return strings.TrimSpace(string(body))
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 10 * time.Minute}
}

func (c *Client) maxWait() time.Duration {
	if c.MaxWait > 0 {
		return c.MaxWait
	}
	return time.Minute
}

func (c *Client) wait(ctx context.Context, d time.Duration) error {
	if c.Wait != nil {
		return c.Wait(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) log() io.Writer {
	if c.Log != nil {
		return c.Log
	}
	return io.Discard
}

// repoURL is the API address of path under the repository.
func (c *Client) repoURL(path string) string {
	return strings.TrimSuffix(c.API, "/") + "/repos/" + c.Repo + path
}

// getJSON fetches url into v and returns the response's next page, "" on
// the last.
func (c *Client) getJSON(ctx context.Context, what, url string, v any) (string, error) {
	resp, err := c.do(ctx, what, func() (*http.Request, error) { return http.NewRequest(http.MethodGet, url, nil) })
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return "", fmt.Errorf("%s: reading the API's answer: %w", what, err)
	}
	return nextPage(resp.Header.Get("Link")), nil
}

// sendJSON sends v as JSON with method to url and decodes the answer into out.
func (c *Client) sendJSON(ctx context.Context, what, method, url string, v, out any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, what, func() (*http.Request, error) {
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: reading the API's answer: %w", what, err)
	}
	return nil
}

var linkNext = regexp.MustCompile(`<([^>]+)>;\s*rel="next"`)

// nextPage returns the rel="next" URL of a Link header, "" for none.
func nextPage(link string) string {
	if m := linkNext.FindStringSubmatch(link); m != nil {
		return m[1]
	}
	return ""
}

// Releases lists every release, drafts and pre-releases included, newest
// first as the API gives them, following the Link header through every
// page.
func (c *Client) Releases(ctx context.Context) ([]Release, error) {
	var all []Release
	next := c.repoURL("/releases?per_page=100")
	for page := 1; next != ""; page++ {
		var rels []Release
		var err error
		if next, err = c.getJSON(ctx, fmt.Sprintf("listing the releases of %s (page %d)", c.Repo, page), next, &rels); err != nil {
			return nil, err
		}
		all = append(all, rels...)
	}
	return all, nil
}

// ReleaseByTag returns the release of tag; the error wraps ErrNotFound when
// there is none (drafts have no tag yet and are not found).
func (c *Client) ReleaseByTag(ctx context.Context, tag string) (Release, error) {
	var r Release
	_, err := c.getJSON(ctx, "reading release "+tag, c.repoURL("/releases/tags/"+url.PathEscape(tag)), &r)
	return r, err
}

// Download writes the asset's bytes to w, fetched through the API with the
// token (the browser address would need none for a public repository, but
// not for a private one), and checks that they are as many as the API
// said.
func (c *Client) Download(ctx context.Context, a Asset, w io.Writer) error {
	what := "downloading " + a.Name
	resp, err := c.do(ctx, what, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodGet, a.URL, nil)
		if err == nil {
			req.Header.Set("Accept", "application/octet-stream")
		}
		return req, err
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n != a.Size {
		return fmt.Errorf("%s: got %d bytes, the API lists %d", what, n, a.Size)
	}
	return nil
}

// PagesURL is the address GitHub Pages serves the repository's site at
// (its custom domain, if one is set), from GET /repos/{repo}/pages; the
// token needs pages: read.
func (c *Client) PagesURL(ctx context.Context) (string, error) {
	var site struct {
		HTMLURL string `json:"html_url"`
	}
	if _, err := c.getJSON(ctx, "reading the GitHub Pages site of "+c.Repo, c.repoURL("/pages"), &site); err != nil {
		return "", err
	}
	if site.HTMLURL == "" {
		return "", fmt.Errorf("GitHub's API gives no Pages address for %s: set its Pages source to GitHub Actions (docs/releasing.md)", c.Repo)
	}
	return strings.TrimSuffix(site.HTMLURL, "/"), nil
}
