// Package gpgkey holds an OpenPGP signing key in a GNUPGHOME of its own and
// signs with it through gpg: detached and clear-signed files, the public
// key's export, and the check that RHEL 8's rpm and current apt accept it.
//
// A release key is imported from the file the release engineer names, so
// that their keyring is neither needed nor touched and the key is the only,
// thus default, secret key; tests generate a throwaway one.
package gpgkey
