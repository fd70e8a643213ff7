package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"gopkg.in/yaml.v3"

	"github.com/keysweep/keysweep/policy"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// writeYAML prints a policy as YAML with the document's field names.
func writeYAML(w io.Writer, p *policy.Policy) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	var generic any
	if err := yaml.Unmarshal(data, &generic); err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	defer enc.Close()
	return enc.Encode(generic)
}

// lambdaContext gives an in-process invocation what the Lambda runtime
// gives a real one: a request id and a deadline (KEYSWEEP_TIMEOUT, default
// the template's 900 s).
func lambdaContext(ctx context.Context) (context.Context, context.CancelFunc) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	lc := &lambdacontext.LambdaContext{AwsRequestID: id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]}
	timeout := 900 * time.Second
	if v := os.Getenv("KEYSWEEP_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			timeout = d
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return lambdacontext.NewContext(ctx, lc), cancel
}
