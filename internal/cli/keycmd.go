package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"unicode"
	"unicode/utf8"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/httpapi"
	"github.com/keysweep/keysweep/policy"
)

// keyCmd is what revoke and key share: the flags, the key id, the target's
// engine and its policy. They call the engine directly, with the checks
// and the answers the API gives.
type keyCmd struct {
	common
	output string // table or json
	key    string
}

// Key ids, as the API takes them: IAM access key ids are 16 to 128 word
// characters; Huawei/OTC AKs are 20 letters and digits; GMI API key ids
// are UUIDs.
var keyIDRE = regexp.MustCompile(`^[\w-]{16,128}$`)

func (k *keyCmd) check() error {
	if k.output != formatTable && k.output != formatJSON {
		return usagef("--output: must be table or json, got %q", k.output)
	}
	if !keyIDRE.MatchString(k.key) {
		return usagef("a key id is 16 to 128 letters, digits, underscores or hyphens, got %q", k.key)
	}
	return nil
}

// keyTarget is the target's engine and its current policy.
type keyTarget struct {
	e      *engine.Engine
	p      *policy.Policy
	source string
	// perr says why p is nil: an invalid stored policy is not a failure
	// here, a key can still be revoked or shown, unjudged.
	perr error
}

// open opens the target and reads its policy.
func (k *keyCmd) open(ctx context.Context, s *streams) (*keyTarget, error) {
	d, err := k.deps(ctx, s, true)
	if err != nil {
		return nil, err
	}
	t, err := k.pick(k.targets(d, s))
	if err != nil {
		return nil, err
	}
	e, err := open(ctx, t)
	if err != nil {
		return nil, err
	}
	kt := &keyTarget{e: e}
	kt.p, kt.source, err = engine.LoadPolicy(ctx, d.Journal, policyIDOf(t))
	switch {
	case errors.Is(err, policy.ErrInvalid):
		kt.perr = err
	case err != nil:
		return nil, fmt.Errorf("read the policy: %w", err)
	}
	return kt, nil
}

// checkReason bounds a reason and keeps it to printable text, as the API
// does (new lines and tabs allowed; no bidirectional controls, which would
// make the audit record read differently from what it holds).
func checkReason(s string) error {
	if n := utf8.RuneCountInString(s); n > httpapi.MaxReasonChars {
		return usagef("--reason: at most %d characters, got %d", httpapi.MaxReasonChars, n)
	}
	for _, r := range s {
		if (unicode.IsControl(r) && r != '\n' && r != '\t') || unicode.Is(unicode.Bidi_Control, r) {
			return usagef("--reason: control character %U is not allowed", r)
		}
	}
	return nil
}

// engineExit maps the engine's errors to exit codes: an unknown key 5, an
// invalid request or one the key store cannot serve (deactivating a key
// that has no status) 2, a key another actor is acting on 1 (retrying
// later can succeed), a failed call 1.
func engineExit(err error) error {
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return exitError{ExitNotFound, err}
	case errors.Is(err, engine.ErrBadRequest), errors.Is(err, domain.ErrUnsupported):
		return usageError{fmt.Errorf("%w; nothing changed", err)}
	case errors.Is(err, engine.ErrConflict), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w; retrying later can succeed", err)
	}
	return err
}

// writeErrorJSON prints an error as the API's error body, for --output
// json: a script reads the same answer from the CLI as from the API.
func writeErrorJSON(w io.Writer, err error) {
	code := "upstream_error"
	var ue usageError
	var se *domain.ServiceError
	switch {
	case errors.Is(err, engine.ErrNotFound):
		code = "key_not_found"
	case errors.Is(err, engine.ErrConflict):
		code = "conflict"
	case errors.As(err, &ue):
		code = "invalid_request"
	case !errors.As(err, &se):
		code = "failed"
	}
	retryable := errors.Is(err, engine.ErrConflict) || errors.Is(err, context.DeadlineExceeded)
	_ = writeJSON(w, httpapi.ErrorBody{Error: httpapi.ErrorDetail{Code: code, Message: err.Error(), Retryable: retryable}})
}

// answer prints v, or the error in the chosen format, and returns the
// error mapped to its exit code.
func answer[T any](s *streams, format string, v T, err error, table func(io.Writer, T)) error {
	if err != nil {
		err = engineExit(err)
		if format == formatJSON {
			writeErrorJSON(s.out, err)
		}
		return err
	}
	if format == formatJSON {
		return writeJSON(s.out, v)
	}
	table(s.out, v)
	return nil
}
