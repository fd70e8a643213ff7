// Package throttleproxy is a reverse proxy on loopback that makes a local
// AWS emulator answer IAM calls the way IAM does under load: every IAM
// request waits a fixed latency, and a token bucket admits a steady rate
// (with a burst); past it, the request is answered with IAM's own
// Throttling error. Any client pointed at it with AWS_ENDPOINT_URL (the Go
// SDK, boto3, Cloud Custodian) meets the same limits, and the proxy counts
// what each one asked for, by IAM action.
//
// Only IAM is throttled. Other services (DynamoDB, STS) pass at the
// emulator's own speed and are only counted, unless DynamoDB's writes are
// asked to be slow (Config.DynamoDBWriteLatency: a slow audit table).
package throttleproxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults: the reference workload's IAM.
const (
	DefaultRate    = 10.0
	DefaultBurst   = 20
	DefaultLatency = 20 * time.Millisecond
)

// ControlPrefix is the path under which the proxy answers for itself:
// GET stats, POST reset. Everything else goes to the upstream.
const ControlPrefix = "/_throttleproxy/"

// iamAPIVersion is the Version parameter of every IAM query-protocol call.
const iamAPIVersion = "2010-05-08"

// Config configures a Proxy.
type Config struct {
	// Upstream is the emulator's base URL.
	Upstream *url.URL
	// Rate is how many IAM requests a second the bucket admits; 0 or less
	// admits all (latency still applies).
	Rate float64
	// Burst is the bucket's size; below 1 means 1.
	Burst int
	// Latency is added to every IAM request, throttled or not.
	Latency time.Duration
	// DynamoDBWriteLatency is added to every DynamoDB write (PutItem,
	// UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems) before
	// it is sent on: a journal slower than the emulator's own.
	DynamoDBWriteLatency time.Duration
	// Now is the bucket's clock; time.Now when nil (tests set it).
	Now func() time.Time
}

// OpStats counts one IAM action: requests sent on to the upstream, and
// requests answered with Throttling; when the first and the last were
// served (admitted), and when the last served one was answered, in
// seconds since the proxy started or was reset (a sweep's phases show in
// them).
type OpStats struct {
	Served      int     `json:"served"`
	Throttled   int     `json:"throttled"`
	FirstServed float64 `json:"firstServed,omitempty"`
	LastServed  float64 `json:"lastServed,omitempty"`
	LastDone    float64 `json:"lastDone,omitempty"`
}

// Stats is what the proxy saw since it started or was last reset.
type Stats struct {
	// IAM counts IAM requests by action ("ListUsers", ...).
	IAM map[string]OpStats `json:"iam"`
	// Other counts requests to other services, by "Service.Action"
	// ("dynamodb.PutItem", "sts.GetCallerIdentity").
	Other map[string]int `json:"other"`
	// UpstreamSeconds is the time the upstream (the emulator) took to
	// answer, summed by service ("iam", "dynamodb"): what of a run's wall
	// time is the emulator's own speed.
	UpstreamSeconds map[string]float64 `json:"upstreamSeconds"`
}

// Served is the number of IAM requests sent on to the upstream.
func (s Stats) Served() int {
	n := 0
	for _, o := range s.IAM {
		n += o.Served
	}
	return n
}

// Throttled is the number of IAM requests answered with Throttling.
func (s Stats) Throttled() int {
	n := 0
	for _, o := range s.IAM {
		n += o.Throttled
	}
	return n
}

// Proxy is an http.Handler; see the package comment.
type Proxy struct {
	cfg    Config
	rp     *httputil.ReverseProxy
	bucket *bucket

	mu    sync.Mutex
	since time.Time
	iam   map[string]OpStats
	other map[string]int
	up    map[string]float64
}

// New returns a Proxy in front of cfg.Upstream.
func New(cfg Config) (*Proxy, error) {
	if cfg.Upstream == nil || cfg.Upstream.Host == "" {
		return nil, errors.New("throttleproxy: no upstream URL")
	}
	if cfg.Burst < 1 {
		cfg.Burst = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	up := cfg.Upstream
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			// Keep the Host the client signed (SigV4 covers it).
			pr.Out.Host = pr.In.Host
		},
		// Many clients at once (the SDK's pool, c7n's threads): keep
		// connections to the emulator open instead of churning ports.
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	p := &Proxy{cfg: cfg, rp: rp, since: time.Now(), iam: map[string]OpStats{}, other: map[string]int{}, up: map[string]float64{}}
	p.bucket = newBucket(cfg.Rate, cfg.Burst, cfg.Now)
	return p, nil
}

// Stats returns a copy of the counts.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{IAM: maps.Clone(p.iam), Other: maps.Clone(p.other), UpstreamSeconds: maps.Clone(p.up)}
}

// Reset zeroes the counts and fills the bucket, so that each measured run
// starts alike.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.since = time.Now()
	p.iam = map[string]OpStats{}
	p.other = map[string]int{}
	p.up = map[string]float64{}
	p.mu.Unlock()
	p.bucket.fill()
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, ControlPrefix) {
		p.control(w, r)
		return
	}
	// The query protocol carries the action in a form body: read it, and
	// hand the upstream an identical copy.
	var form url.Values
	if strings.Contains(r.Header.Get("Content-Type"), "x-www-form-urlencoded") && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "throttleproxy: read body: "+err.Error(), http.StatusBadGateway)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		form, _ = url.ParseQuery(string(body))
	}
	service, action := Classify(r, form)
	if service != "iam" {
		p.mu.Lock()
		p.other[service+"."+action]++
		p.mu.Unlock()
		if service == "dynamodb" && dynamoDBWrites[action] {
			if err := sleep(r.Context(), p.cfg.DynamoDBWriteLatency); err != nil {
				return // the client gave up
			}
		}
		p.forward(w, r, service)
		return
	}

	admitted := p.bucket.take()
	p.mu.Lock()
	s := p.iam[action]
	if admitted {
		s.Served++
		s.LastServed = time.Since(p.since).Seconds()
		if s.Served == 1 {
			s.FirstServed = s.LastServed
		}
	} else {
		s.Throttled++
	}
	p.iam[action] = s
	p.mu.Unlock()

	if err := sleep(r.Context(), p.cfg.Latency); err != nil {
		return // the client gave up
	}
	if !admitted {
		WriteThrottling(w)
		return
	}
	p.forward(w, r, service)
	p.mu.Lock()
	s = p.iam[action]
	s.LastDone = max(s.LastDone, time.Since(p.since).Seconds())
	p.iam[action] = s
	p.mu.Unlock()
}

// dynamoDBWrites are the DynamoDB actions that write items.
var dynamoDBWrites = map[string]bool{
	"PutItem": true, "UpdateItem": true, "DeleteItem": true, "BatchWriteItem": true, "TransactWriteItems": true,
}

// forward sends r to the upstream and adds the time it took to service's.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, service string) {
	start := time.Now()
	p.rp.ServeHTTP(w, r)
	d := time.Since(start).Seconds()
	p.mu.Lock()
	p.up[service] += d
	p.mu.Unlock()
}

// Classify names the service and action of an AWS request: the service from
// the SigV4 credential scope (Credential=AKID/date/region/SERVICE/aws4_request),
// else from the Host ("iam.amazonaws.com") or an IAM Version parameter; the
// action from the query protocol's Action parameter or the JSON protocol's
// X-Amz-Target. form is the parsed form body, if any.
func Classify(r *http.Request, form url.Values) (service, action string) {
	service = scopeService(r.Header.Get("Authorization"))
	if service == "" {
		if q := r.URL.Query(); q.Get("X-Amz-Credential") != "" { // presigned
			service = scopeService("Credential=" + q.Get("X-Amz-Credential"))
		}
	}
	action = form.Get("Action")
	if action == "" {
		action = r.URL.Query().Get("Action")
	}
	if t := r.Header.Get("X-Amz-Target"); t != "" && action == "" {
		action = t[strings.LastIndexByte(t, '.')+1:]
	}
	if service == "" {
		switch {
		case strings.HasPrefix(r.Host, "iam."):
			service = "iam"
		case form.Get("Version") == iamAPIVersion || r.URL.Query().Get("Version") == iamAPIVersion:
			service = "iam"
		default:
			service = "unknown"
		}
	}
	if action == "" {
		action = r.Method + " " + r.URL.Path
	}
	return service, action
}

// scopeService returns the service of a SigV4 Authorization header, or "".
func scopeService(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

// WriteThrottling writes IAM's answer to a request over its rate limit: HTTP
// 400 with a query-protocol error document, code Throttling.
func WriteThrottling(w http.ResponseWriter) {
	id := requestID()
	body := `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>` +
		id + `</RequestId></ErrorResponse>`
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("x-amzn-RequestId", id)
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, body)
}

// requestID returns a random id shaped like IAM's (a UUID).
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (p *Proxy) control(w http.ResponseWriter, r *http.Request) {
	route := strings.TrimPrefix(r.URL.Path, ControlPrefix)
	var out any
	switch {
	case r.Method == http.MethodGet && route == "stats":
		out = p.Stats()
	case r.Method == http.MethodPost && route == "reset":
		p.Reset()
		out = map[string]string{"status": "ok"}
	default:
		http.Error(w, fmt.Sprintf("throttleproxy: no route %s %s", r.Method, r.URL.Path), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bucket is a token bucket: it holds up to burst tokens, gains rate tokens
// a second, and each admitted request takes one. It never waits: a request
// that finds it empty is refused, as IAM refuses it.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens a second; <= 0: unlimited
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newBucket(rate float64, burst int, now func() time.Time) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now(), now: now}
}

func (b *bucket) take() bool {
	if b.rate <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(b.burst, b.tokens+el.Seconds()*b.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

func (b *bucket) fill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = b.burst
	b.last = b.now()
}
