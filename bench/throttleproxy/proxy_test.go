package throttleproxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keysweep/keysweep/internal/awsconf"
)

// fakeClock is a settable clock for the bucket.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestBucket(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	b := newBucket(10, 20, clk.now)
	took := 0
	for b.take() {
		took++
	}
	if took != 20 {
		t.Fatalf("burst: took %d, want 20", took)
	}
	clk.add(250 * time.Millisecond) // 2.5 tokens
	for _, want := range []bool{true, true, false} {
		if got := b.take(); got != want {
			t.Fatalf("after 250ms: take = %v, want %v", got, want)
		}
	}
	clk.add(time.Hour) // refills to the burst, not beyond
	took = 0
	for b.take() {
		took++
	}
	if took != 20 {
		t.Fatalf("after an hour: took %d, want 20 (the burst)", took)
	}

	unlimited := newBucket(0, 1, clk.now)
	for i := range 1000 {
		if !unlimited.take() {
			t.Fatalf("rate 0 refused request %d", i)
		}
	}
}

func TestClassify(t *testing.T) {
	const iamAuth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"
	const ddbAuth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=abc"
	tests := []struct {
		name        string
		host        string
		auth        string
		target      string
		query       string
		form        url.Values
		wantService string
		wantAction  string
	}{
		{name: "iam query protocol", auth: iamAuth, form: url.Values{"Action": {"ListUsers"}, "Version": {"2010-05-08"}}, wantService: "iam", wantAction: "ListUsers"},
		{name: "dynamodb json protocol", auth: ddbAuth, target: "DynamoDB_20120810.PutItem", wantService: "dynamodb", wantAction: "PutItem"},
		{name: "sts", auth: strings.Replace(iamAuth, "/iam/", "/sts/", 1), form: url.Values{"Action": {"GetCallerIdentity"}}, wantService: "sts", wantAction: "GetCallerIdentity"},
		{name: "unsigned, iam host", host: "iam.amazonaws.com", form: url.Values{"Action": {"GetUser"}}, wantService: "iam", wantAction: "GetUser"},
		{name: "unsigned, iam version", host: "127.0.0.1:1", form: url.Values{"Action": {"GetUser"}, "Version": {"2010-05-08"}}, wantService: "iam", wantAction: "GetUser"},
		{name: "action in the query string", auth: iamAuth, query: "Action=ListAccessKeys&Version=2010-05-08", wantService: "iam", wantAction: "ListAccessKeys"},
		{name: "unknown", host: "127.0.0.1:1", wantService: "unknown", wantAction: "GET /"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:1/?"+tc.query, nil)
			if tc.host != "" {
				r.Host = tc.host
			}
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			if tc.target != "" {
				r.Header.Set("X-Amz-Target", tc.target)
			}
			s, a := Classify(r, tc.form)
			if s != tc.wantService || a != tc.wantAction {
				t.Errorf("Classify = %s, %s; want %s, %s", s, a, tc.wantService, tc.wantAction)
			}
		})
	}
}

// upstream is a fake emulator that answers every IAM call with an empty
// ListUsers result and records the bodies it got.
type upstream struct {
	mu     sync.Mutex
	bodies []string
}

const listUsersXML = `<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListUsersResult><Users/><IsTruncated>false</IsTruncated></ListUsersResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></ListUsersResponse>`

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.bodies = append(u.bodies, string(b))
	u.mu.Unlock()
	if r.Header.Get("X-Amz-Target") != "" {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, `{}`)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(w, listUsersXML)
}

func startProxy(t *testing.T, cfg Config) (*Proxy, *upstream, string) {
	t.Helper()
	up := &upstream{}
	us := httptest.NewServer(up)
	t.Cleanup(us.Close)
	u, _ := url.Parse(us.URL)
	cfg.Upstream = u
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)
	return p, up, ps.URL
}

func post(t *testing.T, base, auth, target, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(body))
	req.Header.Set("Authorization", auth)
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	} else {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestProxyThrottlesIAMOnly(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)} // frozen: no refill
	p, up, base := startProxy(t, Config{Rate: 1, Burst: 2, Now: clk.now})
	const iamAuth = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x"
	const ddbAuth = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x"
	body := "Action=ListAccessKeys&UserName=alice&Version=2010-05-08"

	for i := range 2 {
		resp, _ := post(t, base, iamAuth, "", body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d within the burst: status %d", i, resp.StatusCode)
		}
	}
	resp, got := post(t, base, iamAuth, "", body)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("over the limit: status %d, want 400", resp.StatusCode)
	}
	id := resp.Header.Get("x-amzn-RequestId")
	want := `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>` + id + `</RequestId></ErrorResponse>`
	if id == "" || got != want {
		t.Errorf("throttling body = %q (request id %q), want %q", got, id, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/xml" {
		t.Errorf("Content-Type = %q, want text/xml", ct)
	}
	// DynamoDB is never throttled, however empty the bucket.
	for range 5 {
		if resp, _ := post(t, base, ddbAuth, "DynamoDB_20120810.PutItem", `{}`); resp.StatusCode != http.StatusOK {
			t.Fatalf("dynamodb: status %d", resp.StatusCode)
		}
	}
	clk.add(time.Second)
	if resp, _ := post(t, base, iamAuth, "", "Action=DeleteAccessKey&Version=2010-05-08"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after a second: status %d, want 200", resp.StatusCode)
	}

	wantStats := Stats{
		IAM:   map[string]OpStats{"ListAccessKeys": {Served: 2, Throttled: 1}, "DeleteAccessKey": {Served: 1}},
		Other: map[string]int{"dynamodb.PutItem": 5},
	}
	st := p.Stats()
	if diff := cmp.Diff(wantStats, st, cmpopts.IgnoreFields(OpStats{}, "FirstServed", "LastServed", "LastDone"), cmpopts.IgnoreFields(Stats{}, "UpstreamSeconds")); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if la := st.IAM["ListAccessKeys"]; la.FirstServed <= 0 || la.LastServed < la.FirstServed || la.LastDone < la.LastServed || st.IAM["DeleteAccessKey"].FirstServed < la.LastServed {
		t.Errorf("served times out of order: %+v", st.IAM)
	}
	if st.UpstreamSeconds["iam"] <= 0 || st.UpstreamSeconds["dynamodb"] <= 0 {
		t.Errorf("upstream time not measured: %v", st.UpstreamSeconds)
	}
	if st.Served() != 3 || st.Throttled() != 1 {
		t.Errorf("Served, Throttled = %d, %d; want 3, 1", st.Served(), st.Throttled())
	}
	// The upstream got the form bodies unchanged, and no throttled one.
	up.mu.Lock()
	bodies := append([]string(nil), up.bodies...)
	up.mu.Unlock()
	if len(bodies) != 8 || bodies[0] != body {
		t.Errorf("upstream got %d bodies %q; want 8, the first %q", len(bodies), bodies, body)
	}

	// Reset over HTTP clears the counts and fills the bucket.
	req, _ := http.NewRequest(http.MethodPost, base+ControlPrefix+"reset", nil)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if st := p.Stats(); st.Served() != 0 || len(st.Other) != 0 {
		t.Errorf("after reset: %+v", st)
	}
	for i := range 2 {
		if resp, _ := post(t, base, iamAuth, "", body); resp.StatusCode != http.StatusOK {
			t.Fatalf("after reset, request %d: status %d", i, resp.StatusCode)
		}
	}
}

func TestProxyLatency(t *testing.T) {
	const latency = 300 * time.Millisecond
	_, _, base := startProxy(t, Config{Latency: latency})
	start := time.Now()
	post(t, base, "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x", "", "Action=ListUsers&Version=2010-05-08")
	if el := time.Since(start); el < latency {
		t.Errorf("IAM request took %v, want at least %v", el, latency)
	}
	start = time.Now()
	post(t, base, "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x", "DynamoDB_20120810.GetItem", "{}")
	if el := time.Since(start); el >= latency {
		t.Errorf("DynamoDB request took %v: the latency is for IAM only", el)
	}
}

// A slow journal: DynamoDB writes wait, its reads and IAM do not.
func TestProxyDynamoDBWriteLatency(t *testing.T) {
	const latency = 300 * time.Millisecond
	_, _, base := startProxy(t, Config{DynamoDBWriteLatency: latency})
	const ddbAuth = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x"
	for _, tc := range []struct {
		auth, target, body string
		slow               bool
	}{
		{ddbAuth, "DynamoDB_20120810.TransactWriteItems", "{}", true},
		{ddbAuth, "DynamoDB_20120810.PutItem", "{}", true},
		{ddbAuth, "DynamoDB_20120810.Query", "{}", false},
		{"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x", "", "Action=ListUsers&Version=2010-05-08", false},
	} {
		start := time.Now()
		post(t, base, tc.auth, tc.target, tc.body)
		if el := time.Since(start); (el >= latency) != tc.slow {
			t.Errorf("%s %s took %v; want slowed by %v: %v", tc.target, tc.body, el, latency, tc.slow)
		}
	}
}

func sdkClient(base string, retryer aws.Retryer) *iam.Client {
	return iam.New(iam.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(base),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer:      retryer,
	})
}

// The SDK must read the proxy's answer as IAM's throttling error, or its
// retryer would not back off from it.
func TestSDKSeesThrottling(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	_, _, base := startProxy(t, Config{Rate: 1, Burst: 1, Now: clk.now})
	c := sdkClient(base, aws.NopRetryer{})
	ctx := context.Background()
	if _, err := c.ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatalf("first call: %v", err)
	}
	_, err := c.ListUsers(ctx, &iam.ListUsersInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "Throttling" || ae.ErrorMessage() != "Rate exceeded" {
		t.Fatalf("second call: err = %v, want the Throttling API error", err)
	}
	if got := retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err); got != aws.TrueTernary {
		t.Errorf("the SDK's throttle check says %v, want true", got)
	}
}

// With keysweep's retryer every throttled call is retried until it passes:
// nothing is lost, the proxy only slows the calls down.
func TestSDKRetriesThroughThrottling(t *testing.T) {
	p, _, base := startProxy(t, Config{Rate: 40, Burst: 1})
	c := sdkClient(base, awsconf.NewRetryer(awsconf.RetryOptions{MaxAttempts: 50, MaxBackoff: 50 * time.Millisecond}))
	var failed atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				if _, err := c.ListUsers(context.Background(), &iam.ListUsersInput{}); err != nil {
					t.Errorf("ListUsers: %v", err)
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	st := p.Stats()
	if st.Served() != 20 || failed.Load() != 0 {
		t.Errorf("served %d calls with %d failures; want 20 and 0", st.Served(), failed.Load())
	}
	if st.Throttled() == 0 {
		t.Errorf("no call was throttled: the test does not test retries")
	}
}
