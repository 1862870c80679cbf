// Package vulncheck runs govulncheck (a go.mod tool) over the module's
// source and over the binaries the packages ship, and fails on a known
// vulnerability that the code can reach, naming the entry, the module and
// the version that fixes it.
//
// It reads govulncheck's JSON stream (https://go.dev/security/vuln/protocol)
// and counts a vulnerability as reachable when a finding names a called
// symbol, as govulncheck's own exit status does; imported-but-not-called
// ones are listed as such and do not fail. A finding may be excused only by
// an entry in the repository's reviewed list (Excusals), with a reason and
// an expiry date.
//
// The database is govulncheck's default when it can be reached; otherwise
// (machines whose only network is the Go module proxy) it is made from the
// data/osv folder of the pinned golang.org/x/vulndb module, in the layout
// govulncheck reads with -db file://DIR (https://go.dev/security/vuln/database#api).
package vulncheck
