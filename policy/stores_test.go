package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// gmiKey is a key of a store without status or last use, as GMI Cloud's.
func gmiKey(created int, expires *time.Time) Key {
	return Key{UserName: "owner-1", OwnerID: "owner-1", AccessKeyID: "k1", KeyName: "ci-deploy", Scope: "org",
		CreatedAt: ago(created), ExpiresAt: expires, NoStatus: true, LastUseUnknown: true}
}

func TestEvaluateStoreWithoutStatus(t *testing.T) {
	p := &Policy{Version: "v", Mode: ModeEnforce, MaxKeyAgeDays: 90, MaxInactiveDays: 45, DeleteAfterDays: 14}
	marked := agoP(3)
	longAgo := agoP(20)
	past := agoP(1)
	tests := []struct {
		name    string
		key     Key
		verdict Verdict
		reason  string
	}{
		{"fresh: kept, inactivity not judged", gmiKey(10, nil), Keep, "created 10 days ago, last use unknown; within limits 90/45"},
		{"stale, not yet due: marked due now", gmiKey(100, nil), Keep, "cannot be deactivated: marked due now, delete on"},
		{"due, notice running", func() Key { k := gmiKey(100, nil); k.DeactivatedAt = marked; return k }(), Keep, "due since"},
		{"due, notice over: deleted", func() Key { k := gmiKey(100, nil); k.DeactivatedAt = longAgo; return k }(), Delete, "delete after 14"},
		{"no longer stale ends the notice", func() Key { k := gmiKey(10, nil); k.DeactivatedAt = marked; return k }(), Keep, "no longer stale: the notice period ends"},
		{"expired: deleted at once", gmiKey(10, past), Delete, "expired keys are deleted at once"},
		{"status is ignored", func() Key { k := gmiKey(100, nil); k.Status = StatusActive; return k }(), Keep, "marked due now"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Evaluate(tc.key, now)
			if d.Verdict != tc.verdict || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("Evaluate = %s %q, want %s with %q", d.Verdict, d.Reason, tc.verdict, tc.reason)
			}
		})
	}
}

func TestLifetimeRule(t *testing.T) {
	p := &Policy{Version: "v", Mode: ModeEnforce, MaxKeyLifetimeDays: 90, DeleteAfterDays: 0}
	in := func(d int) *time.Time { x := now.Add(time.Duration(d) * 24 * time.Hour); return &x }
	for _, tc := range []struct {
		name    string
		key     Key
		stale   bool
		because string
	}{
		{"never expires", gmiKey(10, nil), true, "never expires, lifetime limit 90"},
		{"expires too late", gmiKey(10, in(200)), true, "after creation, lifetime limit 90"},
		{"expires in time", gmiKey(10, in(30)), false, "expires"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Evaluate(tc.key, now)
			if d.Stale != tc.stale || !strings.Contains(d.Reason, tc.because) {
				t.Errorf("Evaluate = stale %v %q, want stale %v with %q", d.Stale, d.Reason, tc.stale, tc.because)
			}
		})
	}
}

func TestStoreExemptions(t *testing.T) {
	p := &Policy{Version: "v", Mode: ModeEnforce, MaxKeyAgeDays: 90, Exemptions: Exemptions{
		KeyNamePrefixes: []string{"ci-"}, OwnerIDs: []string{"owner-2"}, Scopes: []string{"inference"},
	}}
	byName := gmiKey(100, nil)
	byOwner := gmiKey(100, nil)
	byOwner.KeyName, byOwner.OwnerID = "x", "owner-2"
	byScope := gmiKey(100, nil)
	byScope.KeyName, byScope.Scope = "x", "inference"
	none := gmiKey(100, nil)
	none.KeyName = "x"
	for k, want := range map[*Key]string{&byName: "key name ci-deploy starts with ci-", &byOwner: "owner id owner-2", &byScope: "scope inference", &none: ""} {
		d := p.Evaluate(*k, now)
		if want == "" {
			if d.Verdict == Exempt {
				t.Errorf("%+v exempt: %s", *k, d.Reason)
			}
			continue
		}
		if d.Verdict != Exempt || !strings.Contains(d.Reason, want) {
			t.Errorf("Evaluate = %s %q, want exempt by %q", d.Verdict, d.Reason, want)
		}
		if p.Screen(*k, now) {
			t.Errorf("Screen of a key exempt by %q = true, want false", want)
		}
	}
}

func TestValidateFor(t *testing.T) {
	gmi := StoreTraits{Name: "GMI Cloud", Expiry: true}
	p := &Policy{Version: "v", Mode: ModeEnforce, MaxKeyAgeDays: 90, MaxInactiveDays: 45,
		Exemptions: Exemptions{Tag: "keysweep:exempt"}}
	err := p.ValidateFor(gmi)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("ValidateFor(GMI) = %v, want invalid", err)
	}
	for _, want := range []string{"maxInactiveDays: GMI Cloud keys have no last-use date", "exemptions.tag: GMI Cloud owners have no tags"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if err := p.ValidateFor(AllTraits); err != nil {
		t.Errorf("ValidateFor(AWS) = %v", err)
	}
	p.Exemptions.Users = []string{"bob smith"}
	if err := p.ValidateFor(AllTraits); err == nil || !strings.Contains(err.Error(), "exemptions.users[0]") {
		t.Errorf("an IAM user name with a space: %v, want it refused", err)
	}
	p.Exemptions.Users = nil
	p.MaxKeyLifetimeDays = 30
	if err := p.ValidateFor(AllTraits); err == nil || !strings.Contains(err.Error(), "maxKeyLifetimeDays") {
		t.Errorf("a lifetime rule for AWS IAM: %v, want it refused", err)
	}
	if got := len((&Policy{Version: "v", Mode: ModeAudit, MaxKeyAgeDays: 90, MaxInactiveDays: 45}).Unserved(gmi)); got != 1 {
		t.Errorf("Unserved = %d notes, want 1 (the inactivity rule)", got)
	}
}

func TestParseRefusesDuplicatesAndHiddenCharacters(t *testing.T) {
	for name, doc := range map[string]string{
		"duplicate mode":        `{"version":"v","mode":"audit","mode":"enforce","maxKeyAgeDays":90}`,
		"duplicate nested":      `{"version":"v","mode":"audit","maxKeyAgeDays":90,"exemptions":{"tag":"a","tag":"b"}}`,
		"right-to-left in user": `{"version":"v","mode":"audit","maxKeyAgeDays":90,"exemptions":{"users":["\u202ealice"]}}`,
		"zero width in user":    `{"version":"v","mode":"audit","maxKeyAgeDays":90,"exemptions":{"users":["al\u200bice"]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(doc)); !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse = %v, want invalid", err)
			}
		})
	}
	p, err := Parse([]byte(`{"version":"v","mode":"audit","maxKeyAgeDays":90,"exemptions":{"users":["bob"]}}`))
	if err != nil || p.Exemptions.Users[0] != "bob" {
		t.Errorf("a plain policy: %v", err)
	}
}
