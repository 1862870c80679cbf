// Command vulnerable is a test fixture for the vulnerability check: it
// calls golang.org/x/text/language.ParseAcceptLanguage from x/text v0.3.7,
// which GO-2022-1059 names (fixed in v0.3.8).
package main

import (
	"fmt"
	"os"

	"golang.org/x/text/language"
)

func main() {
	tags, _, err := language.ParseAcceptLanguage(os.Getenv("ACCEPT_LANGUAGE"))
	fmt.Println(tags, err)
}
