// Package alerttest has fake alert receivers, a webhook endpoint and an SMTP relay that record what they are given, for tests here and in the VM (the real ones are remote services).
package alerttest

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Received is one delivery a fake got.
type Received struct {
	Sink string    `json:"sink"` // "webhook" or "mail"
	Time time.Time `json:"time"`
	// Webhook: the body. Mail: the DATA, plus the envelope and whether
	// the session was under TLS.
	Body     string   `json:"body"`
	From     string   `json:"from,omitempty"`
	To       []string `json:"to,omitempty"`
	TLS      bool     `json:"tls,omitempty"`
	Path     string   `json:"path,omitempty"`
	AuthUser string   `json:"auth_user,omitempty"`
}

// Recorder keeps what the fakes received, and appends each as a JSON
// line to a file when it has one (the VM reads it from the shell).
type Recorder struct {
	mu   sync.Mutex
	got  []Received
	file io.Writer
}

// NewRecorder returns a recorder; file may be nil.
func NewRecorder(file io.Writer) *Recorder { return &Recorder{file: file} }

func (r *Recorder) add(rc Received) {
	rc.Time = time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rc)
	if r.file != nil {
		b, _ := json.Marshal(rc)
		fmt.Fprintf(r.file, "%s\n", b)
		if f, ok := r.file.(*os.File); ok {
			_ = f.Sync()
		}
	}
}

// Got returns what was received so far.
func (r *Recorder) Got() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Received{}, r.got...)
}

// FakeWebhook answers POSTs with Status (200 when zero) and records them.
type FakeWebhook struct {
	Rec *Recorder
	mu  sync.Mutex
	// Fail makes the next n requests answer 503.
	fail int
}

// FailNext makes the next n requests fail with 503 (still recorded).
func (f *FakeWebhook) FailNext(n int) { f.mu.Lock(); f.fail = n; f.mu.Unlock() }

func (f *FakeWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	f.Rec.add(Received{Sink: "webhook", Body: string(body), Path: r.URL.Path})
	f.mu.Lock()
	failing := f.fail > 0
	if failing {
		f.fail--
	}
	f.mu.Unlock()
	if failing {
		http.Error(w, "fake failure", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// FakeSMTP is a relay that accepts every message. With TLS set it offers
// STARTTLS, or, with Implicit too, speaks TLS from the first byte (SMTPS).
// Like real relays it answers 501 to an envelope address that is not a
// bare <local@domain>.
type FakeSMTP struct {
	Rec      *Recorder
	TLS      *tls.Config
	Implicit bool
}

// Serve accepts sessions on ln until it is closed.
func (f *FakeSMTP) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go f.session(c)
	}
}

func (f *FakeSMTP) session(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	var rc Received
	rc.Sink = "mail"
	if f.Implicit {
		tc := tls.Server(c, f.TLS)
		if tc.Handshake() != nil {
			return
		}
		c, rc.TLS = tc, true
	}
	rw := bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
	say := func(s string) { rw.WriteString(s + "\r\n"); rw.Flush() }
	say("220 fake-smtp ESMTP (a stand-in that records)")
	for {
		line, err := rw.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch {
		case verb == "EHLO" || verb == "HELO":
			if f.TLS != nil && !rc.TLS {
				say("250-fake-smtp\r\n250-AUTH PLAIN\r\n250 STARTTLS")
			} else {
				say("250-fake-smtp\r\n250 AUTH PLAIN")
			}
		case verb == "STARTTLS" && f.TLS != nil:
			say("220 go ahead")
			tc := tls.Server(c, f.TLS)
			if tc.Handshake() != nil {
				return
			}
			c = tc
			rw = bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
			rc.TLS = true
		case verb == "AUTH":
			rc.AuthUser = plainUser(line)
			say("235 ok")
		case verb == "MAIL":
			addr, ok := envelopeAddr(line, "MAIL FROM:")
			if !ok {
				say("501 5.1.7 Bad sender address syntax")
				continue
			}
			rc.From = addr
			say("250 ok")
		case verb == "RCPT":
			addr, ok := envelopeAddr(line, "RCPT TO:")
			if !ok {
				say("501 5.1.3 Bad recipient address syntax")
				continue
			}
			rc.To = append(rc.To, addr)
			say("250 ok")
		case verb == "DATA":
			say("354 end with .")
			var body strings.Builder
			for {
				l, err := rw.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				body.WriteString(strings.TrimPrefix(l, "."))
			}
			rc.Body = body.String()
			f.Rec.add(rc)
			rc = Received{Sink: "mail", TLS: rc.TLS}
			say("250 queued")
		case verb == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

// envelopeAddr is the address of "MAIL FROM:<a@b> ..." or "RCPT TO:<a@b>":
// a bare path, as RFC 5321 wants it; ok is false for anything else
// ("<Name <a@b>>", spaces, no @).
func envelopeAddr(line, verb string) (string, bool) {
	if len(line) < len(verb) || !strings.EqualFold(line[:len(verb)], verb) {
		return "", false
	}
	path, _, _ := strings.Cut(line[len(verb):], " ") // ESMTP parameters follow
	if !strings.HasPrefix(path, "<") || !strings.HasSuffix(path, ">") {
		return "", false
	}
	addr := path[1 : len(path)-1]
	if strings.ContainsAny(addr, "<> \"") || strings.Count(addr, "@") != 1 {
		return "", false
	}
	return addr, true
}

// plainUser decodes the user of an AUTH PLAIN line (the password is not
// kept).
func plainUser(line string) string {
	f := strings.Fields(line)
	if len(f) < 3 {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil {
		return ""
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// Sinks are a FakeWebhook and a FakeSMTP serving on loopback for a test,
// recording into one Recorder.
type Sinks struct {
	Rec  *Recorder
	Hook *FakeWebhook
	// WebhookURL is the fake webhook's URL, with a path that stands for
	// a token (/hook/s3cr3t); SMTPAddr is the relay's host:port.
	WebhookURL, SMTPAddr string
}

// Serve starts both fakes for the test t (the relay offers STARTTLS with
// tlsCfg when it is set); they stop when t ends.
func Serve(t testing.TB, tlsCfg *tls.Config) *Sinks {
	t.Helper()
	s := &Sinks{Rec: NewRecorder(nil)}
	s.Hook = &FakeWebhook{Rec: s.Rec}
	srv := httptest.NewServer(s.Hook)
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for the fake relay: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go (&FakeSMTP{Rec: s.Rec, TLS: tlsCfg}).Serve(ln)
	s.WebhookURL, s.SMTPAddr = srv.URL+"/hook/s3cr3t", ln.Addr().String()
	return s
}
