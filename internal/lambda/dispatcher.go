package lambda

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/fanout"
	"github.com/keysweep/keysweep/internal/trigger"
)

// Dispatcher is the organization dispatcher Lambda's handler: an
// EventBridge scheduled event, or a manual payload ({"mode": "audit"},
// {"eventId": ...}) from `aws lambda invoke`.
type Dispatcher struct {
	*fanout.Dispatcher
}

// HandleEvent parses the event and starts one organization run.
func (d Dispatcher) HandleEvent(ctx context.Context, raw json.RawMessage) (*fanout.Dispatched, error) {
	ev, err := trigger.Parse(raw)
	if err == nil && ev.Users != nil {
		err = fmt.Errorf("%w: users: an organization run sweeps whole accounts; narrow it with the policy's organization section", trigger.ErrBadEvent)
	}
	if err == nil && ev.Target != "" {
		err = fmt.Errorf("%w: target: an organization run sweeps the organization's AWS accounts", trigger.ErrBadEvent)
	}
	if err != nil {
		d.Log().Error("refused event", "err", err)
		return nil, err
	}
	if ev.EventID == "" {
		// Lambda keeps the request id across its retries of an asynchronous
		// invocation: a retry then finds the run it started.
		if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
			ev.EventID = "lambda:" + lc.AwsRequestID
		}
	}
	return d.Dispatch(ctx, fanout.DispatchRequest{
		Trigger:   domain.Trigger{Kind: ev.Kind, Source: ev.Source, EventID: ev.EventID},
		AuditOnly: ev.AuditOnly,
		Enforce:   ev.Enforce,
		RunID:     ev.RunID,
	})
}
