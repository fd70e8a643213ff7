package posture_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/journal/mem"
	"github.com/keysweep/keysweep/internal/posture"
	"github.com/keysweep/keysweep/policy"
)

// store is a key store of one owner's keys, by age in days, that lists
// keys with their ids and knows no last use (as GMI).
type store struct {
	account string
	now     time.Time
	ages    map[string]int
}

var _ engine.KeyStore = (*store)(nil)

func (s *store) Provider() domain.Provider { return domain.ProviderGMI }
func (s *store) Capabilities() domain.Capabilities {
	return domain.Capabilities{Expiry: true}
}
func (s *store) Account(context.Context) (string, error) { return s.account, nil }
func (s *store) Inventory(context.Context) (*domain.Inventory, error) {
	o := domain.Owner{Name: "ada"}
	for id, age := range s.ages {
		o.Keys = append(o.Keys, domain.Key{ID: id, Account: s.account, Owner: "ada", Status: domain.StatusActive,
			CreatedAt: s.now.AddDate(0, 0, -age)})
	}
	return &domain.Inventory{Source: "list", GeneratedAt: s.now, Owners: []domain.Owner{o}}, nil
}
func (s *store) OwnerKeys(ctx context.Context, o domain.Owner) ([]domain.Key, error) {
	inv, _ := s.Inventory(ctx)
	return inv.Owners[0].Keys, nil
}
func (s *store) OwnerTags(context.Context, domain.Owner) (map[string]string, error) {
	return nil, domain.ErrUnsupported
}
func (s *store) OwnerPath(context.Context, domain.Owner) (string, error) {
	return "", domain.ErrUnsupported
}
func (s *store) Recheck(_ context.Context, k domain.Key, _ bool) (domain.Key, error) { return k, nil }
func (s *store) FindKey(context.Context, string) (domain.Key, error) {
	return domain.Key{}, domain.ErrKeyNotFound
}
func (s *store) Deactivate(context.Context, domain.Key) error { return domain.ErrUnsupported }
func (s *store) Delete(context.Context, domain.Key) error     { return nil }
func (s *store) Calls() map[string]int                        { return nil }

const doc = "version: p-1\nmode: enforce\nmaxKeyAgeDays: 90\n"

// TestGather: each target is judged now and at the end of each week of
// the window; a target that cannot be opened is left out with a note, or
// fails the whole report when it is required.
func TestGather(t *testing.T) {
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	j := mem.New()
	good := engine.Target{Name: "gmi-ml", Engine: &engine.Engine{Store: &store{account: "org-1", now: now,
		ages: map[string]int{"old": 100, "soon": 85, "fresh": 10}}, Journal: j, Target: "gmi-ml"}}
	broken := engine.Target{Name: "otc", Open: func(context.Context) (*engine.Engine, error) {
		return nil, errors.New("no huawei credentials")
	}}
	var leftOut []string
	o := posture.Options{
		Now: now, Days: 14, Activity: j,
		Policy:  func(context.Context, engine.Target) (*policy.Policy, error) { return p, nil },
		LeftOut: func(t engine.Target, err error) { leftOut = append(leftOut, t.Name+": "+err.Error()) },
	}
	in, err := posture.Gather(context.Background(), []engine.Target{good, broken}, o)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]domain.Target{{Name: "gmi-ml", Provider: domain.ProviderGMI, Account: "org-1"}}, in.Targets); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	verdicts := map[string]policy.Verdict{}
	for _, d := range in.Decisions {
		verdicts[d.AccessKeyID] = d.Verdict
	}
	if verdicts["old"] == policy.Keep || verdicts["soon"] != policy.Keep || verdicts["fresh"] != policy.Keep {
		t.Errorf("verdicts now %v; want only the 100-day-old key stale", verdicts)
	}
	if len(in.Forecast) != 2 || !in.Forecast[1].At.Equal(now.AddDate(0, 0, 14)) {
		t.Fatalf("forecast %+v; want two weeks", in.Forecast)
	}
	for _, d := range in.Forecast[0].Decisions {
		if d.AccessKeyID == "soon" && d.Verdict == policy.Keep {
			t.Errorf("the 85-day-old key is still kept in a week's time")
		}
	}
	if in.Policy != p || !in.GeneratedAt.Equal(now) || !in.At.Equal(now) {
		t.Errorf("policy %v, generated %v, at %v", in.Policy, in.GeneratedAt, in.At)
	}
	if diff := cmp.Diff([]string{"otc: target otc: no huawei credentials"}, leftOut); diff != "" {
		t.Errorf("left out (-want +got):\n%s", diff)
	}
	if notes := strings.Join(in.Notes[domain.ProviderAWS], "\n"); !strings.Contains(notes, "target otc is not in this report") {
		t.Errorf("notes %q do not say the target is missing", notes)
	}

	o.Required = func(t engine.Target) bool { return t.Name == "otc" }
	if _, err := posture.Gather(context.Background(), []engine.Target{good, broken}, o); err == nil || !strings.Contains(err.Error(), "target otc") {
		t.Errorf("a required target that cannot be opened: %v; want an error naming it", err)
	}
	if _, err := posture.Gather(context.Background(), nil, o); !errors.Is(err, posture.ErrNoTargets) {
		t.Errorf("no targets: %v", err)
	}
}
