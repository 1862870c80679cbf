package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// postWebhook POSTs a as JSON, and once more after retryDelay when the
// first attempt failed in a way a retry can fix (no answer, 5xx, 429).
func (s *Sender) postWebhook(ctx context.Context, a Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	err = s.postOnce(ctx, body)
	var final *finalError
	if err == nil || errors.As(err, &final) {
		return err
	}
	select {
	case <-time.After(s.retryDelay):
	case <-ctx.Done():
		return err
	}
	if err2 := s.postOnce(ctx, body); err2 != nil {
		return fmt.Errorf("%w (and before the retry: %v)", err2, err)
	}
	return nil
}

// finalError is an answer that a retry would only repeat (4xx).
type finalError struct{ error }

func (s *Sender) postOnce(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return errors.New("cannot build the request (check STIGMER_ALERT_WEBHOOK_URL)")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "stigmer-alert")
	resp, err := s.client.Do(req)
	if err != nil {
		// A *url.Error repeats the whole URL, which may hold the
		// webhook's token: keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("answered %s", resp.Status)
	default:
		return &finalError{fmt.Errorf("answered %s (not retried: check the URL and the receiver's configuration)", resp.Status)}
	}
}
