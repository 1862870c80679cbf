// Command fake-alert-sinks stands in, in the VM test, for the remote
// receivers of stigmer's alerts (a chat webhook, a mail relay), which cannot
// exist there: it listens on the guest's loopback and appends each delivery
// to a file as one JSON line, for the scenario to read.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/stigmer/stigmer/internal/alert/alerttest"
)

func main() {
	webhook := flag.String("webhook", "127.0.0.1:9099", "address of the fake webhook receiver")
	smtp := flag.String("smtp", "127.0.0.1:2525", "address of the fake SMTP relay")
	out := flag.String("out", "/var/tmp/fake-alert-sinks.jsonl", "file that each delivery is appended to")
	flag.Parse()
	if err := run(*webhook, *smtp, *out); err != nil {
		fmt.Fprintln(os.Stderr, "fake-alert-sinks:", err)
		os.Exit(1)
	}
}

func run(webhookAddr, smtpAddr, out string) error {
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	rec := alerttest.NewRecorder(f)
	smtpLn, err := net.Listen("tcp", smtpAddr)
	if err != nil {
		return err
	}
	hookLn, err := net.Listen("tcp", webhookAddr)
	if err != nil {
		return err
	}
	errs := make(chan error, 2)
	go func() { errs <- (&alerttest.FakeSMTP{Rec: rec}).Serve(smtpLn) }()
	go func() { errs <- http.Serve(hookLn, &alerttest.FakeWebhook{Rec: rec}) }()
	fmt.Println("fake-alert-sinks: webhook on", webhookAddr, "smtp on", smtpAddr, "recording to", out)
	return <-errs
}
