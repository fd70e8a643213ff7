package lambda_test

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
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/httpapi"
	"github.com/keysweep/keysweep/internal/journal/mem"
	"github.com/keysweep/keysweep/internal/lambda"
)

// fakeIAM is an in-process key store with a few keys that never fails,
// so that any 5xx under fuzzing is the API's own fault.
type fakeIAM struct {
	mu   sync.Mutex
	keys map[string]*domain.Key
}

var _ engine.KeyStore = (*fakeIAM)(nil)

func newFakeIAM() *fakeIAM {
	f := &fakeIAM{keys: map[string]*domain.Key{}}
	now := time.Now().UTC()
	for i, id := range []string{"AKIAFUZZKEY000000001", "AKIAFUZZKEY000000002", "AKIAIOSFODNN7EXAMPLE"} {
		last := now.Add(-time.Duration(i*100) * 24 * time.Hour)
		f.keys[id] = &domain.Key{Account: "111122223333", Owner: "fuzz", ID: id, Status: domain.StatusActive,
			CreatedAt: now.Add(-400 * 24 * time.Hour), LastUsedAt: &last, LastUseKnown: true}
	}
	return f
}

func (f *fakeIAM) Provider() domain.Provider { return domain.ProviderAWS }
func (f *fakeIAM) Capabilities() domain.Capabilities {
	return domain.Capabilities{Deactivate: true, LastUsed: true, OwnerTags: true, OwnerPaths: true}
}
func (f *fakeIAM) Account(context.Context) (string, error) { return "111122223333", nil }
func (f *fakeIAM) Inventory(context.Context) (*domain.Inventory, error) {
	return &domain.Inventory{Source: "list"}, nil
}
func (f *fakeIAM) OwnerTags(context.Context, domain.Owner) (map[string]string, error) {
	return map[string]string{}, nil
}
func (f *fakeIAM) OwnerPath(context.Context, domain.Owner) (string, error) { return "/", nil }
func (f *fakeIAM) OwnerKeys(_ context.Context, o domain.Owner) ([]domain.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []domain.Key
	for _, k := range f.keys {
		if k.Owner == o.Name {
			out = append(out, *k)
		}
	}
	return out, nil
}
func (f *fakeIAM) Recheck(ctx context.Context, key domain.Key, _ bool) (domain.Key, error) {
	return f.FindKey(ctx, key.ID)
}
func (f *fakeIAM) FindKey(_ context.Context, id string) (domain.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[id]
	if !ok {
		return domain.Key{}, domain.ErrKeyNotFound
	}
	return *k, nil
}
func (f *fakeIAM) Deactivate(_ context.Context, key domain.Key) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[key.ID]
	if !ok {
		return domain.ErrKeyNotFound
	}
	k.Status = domain.StatusInactive
	return nil
}
func (f *fakeIAM) Delete(_ context.Context, key domain.Key) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.keys[key.ID]; !ok {
		return domain.ErrKeyNotFound
	}
	delete(f.keys, key.ID)
	return nil
}
func (f *fakeIAM) Calls() map[string]int { return nil }

// fakeStarter records the sweeps it is asked to start.
type fakeStarter struct {
	mu     sync.Mutex
	starts []httpapi.SweepStart
}

func (s *fakeStarter) StartSweep(_ context.Context, st httpapi.SweepStart) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts = append(s.starts, st)
	return nil
}

// fakeInvoker is the Lambda client of LambdaStarter.
type fakeInvoker struct {
	status int32
	err    error
	calls  []*awslambda.InvokeInput
}

var _ httpapi.LambdaInvoker = (*fakeInvoker)(nil)

func (f *fakeInvoker) Invoke(_ context.Context, in *awslambda.InvokeInput, _ ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	return &awslambda.InvokeOutput{StatusCode: f.status}, nil
}

// memAPI is the API on fakes: no emulator, nothing fails.
func memAPI() *lambda.API {
	a, _, _, _ := memAPIParts()
	return a
}

// memAPIParts is memAPI with the fakes behind it, for tests that look at
// what a request changed.
func memAPIParts() (*lambda.API, *fakeIAM, *mem.Journal, *fakeStarter) {
	m := mem.New()
	f := newFakeIAM()
	st := &fakeStarter{}
	a := &httpapi.API{
		Targets:  []engine.Target{{Name: domain.DefaultTarget, PolicyID: domain.DefaultPolicyID, Engine: &engine.Engine{Store: f, Journal: m}}},
		Policies: m, Runs: m, Sweeps: st, Logger: discardLogger(), DefaultActor: "fuzz",
	}
	return lambda.NewAPI(a.Handler()), f, m, st
}

// fuzzState is what a request could change: the fake IAM's keys, the audit
// records and key states of its user, and the sweeps started.
func fuzzState(t *testing.T, f *fakeIAM, m *mem.Journal, st *fakeStarter) string {
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
		raw, err := os.ReadFile("../../events/" + name)
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
			var eb httpapi.ErrorBody
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
