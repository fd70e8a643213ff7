package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// An organization run is a Run item (pk RUN#<runId>, sk RUN) with the
// fan-out's own attributes added by PlanOrgRun, RecordAccount and
// MarkDispatched, plus one account item per member account that finished
// (pk RUN#<runId>, sk ACCOUNT#<account>). Its Counts are the totals of its
// account runs. docs/ORGANIZATIONS.md describes both.

// Organization run outcomes, besides running and failed.
const (
	// OutcomeWithFailures: every planned account was tried and at least one
	// failed (see AccountsFailed and the account items).
	OutcomeWithFailures = "completed-with-failures"
)

// Account statuses in an organization run.
const (
	AccountDone   = "done"   // the account run finished (completed, partial or blocked)
	AccountFailed = "failed" // the account could not be swept, or its run failed
)

const skAccountPrefix = "ACCOUNT#"

// OrgRun is the record of one organization run.
type OrgRun struct {
	Run
	// OrganizationID is the organization's id (o-...).
	OrganizationID string `json:"organizationId,omitempty" dynamodbav:"organizationId,omitempty"`
	// Selection describes the policy's organization section as it was used.
	Selection string `json:"selection,omitempty" dynamodbav:"selection,omitempty"`
	// Accounts are the planned account ids, sorted.
	Accounts        []string `json:"accounts,omitempty" dynamodbav:"accounts,omitempty"`
	AccountsPlanned int      `json:"accountsPlanned" dynamodbav:"accountsPlanned"`
	AccountsDone    int      `json:"accountsDone" dynamodbav:"accountsDone"`
	AccountsFailed  int      `json:"accountsFailed" dynamodbav:"accountsFailed"`
	// Outcomes counts the account runs by outcome (completed, partial,
	// blocked, failed).
	Outcomes map[string]int `json:"outcomes,omitempty" dynamodbav:"outcomes,omitempty"`
	// Planned is false until PlanOrgRun: the counters mean nothing before.
	Planned bool `json:"planned,omitempty" dynamodbav:"planned,omitempty"`
	// DispatchedAt is when every planned account's message was sent (or
	// recorded failed); nil while dispatching.
	DispatchedAt *time.Time `json:"dispatchedAt,omitempty" dynamodbav:"dispatchedAt,omitempty"`
}

// Finished reports whether every planned account is done or failed.
func (o *OrgRun) Finished() bool {
	return o.Planned && o.AccountsDone+o.AccountsFailed >= o.AccountsPlanned
}

// OrgPlan is what the dispatcher decided to sweep.
type OrgPlan struct {
	OrganizationID string
	Selection      string
	Accounts       []string
}

// AccountResult is one member account's part in an organization run.
type AccountResult struct {
	Account string `json:"account" dynamodbav:"account"`
	// RunID is the account run's id (empty when none was started).
	RunID  string `json:"runId,omitempty" dynamodbav:"accountRunId,omitempty"`
	Status string `json:"status" dynamodbav:"status"` // done | failed
	// Outcome is the account run's outcome.
	Outcome string         `json:"outcome,omitempty" dynamodbav:"outcome,omitempty"`
	Error   string         `json:"error,omitempty" dynamodbav:"error,omitempty"`
	Counts  map[string]int `json:"counts,omitempty" dynamodbav:"counts,omitempty"`
	At      time.Time      `json:"at" dynamodbav:"at"`
}

func checkAccountResult(res AccountResult) error {
	switch {
	case res.Account == "":
		return fmt.Errorf("%w: account result without account", ErrInvalidRecord)
	case res.Status != AccountDone && res.Status != AccountFailed:
		return fmt.Errorf("%w: account %s: status %q, want done or failed", ErrInvalidRecord, res.Account, res.Status)
	}
	return nil
}

// orgOutcome is the outcome of a finished organization run.
func orgOutcome(done, failed int) string {
	switch {
	case failed == 0:
		return OutcomeCompleted
	case done == 0:
		return OutcomeFailed
	}
	return OutcomeWithFailures
}

// delta is what recording one account changes in the organization run.
type delta struct {
	done, failed int
	outcomes     map[string]int
	counts       map[string]int
}

// accountDelta returns the change from prev (the account's earlier result,
// nil when none) to res, and false when res changes nothing: an account is
// counted once, and only a failed account may later turn done (a message
// redriven from the dead-letter queue that then succeeds).
func accountDelta(prev *AccountResult, res AccountResult) (delta, bool) {
	d := delta{outcomes: map[string]int{}, counts: map[string]int{}}
	if prev != nil && (prev.Status == AccountDone || prev.Status == res.Status) {
		return d, false
	}
	if prev != nil { // failed → done
		d.failed--
		if prev.Outcome != "" {
			d.outcomes[prev.Outcome]--
		}
		for k, v := range prev.Counts {
			d.counts[k] -= v
		}
	}
	if res.Status == AccountDone {
		d.done++
	} else {
		d.failed++
	}
	if res.Outcome != "" {
		d.outcomes[res.Outcome]++
	}
	for k, v := range res.Counts {
		d.counts[k] += v
	}
	return d, true
}

// --- DynamoDB ----------------------------------------------------------------

func accountSK(account string) string { return skAccountPrefix + account }

// GetOrgRun returns the organization run, or an error wrapping ErrNotFound.
func (d *Dynamo) GetOrgRun(ctx context.Context, runID string) (*OrgRun, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &d.opts.AuditTable,
		Key:            itemKey(runPK(runID), skRun),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get organization run %s: %w", runID, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("organization run %s: %w", runID, ErrNotFound)
	}
	var run OrgRun
	if err := unmarshalItem(out.Item, &run); err != nil {
		return nil, fmt.Errorf("decode organization run %s: %w", runID, err)
	}
	return &run, nil
}

// PlanOrgRun records the accounts an organization run (begun with BeginRun)
// will sweep. Counters start at zero; a second call replaces the plan but
// keeps the counters.
func (d *Dynamo) PlanOrgRun(ctx context.Context, runID string, plan OrgPlan) error {
	accounts := slices.Sorted(slices.Values(plan.Accounts))
	names := map[string]string{
		"#pk": "pk", "#planned": "planned", "#n": "accountsPlanned", "#done": "accountsDone",
		"#failed": "accountsFailed", "#outcomes": "outcomes", "#counts": "counts",
	}
	values := map[string]types.AttributeValue{
		":true": &types.AttributeValueMemberBOOL{Value: true}, ":n": num(len(accounts)),
		":zero": num(0), ":empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
	}
	set := "SET #planned = :true, #n = :n, #done = if_not_exists(#done, :zero), #failed = if_not_exists(#failed, :zero), " +
		"#outcomes = if_not_exists(#outcomes, :empty), #counts = if_not_exists(#counts, :empty)"
	if len(accounts) > 0 {
		list := make([]types.AttributeValue, len(accounts))
		for i, a := range accounts {
			list[i] = s(a)
		}
		names["#accounts"] = "accounts"
		values[":accounts"] = &types.AttributeValueMemberL{Value: list}
		set += ", #accounts = :accounts"
	}
	if plan.OrganizationID != "" {
		names["#org"] = "organizationId"
		values[":org"] = s(plan.OrganizationID)
		set += ", #org = :org"
	}
	if plan.Selection != "" {
		names["#sel"] = "selection"
		values[":sel"] = s(plan.Selection)
		set += ", #sel = :sel"
	}
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.opts.AuditTable,
		Key:                       itemKey(runPK(runID), skRun),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("plan organization run %s: %w", runID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("plan organization run %s: %w", runID, err)
	}
	return nil
}

// MarkDispatched records that every planned account was sent (or recorded
// failed), appends notes to the run's errors, and finishes the run if every
// account is already accounted for (an empty plan, or all failed to send).
func (d *Dynamo) MarkDispatched(ctx context.Context, runID string, notes []string) (*OrgRun, error) {
	names := map[string]string{"#pk": "pk", "#at": "dispatchedAt"}
	values := map[string]types.AttributeValue{":at": s(formatTime(d.opts.Now()))}
	set := "SET #at = :at"
	if len(notes) > 0 {
		list := make([]types.AttributeValue, len(notes))
		for i, n := range notes {
			list[i] = s(n)
		}
		names["#errors"] = "errors"
		values[":notes"] = &types.AttributeValueMemberL{Value: list}
		values[":none"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
		set += ", #errors = list_append(if_not_exists(#errors, :none), :notes)"
	}
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.opts.AuditTable,
		Key:                       itemKey(runPK(runID), skRun),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil, fmt.Errorf("mark organization run %s dispatched: %w", runID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mark organization run %s dispatched: %w", runID, err)
	}
	return d.finishIfDone(ctx, runID)
}

// maxRecordRaces bounds how often RecordAccount starts over when another
// writer changed the same account item between its read and its write, or
// DynamoDB cancelled the transaction for a conflict with a concurrent one
// (every worker updates the same run item). The SDK retryer does not retry
// a cancelled transaction: it is not a transport error.
const maxRecordRaces = 10

// RecordAccount records one account's result in the organization run: the
// account item and, in the same transaction, the run's counters and totals.
// It is idempotent: an account already counted is not counted again (a
// failed one may turn done once). The last account to finish finishes the
// organization run. It returns the organization run as it is afterwards.
func (d *Dynamo) RecordAccount(ctx context.Context, orgRunID string, res AccountResult) (*OrgRun, error) {
	if res.At.IsZero() {
		res.At = d.opts.Now()
	}
	res.At = res.At.UTC()
	if err := checkAccountResult(res); err != nil {
		return nil, err
	}
	for attempt := range maxRecordRaces {
		prev, err := d.accountResult(ctx, orgRunID, res.Account)
		if err != nil {
			return nil, err
		}
		dl, changes := accountDelta(prev, res)
		if !changes {
			return d.finishIfDone(ctx, orgRunID)
		}
		err = d.writeAccount(ctx, orgRunID, prev, res, dl)
		if conditionFailed(err, 0) {
			continue // another writer got there first: look again
		}
		if transactionConflict(err) {
			if err := pause(ctx, attempt); err != nil {
				return nil, fmt.Errorf("record account %s in organization run %s: %w", res.Account, orgRunID, err)
			}
			continue
		}
		if conditionFailed(err, 1) {
			return nil, fmt.Errorf("record account %s in organization run %s: run not found or not planned: %w", res.Account, orgRunID, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("record account %s in organization run %s: %w", res.Account, orgRunID, err)
		}
		return d.finishIfDone(ctx, orgRunID)
	}
	return nil, fmt.Errorf("record account %s in organization run %s: item kept changing", res.Account, orgRunID)
}

// transactionConflict reports whether err is a transaction cancelled
// because a concurrent one touched the same item.
func transactionConflict(err error) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return false
	}
	for _, r := range tce.CancellationReasons {
		if aws.ToString(r.Code) == "TransactionConflict" {
			return true
		}
	}
	return false
}

// pause waits a little, more with every attempt, with jitter so that
// conflicting writers spread out.
func pause(ctx context.Context, attempt int) error {
	d := time.Duration(10*(attempt+1)) * time.Millisecond
	d += time.Duration(rand.Int64N(int64(d)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func num(n int) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.Itoa(n)}
}

func (d *Dynamo) accountResult(ctx context.Context, orgRunID, account string) (*AccountResult, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &d.opts.AuditTable,
		Key:            itemKey(runPK(orgRunID), accountSK(account)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get account %s of organization run %s: %w", account, orgRunID, err)
	}
	if out.Item == nil {
		return nil, nil
	}
	var res AccountResult
	if err := unmarshalItem(out.Item, &res); err != nil {
		return nil, fmt.Errorf("decode account %s of organization run %s: %w", account, orgRunID, err)
	}
	return &res, nil
}

// writeAccount puts the account item, on condition that it is still prev,
// and applies dl to the run item, on condition that it is planned.
func (d *Dynamo) writeAccount(ctx context.Context, orgRunID string, prev *AccountResult, res AccountResult, dl delta) error {
	item, err := marshalItem(res)
	if err != nil {
		return fmt.Errorf("encode account %s: %w", res.Account, err)
	}
	item["pk"], item["sk"] = s(runPK(orgRunID)), s(accountSK(res.Account))
	item["expiresAt"] = d.expiresAt(res.At)
	put := &types.Put{TableName: &d.opts.AuditTable, Item: item}
	if prev == nil {
		put.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		put.ConditionExpression = aws.String("#status = :prev")
		put.ExpressionAttributeNames = map[string]string{"#status": "status"}
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":prev": s(prev.Status)}
	}

	names := map[string]string{"#planned": "planned"}
	values := map[string]types.AttributeValue{":zero": num(0), ":true": &types.AttributeValueMemberBOOL{Value: true}}
	var set []string
	add := func(path []string, n int) {
		if n == 0 {
			return
		}
		var refs []string
		for _, p := range path {
			ref := fmt.Sprintf("#n%d", len(names))
			names[ref] = p
			refs = append(refs, ref)
		}
		ref := strings.Join(refs, ".")
		val := fmt.Sprintf(":v%d", len(values))
		values[val] = num(n)
		set = append(set, fmt.Sprintf("%s = if_not_exists(%s, :zero) + %s", ref, ref, val))
	}
	add([]string{"accountsDone"}, dl.done)
	add([]string{"accountsFailed"}, dl.failed)
	for _, k := range slices.Sorted(maps.Keys(dl.outcomes)) {
		add([]string{"outcomes", k}, dl.outcomes[k])
	}
	for _, k := range slices.Sorted(maps.Keys(dl.counts)) {
		add([]string{"counts", k}, dl.counts[k])
	}
	update := &types.Update{
		TableName:                 &d.opts.AuditTable,
		Key:                       itemKey(runPK(orgRunID), skRun),
		UpdateExpression:          aws.String("SET " + strings.Join(set, ", ")),
		ConditionExpression:       aws.String("#planned = :true"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
	_, err = d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: put},
		{Update: update},
	}})
	return err
}

// finishIfDone sets the organization run's outcome, finishedAt and
// durationMs once every planned account is accounted for. The condition on
// the counters it read makes exactly one writer finish the run.
func (d *Dynamo) finishIfDone(ctx context.Context, runID string) (*OrgRun, error) {
	run, err := d.GetOrgRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	outcome, first, ok := nextOrgOutcome(run)
	if !ok {
		return run, nil
	}
	end := d.opts.Now().UTC()
	duration := end.Sub(run.StartedAt).Milliseconds()
	names := map[string]string{"#outcome": "outcome", "#done": "accountsDone", "#failed": "accountsFailed"}
	values := map[string]types.AttributeValue{
		":outcome": s(outcome), ":was": s(run.Outcome),
		":done": num(run.AccountsDone), ":failed": num(run.AccountsFailed),
	}
	update := "SET #outcome = :outcome"
	if first {
		names["#finished"], names["#duration"] = "finishedAt", "durationMs"
		values[":end"] = s(formatTime(end))
		values[":duration"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(duration, 10)}
		update += ", #finished = :end, #duration = :duration"
	}
	_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.opts.AuditTable,
		Key:                       itemKey(runPK(runID), skRun),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#outcome = :was AND #done = :done AND #failed = :failed"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// Another writer finished it, or counted one more account.
		return d.GetOrgRun(ctx, runID)
	}
	if err != nil {
		return nil, fmt.Errorf("finish organization run %s: %w", runID, err)
	}
	run.Outcome = outcome
	if first {
		run.FinishedAt, run.DurationMs = &end, duration
	}
	return run, nil
}

// nextOrgOutcome says whether the organization run's outcome must change:
// a running run whose accounts are all accounted for finishes (first), and
// a finished one whose failed account later turned done (a redriven message)
// gets the outcome its counters now give.
func nextOrgOutcome(run *OrgRun) (outcome string, first, change bool) {
	if !run.Finished() {
		return "", false, false
	}
	outcome = orgOutcome(run.AccountsDone, run.AccountsFailed)
	switch run.Outcome {
	case OutcomeRunning:
		return outcome, true, true
	case OutcomeFailed, OutcomeWithFailures, OutcomeCompleted:
		return outcome, false, outcome != run.Outcome
	}
	return "", false, false
}

// AccountResults returns the organization run's account items, by account.
func (d *Dynamo) AccountResults(ctx context.Context, orgRunID string) ([]AccountResult, error) {
	var out []AccountResult
	err := d.query(ctx, &dynamodb.QueryInput{
		TableName:              &d.opts.AuditTable,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :acct)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(runPK(orgRunID)), ":acct": s(skAccountPrefix),
		},
		ConsistentRead: aws.Bool(true),
	}, func(item map[string]types.AttributeValue) error {
		var res AccountResult
		if err := unmarshalItem(item, &res); err != nil {
			return err
		}
		out = append(out, res)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("accounts of organization run %s: %w", orgRunID, err)
	}
	return out, nil
}

// --- Mem -----------------------------------------------------------------------

// memOrg is a Mem's organization state. It lives beside Mem, keyed by the
// Mem, so the single-account store stays as it is; Mem.mu guards it.
type memOrg struct {
	runs     map[string]*OrgRun                  // org run id → fan-out attributes (Run part unused)
	accounts map[string]map[string]AccountResult // org run id → account → result
}

var memOrgs sync.Map // *Mem → *memOrg

func (m *Mem) org() *memOrg {
	v, _ := memOrgs.LoadOrStore(m, &memOrg{runs: map[string]*OrgRun{}, accounts: map[string]map[string]AccountResult{}})
	return v.(*memOrg)
}

// orgRunLocked merges the Run record with the fan-out attributes; m.mu held.
func (m *Mem) orgRunLocked(runID string) (*OrgRun, error) {
	r, ok := m.runs[runID]
	if !ok {
		return nil, fmt.Errorf("organization run %s: %w", runID, ErrNotFound)
	}
	out := OrgRun{}
	if extra := m.org().runs[runID]; extra != nil {
		out = *extra
	}
	out.Run = r
	var cp OrgRun
	if err := roundTrip(out, &cp); err != nil {
		return nil, fmt.Errorf("decode organization run %s: %w", runID, err)
	}
	return &cp, nil
}

// GetOrgRun: see Dynamo.GetOrgRun.
func (m *Mem) GetOrgRun(_ context.Context, runID string) (*OrgRun, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.orgRunLocked(runID)
}

// PlanOrgRun: see Dynamo.PlanOrgRun.
func (m *Mem) PlanOrgRun(_ context.Context, runID string, plan OrgPlan) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.runs[runID]; !ok {
		return fmt.Errorf("plan organization run %s: %w", runID, ErrNotFound)
	}
	o := m.org()
	extra := o.runs[runID]
	if extra == nil {
		extra = &OrgRun{Outcomes: map[string]int{}}
		o.runs[runID] = extra
	}
	extra.Planned = true
	extra.Accounts = slices.Sorted(slices.Values(plan.Accounts))
	extra.AccountsPlanned = len(plan.Accounts)
	if plan.OrganizationID != "" {
		extra.OrganizationID = plan.OrganizationID
	}
	if plan.Selection != "" {
		extra.Selection = plan.Selection
	}
	return nil
}

// MarkDispatched: see Dynamo.MarkDispatched.
func (m *Mem) MarkDispatched(_ context.Context, runID string, notes []string) (*OrgRun, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[runID]
	if !ok {
		return nil, fmt.Errorf("mark organization run %s dispatched: %w", runID, ErrNotFound)
	}
	o := m.org()
	if o.runs[runID] == nil {
		o.runs[runID] = &OrgRun{Outcomes: map[string]int{}}
	}
	at := m.now().UTC()
	o.runs[runID].DispatchedAt = &at
	r.Errors = append(r.Errors, notes...)
	m.runs[runID] = r
	m.finishIfDoneLocked(runID)
	return m.orgRunLocked(runID)
}

// RecordAccount: see Dynamo.RecordAccount.
func (m *Mem) RecordAccount(_ context.Context, orgRunID string, res AccountResult) (*OrgRun, error) {
	if res.At.IsZero() {
		res.At = m.now()
	}
	if err := checkAccountResult(res); err != nil {
		return nil, err
	}
	var cp AccountResult
	if err := roundTrip(res, &cp); err != nil {
		return nil, fmt.Errorf("encode account %s: %w", res.Account, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.org()
	extra := o.runs[orgRunID]
	if _, ok := m.runs[orgRunID]; !ok || extra == nil || !extra.Planned {
		return nil, fmt.Errorf("record account %s in organization run %s: run not found or not planned: %w", res.Account, orgRunID, ErrNotFound)
	}
	var prev *AccountResult
	if p, ok := o.accounts[orgRunID][res.Account]; ok {
		prev = &p
	}
	if dl, changes := accountDelta(prev, cp); changes {
		if o.accounts[orgRunID] == nil {
			o.accounts[orgRunID] = map[string]AccountResult{}
		}
		o.accounts[orgRunID][res.Account] = cp
		extra.AccountsDone += dl.done
		extra.AccountsFailed += dl.failed
		if extra.Outcomes == nil {
			extra.Outcomes = map[string]int{}
		}
		for k, v := range dl.outcomes {
			extra.Outcomes[k] += v
		}
		r := m.runs[orgRunID]
		if r.Counts == nil {
			r.Counts = map[string]int{}
		}
		for k, v := range dl.counts {
			r.Counts[k] += v
		}
		m.runs[orgRunID] = r
	}
	m.finishIfDoneLocked(orgRunID)
	return m.orgRunLocked(orgRunID)
}

func (m *Mem) finishIfDoneLocked(runID string) {
	extra := m.org().runs[runID]
	if extra == nil {
		return
	}
	r := m.runs[runID]
	view := *extra
	view.Run = r
	outcome, first, change := nextOrgOutcome(&view)
	if !change {
		return
	}
	r.Outcome = outcome
	if first {
		end := m.now().UTC()
		r.FinishedAt = &end
		r.DurationMs = end.Sub(r.StartedAt).Milliseconds()
	}
	m.runs[runID] = r
}

// AccountResults: see Dynamo.AccountResults.
func (m *Mem) AccountResults(_ context.Context, orgRunID string) ([]AccountResult, error) {
	m.mu.Lock()
	var out []AccountResult
	for _, r := range m.org().accounts[orgRunID] {
		out = append(out, r)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Account < out[j].Account })
	return out, nil
}
