package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/keysweep/keysweep/internal/httpapi"
)

const serveWarning = `WARNING: keysweep serve has NO AUTHORIZATION. Anyone who can reach it can
revoke access keys with your credentials. It binds to loopback by default
and refuses browser requests; do not expose it. The deployed API requires
SigV4 (AWS_IAM) instead.
`

// serveOptions are `keysweep serve`'s flags.
type serveOptions struct {
	common
	addr     string
	insecure bool
}

func newServeCmd(s *streams) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve [--addr 127.0.0.1:8080] [--insecure-bind]",
		Short: "serve the API over plain HTTP on loopback (no auth)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ran(runServe(cmd.Context(), s, o))
		},
	}
	fs := cmd.Flags()
	o.register(fs)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address (host:port); loopback only unless --insecure-bind")
	fs.BoolVar(&o.insecure, "insecure-bind", false, "allow a non-loopback --addr: anyone who can reach it can revoke keys with your credentials")
	return cmd
}

// runServe serves the API's net/http handler (the one the Lambda serves
// through API Gateway) until ctx ends; sweeps it starts run in-process.
func runServe(ctx context.Context, s *streams, o *serveOptions) error {
	loopback, err := loopbackAddr(o.addr)
	if err != nil {
		return usagef("--addr: %v", err)
	}
	if !loopback && !o.insecure {
		return usagef("--addr %s is not a loopback address; the local API has no authorization, so it binds to loopback only "+
			"(127.0.0.1, ::1, localhost); give --insecure-bind to bind it anyway", o.addr)
	}
	d, err := o.deps(ctx, s, true)
	if err != nil {
		return err
	}
	starter := o.localStarter(d, s)
	api := d.API(s.log, starter)
	api.DefaultActor = "local:" + osUser()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprint(s.err, serveWarning)
	if !loopback {
		fmt.Fprintf(s.err, "WARNING: --insecure-bind: listening on %s, which is not loopback.\n", ln.Addr())
	}
	fmt.Fprintf(s.err, "serving the keysweep API on http://%s (Ctrl-C stops); sweeps run in this process\n", ln.Addr())
	srv := &http.Server{
		Handler:           serveHandler(api.Handler(), loopback),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	fmt.Fprintln(s.err, "stopped; waiting for sweeps still running")
	starter.Wait()
	return nil
}

// loopbackAddr reports whether host:port names only the loopback
// interface. An empty host (":8080") means every interface.
func loopbackAddr(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	return loopbackHost(host), nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveHandler guards the unauthenticated local API against the web: a
// page in the user's browser could otherwise post to it (a cross-site
// request needs no preflight when it has no body or a text/plain one), or
// reach it under its own name through DNS rebinding. Browser requests
// (Origin, or Sec-Fetch-Site other than none) are refused, and so is a
// Host that is not loopback when bound to loopback. curl and SDKs send
// neither header. Routing is the API's own, on the escaped path: an
// escaped "/" in a key id never reaches another route.
func serveHandler(api http.Handler, loopbackOnly bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		site := r.Header.Get("Sec-Fetch-Site")
		if r.Header.Get("Origin") != "" || (site != "" && site != "none") {
			refuse(w, "browser_request", "requests from a browser are refused: keysweep serve has no authorization, "+
				"and a web page must not be able to revoke keys with your credentials")
			return
		}
		if loopbackOnly {
			host, _, err := net.SplitHostPort(r.Host)
			if err != nil {
				host = r.Host
			}
			if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
				host = host[1 : len(host)-1]
			}
			if !loopbackHost(host) {
				refuse(w, "forbidden_host", "Host "+r.Host+" is not a loopback address; keysweep serve answers only requests for 127.0.0.1, ::1 or localhost")
				return
			}
		}
		api.ServeHTTP(w, r)
	})
}

func refuse(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	_ = json.NewEncoder(w).Encode(httpapi.ErrorBody{Error: httpapi.ErrorDetail{Code: code, Message: msg}})
}
