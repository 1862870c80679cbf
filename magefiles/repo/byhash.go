package repo

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// hash is one of the sums Release lists, as apt names its section and its
// by-hash directory.
type hash struct {
	name string // Release's section and the by-hash directory: SHA256, SHA512
	sum  func([]byte) string
}

// byHash are the hashes Release lists (apt-ftparchive with noWeakHashes)
// and so the by-hash directories written: apt fetches an index by the
// strongest hash Release lists, and a by-hash tree missing it makes apt
// fall back to the plain name, the race by-hash exists to close.
var byHash = []hash{
	{"SHA256", func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }},
	{"SHA512", func(b []byte) string { s := sha512.Sum512(b); return hex.EncodeToString(s[:]) }},
}

// releaseEntry is one file a Release lists: its path under the suite, its
// size and its sum for each hash listed.
type releaseEntry struct {
	path string
	size int64
	sums map[string]string // hash name -> hex
}

// parseRelease reads the file lists of a Release (or InRelease: the
// signature lines are outside the sections and skipped) and returns the
// entries in the order first listed, and the names of the hash sections.
func parseRelease(data []byte) ([]releaseEntry, []string, error) {
	byPath := map[string]*releaseEntry{}
	var order []string
	var sections []string
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, " ") {
			section = ""
			if name, rest, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(rest) == "" && knownHash(name) {
				section = name
				sections = append(sections, name)
			}
			continue
		}
		if section == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, nil, fmt.Errorf("reading Release: %s line %q is not 'sum size path'", section, line)
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("reading Release: %s line %q: %w", section, line, err)
		}
		e, ok := byPath[f[2]]
		if !ok {
			e = &releaseEntry{path: f[2], size: size, sums: map[string]string{}}
			byPath[f[2]] = e
			order = append(order, f[2])
		}
		e.sums[section] = f[0]
	}
	entries := make([]releaseEntry, 0, len(order))
	for _, p := range order {
		entries = append(entries, *byPath[p])
	}
	return entries, sections, sc.Err()
}

// knownHash says whether name is a Release hash section (MD5Sum and SHA1
// included, so that a Release listing them is read, and found wanting).
func knownHash(name string) bool {
	switch name {
	case "MD5Sum", "SHA1", "SHA256", "SHA512":
		return true
	}
	return false
}
