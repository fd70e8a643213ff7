package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/keysweep/keysweep/app"
	"github.com/keysweep/keysweep/policy"
	"github.com/keysweep/keysweep/store"
	"github.com/keysweep/keysweep/sweep"
)

// fakeIAM is an in-process sweep.Provider with a few keys that never
// fails, so that any 5xx under fuzzing is the API's own fault.
type fakeIAM struct {
	mu   sync.Mutex
	keys map[string]*policy.Key
}

var _ sweep.Provider = (*fakeIAM)(nil)

func newFakeIAM() *fakeIAM {
	f := &fakeIAM{keys: map[string]*policy.Key{}}
	now := time.Now().UTC()
	for i, id := range []string{"AKIAFUZZKEY000000001", "AKIAFUZZKEY000000002", "AKIAIOSFODNN7EXAMPLE"} {
		last := now.Add(-time.Duration(i*100) * 24 * time.Hour)
		f.keys[id] = &policy.Key{Account: "111122223333", UserName: "fuzz", AccessKeyID: id, Status: policy.StatusActive,
			CreatedAt: now.Add(-400 * 24 * time.Hour), LastUsedAt: &last}
	}
	return f
}

func (f *fakeIAM) AccountID(context.Context) (string, error) { return "111122223333", nil }
func (f *fakeIAM) Inventory(context.Context) (*sweep.Inventory, error) {
	return &sweep.Inventory{Source: "list"}, nil
}
func (f *fakeIAM) UserTags(context.Context, string) (map[string]string, error) {
	return map[string]string{}, nil
}
func (f *fakeIAM) UserKeys(_ context.Context, user string) ([]policy.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []policy.Key
	for _, k := range f.keys {
		if k.UserName == user {
			c := *k
			c.LastUsedAt = nil
			out = append(out, c)
		}
	}
	return out, nil
}
func (f *fakeIAM) LastUsed(_ context.Context, id string) (string, *time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[id]
	if !ok {
		return "", nil, sweep.ErrKeyNotFound
	}
	return k.UserName, k.LastUsedAt, nil
}
func (f *fakeIAM) Deactivate(_ context.Context, _, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[id]
	if !ok {
		return sweep.ErrKeyNotFound
	}
	k.Status = policy.StatusInactive
	return nil
}
func (f *fakeIAM) Delete(_ context.Context, _, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.keys[id]; !ok {
		return sweep.ErrKeyNotFound
	}
	delete(f.keys, id)
	return nil
}
func (f *fakeIAM) Calls() map[string]int { return nil }

// fakeStarter records the sweeps it is asked to start.
type fakeStarter struct {
	mu     sync.Mutex
	starts []app.SweepStart
}

func (s *fakeStarter) StartSweep(_ context.Context, st app.SweepStart) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts = append(s.starts, st)
	return nil
}

// fakeInvoker is the Lambda client of LambdaStarter.
type fakeInvoker struct {
	status int32
	err    error
	calls  []*lambda.InvokeInput
}

var _ app.LambdaInvoker = (*fakeInvoker)(nil)

func (f *fakeInvoker) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	return &lambda.InvokeOutput{StatusCode: f.status}, nil
}

// memAPI is the API on fakes: no emulator, nothing fails.
func memAPI() *app.API {
	a, _, _, _ := memAPIParts()
	return a
}

// memAPIParts is memAPI with the fakes behind it, for tests that look at
// what a request changed.
func memAPIParts() (*app.API, *fakeIAM, *store.Mem, *fakeStarter) {
	m := store.NewMem()
	f := newFakeIAM()
	st := &fakeStarter{}
	return &app.API{
		Revoker:  &sweep.Revoker{Provider: f, Journal: m, History: m},
		Policies: m, PolicyID: store.DefaultPolicyID, Runs: m, Sweeps: st,
		Logger: discardLogger(), DefaultActor: "fuzz",
	}, f, m, st
}

// fuzzState is what a request could change: the fake IAM's keys, the audit
// records and key states of its user, and the sweeps started.
func fuzzState(t *testing.T, f *fakeIAM, m *store.Mem, st *fakeStarter) string {
	t.Helper()
	ctx := context.Background()
	f.mu.Lock()
	var b strings.Builder
	ids := make([]string, 0, len(f.keys))
	for id := range f.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "%s=%s ", id, f.keys[id].Status)
	}
	f.mu.Unlock()
	recs, err := m.ByUser(ctx, "111122223333", "fuzz")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "records=%d ", len(recs))
	for _, id := range ids {
		if ks, err := m.KeyState(ctx, id); err == nil && ks != nil {
			fmt.Fprintf(&b, "state:%s ", id)
		}
	}
	st.mu.Lock()
	fmt.Fprintf(&b, "sweeps=%d", len(st.starts))
	st.mu.Unlock()
	return b.String()
}

// FuzzAPIRequest feeds the handler arbitrary methods, paths, resources and
// bodies. Whatever comes in, the answer is JSON with a 2xx, 4xx or (never
// for client input, the fakes never fail) 5xx status, and an error answer
// has the documented shape. A panic would surface as a 500.
func FuzzAPIRequest(f *testing.F) {
	for _, name := range []string{"api-revoke-key.json", "api-get-key.json", "api-start-sweep.json", "api-get-sweep.json",
		"api-bad-key-id.json", "api-unknown-route.json", "api-wrong-method.json", "api-revoke.json"} {
		raw, err := os.ReadFile("../events/" + name)
		if err != nil {
			f.Fatal(err)
		}
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			f.Fatal(err)
		}
		f.Add(ev.HTTPMethod, ev.Path, ev.Resource, ev.PathParameters["accessKeyId"]+ev.PathParameters["runId"], ev.Body, ev.IsBase64Encoded)
	}
	for _, body := range []string{`{"action":"deactivate"}`, `{"reason":"x","action":"delete"}`, `{"reason":null}`,
		`{"users":["a"],"mode":"audit"}`, `{"users":[]}`, `{"mode":"enforce"}`, `{"a":1}`, `[`, `{"reason":"\u0000"}`, "\xff"} {
		f.Add("POST", "/keys/AKIAFUZZKEY000000001/revoke", "", "", body, false)
		f.Add("POST", "/sweeps", "", "", body, false)
	}
	f.Add("GET", "/keys//revoke", "/keys/{accessKeyId}", "", "", false)
	f.Add("GET", "/sweeps/r-1", "/sweeps/{runId}", "", "", false)
	f.Add("OPTIONS", "/sweeps", "", "", "", false)
	f.Add("POST", "/keys/AKIAFUZZKEY000000002/revoke", "/keys/{accessKeyId}/revoke", "AKIAFUZZKEY000000002", "e30=", true)

	f.Fuzz(func(t *testing.T, method, path, resource, param, body string, b64 bool) {
		// A fresh API each time: every input starts from the same state.
		a, iamFake, mem, starter := memAPIParts()
		before := fuzzState(t, iamFake, mem, starter)
		ev := events.APIGatewayProxyRequest{HTTPMethod: method, Path: path, Resource: resource, Body: body, IsBase64Encoded: b64}
		if param != "" {
			ev.PathParameters = map[string]string{"accessKeyId": param, "runId": param}
		}
		resp, err := a.Handle(context.Background(), ev)
		if err != nil {
			t.Fatalf("Handle returned an error: %v", err)
		}
		if resp.StatusCode < 200 || resp.StatusCode >= 500 || (resp.StatusCode >= 300 && resp.StatusCode < 400) {
			t.Fatalf("status %d for %q %q: %s", resp.StatusCode, method, path, resp.Body)
		}
		if !strings.HasPrefix(resp.Headers["Content-Type"], "application/json") {
			t.Fatalf("Content-Type %q", resp.Headers["Content-Type"])
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
			t.Fatalf("answer is not a JSON object: %v: %s", err, resp.Body)
		}
		if resp.StatusCode >= 400 {
			var eb app.ErrorBody
			if err := json.Unmarshal([]byte(resp.Body), &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" || len(out) != 1 {
				t.Fatalf("error answer of the wrong shape: %s", resp.Body)
			}
		}
		if resp.StatusCode == http.StatusMethodNotAllowed && resp.Headers["Allow"] == "" {
			t.Fatal("405 without Allow")
		}
		// Bad input changes nothing: not IAM, not the audit trail, and no
		// sweep is started.
		if resp.StatusCode >= 400 {
			if after := fuzzState(t, iamFake, mem, starter); after != before {
				t.Fatalf("a %d answer changed state:\nbefore %s\nafter  %s\n%s", resp.StatusCode, before, after, resp.Body)
			}
		}
	})
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
