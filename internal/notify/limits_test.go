package notify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// sesServer is a local SES v2 endpoint, strict about SendEmail's request
// (route, signature scope, JSON shape): the first throttled requests get
// 429 TooManyRequestsException, the ones after a message id. block makes
// it hold every request until the client gives up. moto cannot throttle a
// REST-JSON service (the emulator's injected faults are XML), so the
// retries of a real SDK client are tested against this.
func sesServer(t *testing.T, throttled int32, block bool) (*sesv2.Client, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		var body struct {
			FromEmailAddress string
			Destination      struct{ ToAddresses []string }
			Content          struct {
				Simple struct {
					Subject struct{ Data, Charset string }
					Body    struct {
						Text, Html struct{ Data, Charset string }
					}
				}
			}
		}
		auth := r.Header.Get("Authorization")
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/v2/email/outbound-emails":
			t.Errorf("request %s %s, want POST /v2/email/outbound-emails", r.Method, r.URL.Path)
		case !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/us-east-1/ses/aws4_request"):
			t.Errorf("Authorization %q is not SigV4 for ses in us-east-1", auth)
		case json.NewDecoder(r.Body).Decode(&body) != nil || body.FromEmailAddress == "" || len(body.Destination.ToAddresses) != 1 ||
			body.Content.Simple.Body.Text.Data == "" || body.Content.Simple.Body.Html.Data == "" || body.Content.Simple.Subject.Data == "":
			t.Errorf("SendEmail body is not a Simple message with a subject, both bodies, a sender and one recipient: %+v", body)
		}
		if block {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if i <= throttled {
			w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"message": "Maximum sending rate exceeded."}`))
			return
		}
		_, _ = w.Write([]byte(`{"MessageId": "m-ok"}`))
	}))
	t.Cleanup(srv.Close)
	client := sesv2.New(sesv2.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	})
	return client, &n
}

func TestEmailRetriesThrottledSends(t *testing.T) {
	m := Compose(KindDeleted, awsFacts())
	fast := Limits{Attempts: 3, MaxBackoff: 5 * time.Millisecond}

	t.Run("gets through", func(t *testing.T) {
		client, n := sesServer(t, 2, false)
		id, err := (&Email{API: client, From: "keysweep@example.com", Limits: fast}).Send(t.Context(), "alice@example.com", m)
		if err != nil || id != "m-ok" || n.Load() != 3 {
			t.Fatalf("Send = %q, %v after %d requests; want m-ok after 3", id, err, n.Load())
		}
	})

	t.Run("bounded", func(t *testing.T) {
		for _, attempts := range []int{0, 1, 4} {
			client, n := sesServer(t, 1000, false)
			l := Limits{Attempts: attempts, MaxBackoff: 5 * time.Millisecond}
			_, err := (&Email{API: client, From: "keysweep@example.com", Limits: l}).Send(t.Context(), "alice@example.com", m)
			want := int32(attempts)
			if attempts == 0 {
				want = 3
			}
			if !errors.Is(err, ErrThrottled) || n.Load() != want {
				t.Errorf("Attempts %d: Send = %v after %d requests, want ErrThrottled after %d", attempts, err, n.Load(), want)
			}
		}
	})

	t.Run("timeout", func(t *testing.T) {
		client, _ := sesServer(t, 0, true)
		l := Limits{Attempts: 2, MaxBackoff: time.Millisecond, Timeout: 50 * time.Millisecond}
		_, err := (&Email{API: client, From: "keysweep@example.com", Limits: l}).Send(t.Context(), "alice@example.com", m)
		if !errors.Is(err, ErrFailed) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Send = %v, want ErrFailed from the deadline", err)
		}
	})
}
