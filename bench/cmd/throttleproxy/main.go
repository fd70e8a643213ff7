// Command throttleproxy serves bench/throttleproxy on loopback in front of a
// local AWS emulator, for trying a client by hand under IAM's limits:
//
//	throttleproxy -upstream http://127.0.0.1:5000 -rate 10 -burst 20 -latency 20ms
//	AWS_ENDPOINT_URL=http://127.0.0.1:PORT custodian run ...
//	curl http://127.0.0.1:PORT/_throttleproxy/stats
//
// It prints "READY http://127.0.0.1:PORT" once it serves. The benchmark
// harness (bench/cmd/keysweep-bench) runs the same proxy in-process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/keysweep/keysweep/bench/throttleproxy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on (loopback)")
	upstream := flag.String("upstream", "", "the emulator's base URL (required)")
	rate := flag.Float64("rate", throttleproxy.DefaultRate, "IAM requests admitted per second (0: no limit)")
	burst := flag.Int("burst", throttleproxy.DefaultBurst, "token bucket size")
	latency := flag.Duration("latency", throttleproxy.DefaultLatency, "latency added to every IAM request")
	writeLatency := flag.Duration("dynamodb-write-latency", 0, "latency added to every DynamoDB write (a slow journal)")
	flag.Parse()
	cfg := throttleproxy.Config{Rate: *rate, Burst: *burst, Latency: *latency, DynamoDBWriteLatency: *writeLatency}
	if err := run(*listen, *upstream, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "throttleproxy:", err)
		os.Exit(1)
	}
}

func run(listen, upstream string, cfg throttleproxy.Config) error {
	if upstream == "" {
		return errors.New("-upstream is required")
	}
	u, err := url.Parse(upstream)
	if err != nil {
		return fmt.Errorf("-upstream: %w", err)
	}
	cfg.Upstream = u
	p, err := throttleproxy.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Printf("READY http://%s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
