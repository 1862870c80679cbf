//go:build releasecheck

package releasecheck

import (
	"bufio"
	"bytes"
	"debug/macho"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"

	"github.com/stigmer/stigmer/internal/buildinfo"
	"github.com/stigmer/stigmer/magefiles/pkgbuild"
	"github.com/stigmer/stigmer/magefiles/release"
)

// actionlint is the pinned workflow linter, run like GoReleaser.
const actionlint = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"

// TestGoreleaserCheck validates .goreleaser.yaml with the pinned GoReleaser:
// no error and no deprecation warning.
func TestGoreleaserCheck(t *testing.T) {
	res := icmd.RunCmd(icmd.Command("go", "run", release.GoReleaser, "check"),
		icmd.Dir(repoRoot()), icmd.WithTimeout(30*time.Minute))
	res.Assert(t, icmd.Success)
	out := res.Combined()
	assert.Assert(t, !strings.Contains(strings.ToLower(out), "deprecat"), "goreleaser check warns:\n%s", out)
	assert.Assert(t, is.Contains(out, "1 configuration file(s) validated"))
}

// TestActionlint lints the release workflow (and any other workflow).
func TestActionlint(t *testing.T) {
	res := icmd.RunCmd(icmd.Command("go", "run", actionlint, "-no-color"),
		icmd.Dir(repoRoot()), icmd.WithTimeout(30*time.Minute))
	res.Assert(t, icmd.Expected{ExitCode: 0, Out: icmd.None})
}

// TestSnapshotSaysSo checks that a run without tag, CI or token tells that
// it is a snapshot and publishes nothing.
func TestSnapshotSaysSo(t *testing.T) {
	c := snapA.get(t)
	assert.Assert(t, is.Contains(c.out, "snapshot release 0.0.0-git."))
	assert.Assert(t, is.Contains(c.out, "nothing is published (no v* tag at HEAD"))
	assert.Assert(t, is.Contains(c.out, "unsigned, and so no apt or dnf repository: set STIGMER_SIGN_KEY_FILE"))
}

// TestReproducible compares two snapshot releases of the same commit made in
// two clones at different paths: archives, SBOMs, packages and checksums.txt
// must be byte-identical. It prints each artifact's size.
func TestReproducible(t *testing.T) {
	a, b := snapA.get(t), snapB.get(t)
	names := releaseFiles(t, a.release)
	assert.DeepEqual(t, names, releaseFiles(t, b.release))
	compared := 0
	for _, n := range names {
		if !regexp.MustCompile(`\.(tar\.gz|deb|rpm|sbom\.cdx\.json)$|^checksums\.txt$`).MatchString(n) {
			continue
		}
		info, err := os.Stat(filepath.Join(a.release, n))
		assert.NilError(t, err)
		fmt.Printf("FIGURE size of %-48s %9d bytes (%.1f MiB)\n", n, info.Size(), float64(info.Size())/(1<<20))
		assert.Check(t, is.Equal(fileSHA(t, filepath.Join(a.release, n)), fileSHA(t, filepath.Join(b.release, n))), "%s differs between two clones", n)
		compared++
	}
	assert.Equal(t, compared, 13) // 4 archives (2 linux, 2 darwin), 4 SBOMs, 2 debs, 2 rpms, checksums.txt
}

// TestPackagesMatchPackageTarget reads back the release's .deb and .rpm and
// those of `go tool mage package` in the same clone, with dpkg-deb and rpm:
// file list, modes, owners, conffiles, scripts and metadata must be equal.
func TestPackagesMatchPackageTarget(t *testing.T) {
	c := snapA.get(t)
	for _, kind := range []string{"deb", "rpm"} {
		for _, arch := range pkgbuild.Arches {
			t.Run(kind+"/"+arch, func(t *testing.T) {
				rel, pkg := pick(t, c.release, kind, arch), pick(t, c.pkgDist, kind, arch)
				assert.Equal(t, filepath.Base(rel), release.AssetName(filepath.Base(pkg)))
				readBack := debReadBack
				if kind == "rpm" {
					readBack = rpmReadBack
				}
				assert.Equal(t, readBack(t, rel), readBack(t, pkg))
				fmt.Printf("release and package target %s/%s byte-identical: %v\n", kind, arch, fileSHA(t, rel) == fileSHA(t, pkg))
			})
		}
	}
}

// TestBinariesIdentical extracts the binary from each archive, .deb and
// .rpm of the release and from the package target's .deb: the same bytes
// per arch, since every build is reproducible (GoReleaser's builds and
// pkgbuild's use the same flags).
func TestBinariesIdentical(t *testing.T) {
	c := snapA.get(t)
	for _, arch := range pkgbuild.Arches {
		t.Run(arch, func(t *testing.T) {
			want := sha(t, archiveBinary(t, pick(t, c.release, "tar.gz", arch)))
			assert.Equal(t, sha(t, debBinary(t, pick(t, c.release, "deb", arch))), want, "release .deb")
			assert.Equal(t, sha(t, rpmBinary(t, pick(t, c.release, "rpm", arch))), want, "release .rpm")
			assert.Equal(t, sha(t, debBinary(t, pick(t, c.pkgDist, "deb", arch))), want, "package target .deb")
		})
	}
}

// TestArchiveContents lists each archive: the binary, README, LICENSE and
// the packaging files for an install by hand, owned by root, with the commit
// time, and each packaging file with the mode packaging/nfpm.yaml gives it.
func TestArchiveContents(t *testing.T) {
	c := snapA.get(t)
	b, err := pkgbuild.New(t.Context(), c.dir, os.Stdout, pkgbuild.Options{})
	assert.NilError(t, err)
	cfg, err := b.Config("amd64")
	assert.NilError(t, err)
	info, err := cfg.Get("deb")
	assert.NilError(t, err)
	declared := map[string]string{} // src -> mode
	for _, f := range info.Contents {
		declared[f.Source] = fmt.Sprintf("%04o", f.FileInfo.Mode)
	}
	for _, arch := range pkgbuild.Arches {
		t.Run(arch, func(t *testing.T) {
			path := pick(t, c.release, "tar.gz", arch)
			top := strings.TrimSuffix(filepath.Base(path), ".tar.gz") + "/"
			files := readTarGz(t, path)
			got := archiveListing(t, files, top, b.Date)
			assert.DeepEqual(t, got, []string{
				"LICENSE 0644",
				"README.md 0644",
				"default/stigmer " + declared["packaging/stigmer.env"],
				"stigmer " + declared[filepath.Join(b.Dist, ".build", "linux_amd64", "stigmer")],
				"systemd/stigmer.service " + declared["packaging/stigmer.service"],
				"sysusers.d/stigmer.conf " + declared["packaging/stigmer.sysusers"],
				"tmpfiles.d/stigmer.conf " + declared["packaging/stigmer.tmpfiles"],
			})
			for dst, src := range map[string]string{
				"LICENSE": "LICENSE", "README.md": "README.md",
				"default/stigmer": "packaging/stigmer.env", "systemd/stigmer.service": "packaging/stigmer.service",
				"sysusers.d/stigmer.conf": "packaging/stigmer.sysusers", "tmpfiles.d/stigmer.conf": "packaging/stigmer.tmpfiles",
			} {
				want, err := os.ReadFile(filepath.Join(c.dir, src))
				assert.NilError(t, err)
				assert.Check(t, is.Equal(string(files[top+dst].data), string(want)), "%s differs from %s", dst, src)
			}
		})
	}
}

// TestDarwinArchives lists each macOS archive: the binary, README and
// LICENSE only (no systemd files), owned by root with the commit time, and
// a binary that is a Mach-O executable for the archive's arch, with its
// SBOM beside the archive.
func TestDarwinArchives(t *testing.T) {
	c := snapA.get(t)
	b, err := pkgbuild.New(t.Context(), c.dir, os.Stdout, pkgbuild.Options{})
	assert.NilError(t, err)
	for arch, cpu := range map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64} {
		t.Run(arch, func(t *testing.T) {
			path := pick(t, c.release, "tar.gz", "darwin/"+arch)
			assert.Equal(t, filepath.Base(path), "stigmer_"+b.Version+"_darwin_"+arch+".tar.gz")
			top := strings.TrimSuffix(filepath.Base(path), ".tar.gz") + "/"
			files := readTarGz(t, path)
			got := archiveListing(t, files, top, b.Date)
			assert.DeepEqual(t, got, []string{"LICENSE 0644", "README.md 0644", "stigmer 0755"})
			for _, name := range []string{"LICENSE", "README.md"} {
				want, err := os.ReadFile(filepath.Join(c.dir, name))
				assert.NilError(t, err)
				assert.Check(t, is.Equal(string(files[top+name].data), string(want)), "%s differs", name)
			}

			bin, err := macho.NewFile(bytes.NewReader(archiveBinary(t, path)))
			assert.NilError(t, err, "the darwin/%s binary is not a Mach-O file", arch)
			assert.Equal(t, bin.Cpu, cpu)
			assert.Equal(t, bin.Type, macho.TypeExec)

			sbom, err := os.ReadFile(strings.TrimSuffix(path, ".tar.gz") + ".sbom.cdx.json")
			assert.NilError(t, err)
			assert.Assert(t, is.Contains(string(sbom), "goarch="+arch))
		})
	}
}

// TestChecksums checks that checksums.txt lists every release asset
// (archives, SBOMs, packages) with its SHA-256, and sha256sum -c agrees; a
// tampered package fails it.
func TestChecksums(t *testing.T) {
	c := snapA.get(t)
	sums := readSums(t, filepath.Join(c.release, "checksums.txt"))
	var want []string
	paths, err := filepath.Glob(filepath.Join(c.release, "*.sbom.cdx.json"))
	assert.NilError(t, err)
	for _, a := range assets(t, c.release) {
		paths = append(paths, a.path)
	}
	for _, p := range paths {
		want = append(want, filepath.Base(p))
		assert.Check(t, is.Equal(sums[filepath.Base(p)], fileSHA(t, p)), "%s", p)
	}
	var got []string
	for n := range sums {
		got = append(got, n)
	}
	sort.Strings(got)
	sort.Strings(want)
	assert.DeepEqual(t, got, want)
	icmd.RunCmd(icmd.Command("sha256sum", "--strict", "-c", "checksums.txt"), icmd.Dir(c.release)).Assert(t, icmd.Success)

	dir := t.TempDir()
	deb := pick(t, c.release, "deb", "amd64")
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "checksums.txt"), []byte(fmt.Sprintf("%s  %s\n", sums[filepath.Base(deb)], filepath.Base(deb))), 0o644))
	tampered := copyTampered(t, deb, -100)
	assert.NilError(t, os.Rename(tampered, filepath.Join(dir, filepath.Base(deb))))
	res := icmd.RunCmd(icmd.Command("sha256sum", "-c", "checksums.txt"), icmd.Dir(dir))
	assert.Assert(t, res.ExitCode != 0, "sha256sum -c passed a tampered package")
}

func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	assert.NilError(t, err)
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		assert.Assert(t, len(fields) == 2, "checksums.txt line %q", sc.Text())
		out[fields[1]] = fields[0]
	}
	assert.NilError(t, sc.Err())
	return out
}

// TestSignatures verifies, with only the throwaway public key, the GPG
// signature of checksums.txt, the rpm signatures (rpm -K) and the deb's
// _gpgorigin (debsig-verify, and gpg by hand as the README shows); then
// flips one byte of each file and expects each check to fail.
func TestSignatures(t *testing.T) {
	c := signedRC.get(t)
	k := c.key
	gpgEnv := publicKeyring(t, k)

	t.Run("checksums.txt", func(t *testing.T) {
		sums := filepath.Join(c.release, "checksums.txt")
		res := runEnv(gpgEnv, "gpg", "--batch", "--verify", sums+".sig", sums)
		res.Assert(t, icmd.Expected{ExitCode: 0, Err: "Good signature from \"Stigmer Release Test"})
		bad := copyTampered(t, sums, 10)
		res = runEnv(gpgEnv, "gpg", "--batch", "--verify", sums+".sig", bad)
		res.Assert(t, icmd.Expected{ExitCode: 1, Err: "BAD signature"})
	})

	t.Run("rpm", func(t *testing.T) {
		lookPath(t, "rpmkeys")
		db := t.TempDir()
		run(t, "rpmkeys", "--dbpath", db, "--import", k.public)
		for _, arch := range pkgbuild.Arches {
			rpm := pick(t, c.release, "rpm", arch)
			res := icmd.RunCmd(icmd.Command("rpm", "--dbpath", db, "-K", "-v", rpm))
			res.Assert(t, icmd.Success)
			assert.Assert(t, is.Contains(res.Stdout(), "Header V4 RSA/SHA256 Signature, key ID "+strings.ToLower(k.keyID[8:])+": OK"))
			assert.Assert(t, is.Contains(run(t, "rpm", "--dbpath", db, "-K", rpm), "digests signatures OK"))
			res = icmd.RunCmd(icmd.Command("rpm", "--dbpath", db, "-K", copyTampered(t, rpm, -100)))
			assert.Assert(t, res.ExitCode != 0, "rpm -K passed a tampered rpm:\n%s", res.Combined())
		}
		// Without the key imported, rpm fails the check.
		res := icmd.RunCmd(icmd.Command("rpm", "--dbpath", t.TempDir(), "-K", pick(t, c.release, "rpm", "amd64")))
		assert.Assert(t, res.ExitCode != 0 && strings.Contains(res.Combined(), "SIGNATURES NOT OK"), "%s", res.Combined())
	})

	t.Run("deb", func(t *testing.T) {
		lookPath(t, "debsig-verify")
		policies, keyrings := t.TempDir(), t.TempDir()
		assert.NilError(t, os.MkdirAll(filepath.Join(policies, k.keyID), 0o755))
		assert.NilError(t, os.MkdirAll(filepath.Join(keyrings, k.keyID), 0o755))
		assert.NilError(t, os.WriteFile(filepath.Join(policies, k.keyID, "stigmer.pol"), []byte(debsigPolicy(k.keyID)), 0o644))
		ring := filepath.Join(keyrings, k.keyID, "debsig.gpg")
		runEnv(gpgEnv, "gpg", "--batch", "--output", ring, "--export", k.keyID).Assert(t, icmd.Success)
		for _, arch := range pkgbuild.Arches {
			deb := pick(t, c.release, "deb", arch)
			res := icmd.RunCmd(icmd.Command("debsig-verify", "--policies-dir", policies, "--keyrings-dir", keyrings, deb))
			res.Assert(t, icmd.Expected{ExitCode: 0, Out: "Verified package from 'Stigmer"})
			res = icmd.RunCmd(icmd.Command("debsig-verify", "--policies-dir", policies, "--keyrings-dir", keyrings, copyTampered(t, deb, -100)))
			assert.Assert(t, res.ExitCode != 0, "debsig-verify passed a tampered deb:\n%s", res.Combined())

			// By hand, as the README's "Verify a download" shows: _gpgorigin signs
			// debian-binary, control.tar.* and data.tar.* concatenated.
			dir := t.TempDir()
			icmd.RunCmd(icmd.Command("ar", "x", deb), icmd.Dir(dir)).Assert(t, icmd.Success)
			res = icmd.RunCmd(icmd.Command("sh", "-c", `cat debian-binary control.tar.* data.tar.* | gpg --batch --verify _gpgorigin -`),
				icmd.Dir(dir), icmd.WithEnv(append(os.Environ(), gpgEnv...)...))
			res.Assert(t, icmd.Expected{ExitCode: 0, Err: "Good signature"})
		}
	})

	t.Run("unsigned without a key", func(t *testing.T) {
		u := snapA.get(t)
		assert.Assert(t, !strings.Contains(run(t, "rpm", "-qpi", pick(t, u.release, "rpm", "amd64")), "Key ID"))
		assert.Assert(t, !strings.Contains(run(t, "ar", "t", pick(t, u.release, "deb", "amd64")), "_gpgorigin"))
		_, err := os.Stat(filepath.Join(u.release, "checksums.txt.sig"))
		assert.Assert(t, os.IsNotExist(err))
	})
}

// debsigPolicy is a debsig-verify policy accepting origin signatures of id.
func debsigPolicy(id string) string {
	return `<?xml version="1.0"?>
<!DOCTYPE Policy SYSTEM "https://www.debian.org/debsig/1.0/policy.dtd">
<Policy xmlns="https://www.debian.org/debsig/1.0/">
  <Origin Name="Stigmer" id="` + id + `" Description="Stigmer release test key"/>
  <Selection>
    <Required Type="origin" File="debsig.gpg" id="` + id + `"/>
  </Selection>
  <Verification MinOptional="0">
    <Required Type="origin" File="debsig.gpg" id="` + id + `"/>
  </Verification>
</Policy>
`
}

// TestVersionMapping checks that tag v1.2.3 gives 1.2.3 everywhere (binary,
// archive and package names, package metadata) and v1.2.3-rc.1 gives
// 1.2.3-rc.1 and package versions that sort before 1.2.3 in dpkg and rpm.
func TestVersionMapping(t *testing.T) {
	type versions struct{ binary, deb, rpm string }
	read := func(t *testing.T, c *clone, semver string) versions {
		t.Helper()
		for _, a := range assets(t, c.release) {
			want := release.AssetName(pkgbuild.PackageVersion(semver)) // 1.2.3.rc.1
			if a.kind == "tar.gz" {
				want = "_" + semver + "_" // stigmer_1.2.3-rc.1_linux_amd64
			}
			assert.Check(t, is.Contains(filepath.Base(a.path), want))
		}
		bin := filepath.Join(t.TempDir(), "stigmer")
		assert.NilError(t, os.WriteFile(bin, archiveBinary(t, pick(t, c.release, "tar.gz", runtime.GOARCH)), 0o755))
		var info buildinfo.Info
		assert.NilError(t, json.Unmarshal([]byte(run(t, bin, "version", "--json")), &info))
		return versions{
			binary: info.Version,
			deb:    strings.TrimSpace(run(t, "dpkg-deb", "-f", pick(t, c.release, "deb", runtime.GOARCH), "Version")),
			rpm:    run(t, "rpm", "-qp", "--qf", "%{VERSION}-%{RELEASE}", pick(t, c.release, "rpm", runtime.GOARCH)),
		}
	}
	rc := read(t, signedRC.get(t), "1.2.3-rc.1")
	rel := read(t, final.get(t), "1.2.3")
	assert.Equal(t, rc, versions{binary: "1.2.3-rc.1", deb: "1.2.3~rc.1", rpm: "1.2.3~rc.1-1"})
	assert.Equal(t, rel, versions{binary: "1.2.3", deb: "1.2.3", rpm: "1.2.3-1"})

	icmd.RunCmd(icmd.Command("dpkg", "--compare-versions", rc.deb, "lt", rel.deb)).Assert(t, icmd.Success)
	cmp := strings.TrimSpace(run(t, "rpm", "--eval", fmt.Sprintf(`%%{lua: print(rpm.vercmp(%q, %q))}`, rc.rpm, rel.rpm)))
	n, err := strconv.Atoi(cmp)
	assert.NilError(t, err, cmp)
	assert.Assert(t, n < 0, "rpm orders %s after %s (vercmp %d)", rc.rpm, rel.rpm, n)
}

// TestDirtyTreeRefused runs what would be a real release (tag at HEAD, CI,
// token) on a tree with a changed file: mage release must refuse, name the
// file and build nothing.
func TestDirtyTreeRefused(t *testing.T) {
	c, err := newClone("dirty", "v9.9.9")
	assert.NilError(t, err)
	readme := filepath.Join(c.dir, "README.md")
	data, err := os.ReadFile(readme)
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(readme, append(data, "edited\n"...), 0o644))
	out, err := c.mage(map[string]string{"CI": "true", release.EnvToken: "not-a-real-token"}, "release")
	assert.Assert(t, err != nil, "a dirty tree was released:\n%s", out)
	assert.Assert(t, is.Contains(out, "refusing to publish v9.9.9 from a dirty tree"))
	assert.Assert(t, is.Contains(out, " M README.md"))
	_, err = os.Stat(filepath.Join(c.dir, "dist"))
	assert.Assert(t, os.IsNotExist(err), "dist/ was created")
}

// TestSBOM reads the CycloneDX SBOM of each archive: it describes the
// stigmer module at the release version for the archive's arch, and lists
// the modules of go.mod that the binary links, at their go.mod versions.
func TestSBOM(t *testing.T) {
	c := snapA.get(t)
	b, err := pkgbuild.New(t.Context(), c.dir, os.Stdout, pkgbuild.Options{})
	assert.NilError(t, err)
	for _, arch := range pkgbuild.Arches {
		t.Run(arch, func(t *testing.T) {
			archive := filepath.Base(pick(t, c.release, "tar.gz", arch))
			path := filepath.Join(c.release, strings.TrimSuffix(archive, ".tar.gz")+".sbom.cdx.json")
			data, err := os.ReadFile(path)
			assert.NilError(t, err)
			var bom struct {
				BOMFormat string `json:"bomFormat"`
				Metadata  struct {
					Component struct{ Name, Version, Purl string }
				}
				Components []struct{ Name, Version, Purl string }
			}
			assert.NilError(t, json.Unmarshal(data, &bom))
			assert.Equal(t, bom.BOMFormat, "CycloneDX")
			assert.Equal(t, bom.Metadata.Component.Name, "github.com/stigmer/stigmer")
			assert.Equal(t, bom.Metadata.Component.Version, "v"+b.Version)
			assert.Assert(t, is.Contains(bom.Metadata.Component.Purl, "goarch="+arch))
			got := map[string]string{}
			for _, comp := range bom.Components {
				got[comp.Name] = comp.Version
				assert.Check(t, is.Contains(comp.Purl, "goarch="+arch), "%s", comp.Name)
			}
			cobra := icmd.RunCmd(icmd.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/spf13/cobra"), icmd.Dir(c.dir))
			cobra.Assert(t, icmd.Success)
			assert.Equal(t, got["github.com/spf13/cobra"], strings.TrimSpace(cobra.Stdout()))
			assert.Equal(t, got["std"], runtime.Version())
		})
	}
}

// archiveListing checks that every member of an archive is owned by root
// and dated at the commit time, and lists them as "name mode" (names
// without the archive's top directory), sorted.
func archiveListing(t *testing.T, files map[string]entry, top string, date time.Time) []string {
	t.Helper()
	var got []string
	for name, e := range files {
		assert.Check(t, is.Equal(e.hdr.ModTime.UTC(), date), "%s mtime", name)
		assert.Check(t, e.hdr.Uid == 0 && e.hdr.Gid == 0 && e.hdr.Uname == "root" && e.hdr.Gname == "root", "%s owner %d:%d %s:%s", name, e.hdr.Uid, e.hdr.Gid, e.hdr.Uname, e.hdr.Gname)
		got = append(got, fmt.Sprintf("%s %04o", strings.TrimPrefix(name, top), e.hdr.Mode&0o7777))
	}
	sort.Strings(got)
	return got
}

// TestRepository reads the signed snapshot's apt and dnf repository with
// only the release's public key: InRelease and repomd.xml.asc verify, the
// key the tree hands out is the release key, the pool holds the release's
// four packages byte for byte, and apt's indexes list each arch's .deb at
// the release's version. An unsigned release writes no repository.
func TestRepository(t *testing.T) {
	c := signedRC.get(t)
	tree := filepath.Join(c.dir, release.RepoDir)
	gpgEnv := publicKeyring(t, c.key)

	runEnv(gpgEnv, "gpg", "--batch", "--verify", filepath.Join(tree, "dists/stable/InRelease")).
		Assert(t, icmd.Expected{ExitCode: 0, Err: "Good signature from \"Stigmer Release Test"})
	runEnv(gpgEnv, "gpg", "--batch", "--verify", filepath.Join(tree, "repodata/repomd.xml.asc"), filepath.Join(tree, "repodata/repomd.xml")).
		Assert(t, icmd.Expected{ExitCode: 0, Err: "Good signature from \"Stigmer Release Test"})
	shown := run(t, "gpg", "--batch", "--with-colons", "--show-keys", filepath.Join(tree, "stigmer-archive-keyring.gpg"))
	assert.Assert(t, is.Contains(shown, c.key.keyID), "the tree's keyring is not the release key")

	for _, format := range pkgbuild.Formats {
		for _, arch := range pkgbuild.Arches {
			pkg := pick(t, filepath.Join(c.dir, release.PackageDir), format, arch)
			pooled := filepath.Join(tree, "pool/main/s/stigmer", release.AssetName(filepath.Base(pkg)))
			assert.Equal(t, fileSHA(t, pooled), fileSHA(t, pkg), "%s in the pool", filepath.Base(pkg))
		}
	}
	for _, arch := range pkgbuild.Arches {
		index, err := os.ReadFile(filepath.Join(tree, "dists/stable/main/binary-"+arch, "Packages"))
		assert.NilError(t, err)
		assert.Assert(t, is.Contains(string(index), "Version: 1.2.3~rc.1\n"))
		assert.Assert(t, is.Contains(string(index), "Architecture: "+arch+"\n"))
	}
	sources, err := os.ReadFile(filepath.Join(tree, "stigmer.sources"))
	assert.NilError(t, err)
	assert.Assert(t, is.Contains(string(sources), "URIs: file://"+tree+"/\n"), "a snapshot's tree serves itself")

	_, err = os.Stat(filepath.Join(snapB.get(t).dir, release.RepoDir))
	assert.Assert(t, os.IsNotExist(err), "an unsigned release wrote a repository")
}
