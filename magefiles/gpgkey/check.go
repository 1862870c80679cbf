package gpgkey

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MinRSABits is the smallest RSA modulus accepted: NIST and current
// distributions' crypto policies refuse anything shorter.
const MinRSABits = 2048

// Accepted digest algorithms for the key's self-signatures and bindings
// (RFC 4880 9.4): SHA-256, SHA-384, SHA-512. SHA-1 (2) is refused by
// current apt (sqv, gpgv with apt's weak-digest list) and by RHEL 9.
var acceptedDigests = map[int]string{8: "SHA-256", 9: "SHA-384", 10: "SHA-512"}

// Check fails, saying what is wrong and what to do, when the key would be
// refused by one of the tools that must verify it: the primary key and every
// subkey must be RSA of at least MinRSABits (rpm 4.14 on RHEL 8 knows no
// EdDSA or ECDSA), and every self-signature and binding must use SHA-256 or
// stronger; or when it expires within MinValidity (the message gives the
// gpg --quick-set-expire commands). It reads the public key's packets with
// gpg --list-packets, and the expiry with gpg --with-colons.
func (h *Home) Check(ctx context.Context) error {
	pub, err := h.Public(ctx, false)
	if err != nil {
		return err
	}
	dump, err := h.gpg(ctx, bytes.NewReader(pub), "--list-packets")
	if err != nil {
		return fmt.Errorf("reading the key's packets: %w", err)
	}
	if err := checkPackets(h.Fingerprint, dump); err != nil {
		return err
	}
	colons, err := h.gpg(ctx, nil, "--with-colons", "--fixed-list-mode", "--list-keys", h.Fingerprint)
	if err != nil {
		return fmt.Errorf("listing the key: %w", err)
	}
	return checkExpiry(h.Fingerprint, colons, time.Now())
}

// MinValidity is how long the key must stay valid after a release: hosts
// that installed this release verify the repository with it until the
// next one, and an expired key stops apt and dnf on every host at once,
// with a signature error.
const MinValidity = 365 * 24 * time.Hour

// checkExpiry fails when the primary key, or a subkey that signs, expires
// within MinValidity of now, reading gpg --with-colons output (field 7 is
// the expiry in Unix seconds, empty for none; field 12 the capabilities).
func checkExpiry(fpr string, colons []byte, now time.Time) error {
	var problems []string
	for _, line := range strings.Split(string(colons), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 12 || (f[0] != "pub" && f[0] != "sub") || f[6] == "" {
			continue
		}
		if f[0] == "sub" && !strings.Contains(f[11], "s") {
			continue // a subkey that does not sign is not used here
		}
		sec, err := strconv.ParseInt(f[6], 10, 64)
		if err != nil {
			return fmt.Errorf("reading the expiry of key %s: %q is not a time", fpr, f[6])
		}
		if exp := time.Unix(sec, 0); exp.Before(now.Add(MinValidity)) {
			what := "the primary key"
			if f[0] == "sub" {
				what = "signing subkey " + f[4]
			}
			problems = append(problems, fmt.Sprintf("%s expires on %s", what, exp.UTC().Format("2006-01-02")))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("signing key %s expires too soon for a release (hosts must verify the repository for at least a year after it): %s; extend it where the private key is kept, publish the public key again (docs/releasing.md: The release key) and export it anew:\n  gpg --quick-set-expire %s 3y\n  gpg --quick-set-expire %s 3y '*'",
		fpr, strings.Join(problems, ", "), fpr, fpr)
}

// checkPackets applies Check's rules to gpg --list-packets output.
func checkPackets(fpr string, dump []byte) error {
	var problems []string
	kind := ""
	sc := bufio.NewScanner(bytes.NewReader(dump))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, ":public key packet:"):
			kind = "primary key"
		case strings.HasPrefix(line, ":public sub key packet:"):
			kind = "subkey"
		case strings.HasPrefix(line, ":signature packet:"):
			kind = "signature"
		case strings.HasPrefix(line, ":"):
			kind = ""
		case (kind == "primary key" || kind == "subkey") && strings.HasPrefix(line, "version "):
			if algo := field(line, "algo"); algo != "1" && algo != "2" && algo != "3" {
				problems = append(problems, fmt.Sprintf("the %s is not RSA (OpenPGP algorithm %s); RHEL 8's rpm verifies RSA only", kind, algo))
			}
		case (kind == "primary key" || kind == "subkey") && strings.HasPrefix(line, "pkey[0]: ["):
			bits, _ := strconv.Atoi(strings.Fields(strings.TrimPrefix(line, "pkey[0]: ["))[0])
			if bits < MinRSABits {
				problems = append(problems, fmt.Sprintf("the %s has %d bits; use at least %d", kind, bits, MinRSABits))
			}
		case kind == "signature" && strings.HasPrefix(line, "digest algo "):
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.Fields(line)[2], ","))
			if _, ok := acceptedDigests[n]; !ok {
				problems = append(problems, fmt.Sprintf("a self-signature or binding uses digest algorithm %d (2 is SHA-1); current apt and RHEL 9 refuse it", n))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("signing key %s would be refused:\n  %s\nmake an RSA key of 3072 bits with SHA-256 or stronger signatures (gpg --quick-gen-key UID rsa3072 sign 3y; gpg 2.2 signs with SHA-512 by default), or re-sign this one's self-signatures with --cert-digest-algo SHA512",
		fpr, strings.Join(dedupe(problems), "\n  "))
}

// field returns the value after name in a "version 4, algo 1, created ..." line.
func field(line, name string) string {
	for _, part := range strings.Split(line, ",") {
		if f := strings.Fields(part); len(f) == 2 && f[0] == name {
			return f[1]
		}
	}
	return ""
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
