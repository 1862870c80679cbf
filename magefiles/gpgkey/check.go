package gpgkey

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
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
// stronger. It reads the public key's packets with gpg --list-packets.
func (h *Home) Check(ctx context.Context) error {
	pub, err := h.Public(ctx, false)
	if err != nil {
		return err
	}
	dump, err := h.gpg(ctx, bytes.NewReader(pub), "--list-packets")
	if err != nil {
		return fmt.Errorf("reading the key's packets: %w", err)
	}
	return checkPackets(h.Fingerprint, dump)
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
	return fmt.Errorf("signing key %s would be refused:\n  %s\nmake an RSA key of 3072 bits with SHA-256 or stronger signatures (gpg --quick-gen-key UID rsa3072 sign; gpg 2.2 signs with SHA-512 by default), or re-sign this one's self-signatures with --cert-digest-algo SHA512",
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
