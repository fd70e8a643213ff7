package huawei_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/keystore/huawei"
	"github.com/keysweep/keysweep/internal/testenv/huaweiiam"
)

// populate adds users users, the first twoKeyUsers of them with two keys
// and the rest with one, and returns the keys in order.
func populate(srv *huaweiiam.Server, users, twoKeyUsers int) []string {
	var aks []string
	for i := range users {
		id := srv.AddUser(fmt.Sprintf("user-%04d", i), nil)
		aks = append(aks, srv.AddKey(id, ago(time.Duration(30+i%400)*day), ptr(ago(time.Duration(i%200)*day))))
		if i < twoKeyUsers {
			aks = append(aks, srv.AddKey(id, ago(time.Duration(10+i%300)*day), nil))
		}
	}
	return aks
}

func routeTable(calls map[string]int) string {
	var b strings.Builder
	total := 0
	for _, route := range slices.Sorted(maps.Keys(calls)) {
		fmt.Fprintf(&b, "\n  %-62s %5d", route, calls[route])
		total += calls[route]
	}
	fmt.Fprintf(&b, "\n  %-62s %5d", "total", total)
	return b.String()
}

// TestMeasureCalls records, on the local server, the calls a full
// inventory of 1,000 users with 1,500 keys makes, and the calls of a sweep
// that acts on 50 of those keys (a re-check before each action; 25
// deactivations, 25 deletions of keys already inactive), by route. It
// asserts the counts the design promises (1 + U + K for the inventory, two
// calls per acted key) and logs them; run with -v to read them.
func TestMeasureCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement: 1,000 users")
	}
	f := newFixture(t, huaweiiam.Options{}, nil)
	aks := populate(f.srv, 1000, 500)
	ctx := context.Background()

	start := time.Now()
	inv, err := f.store.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if len(inv.Owners) != 1000 || inv.Keys() != 1500 {
		t.Fatalf("%d owners, %d keys", len(inv.Owners), inv.Keys())
	}
	inventory := f.srv.Calls()
	if got, want := sum(inventory), 1+1000+1500; got != want {
		t.Errorf("inventory made %d calls, want 1 + U + K = %d", got, want)
	}
	t.Logf("inventory of 1,000 users / 1,500 keys: %s\n  (%v on loopback, concurrency 8)", routeTable(inventory), elapsed.Round(time.Millisecond))

	for _, ak := range aks[25:50] {
		f.srv.SetKey(ak, func(k *huaweiiam.Key) { k.Status = "inactive" })
	}
	sweep := func(store *huawei.Store, aks []string) map[string]int {
		f.srv.ResetCounts()
		for i, ak := range aks {
			k, err := store.Recheck(ctx, domain.Key{ID: ak}, true)
			if err != nil {
				t.Fatal(err)
			}
			act := store.Deactivate
			if i >= 25 {
				act = store.Delete
			}
			if err := act(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		return f.srv.Calls()
	}
	warm := sweep(f.store, aks[:50])
	if got := sum(warm); got != 100 {
		t.Errorf("a sweep acting on 50 keys made %d calls, want 100", got)
	}
	t.Logf("sweep acting on 50 keys after the inventory (owner names known): %s", routeTable(warm))

	// A fresh store, as a revoke through the API has: no owner names known.
	cold, err := huawei.New(huawei.Config{Endpoint: f.srv.URL, DomainID: f.srv.DomainID(),
		Credentials: huawei.Credentials{AccessKeyID: f.srv.Caller().AccessKeyID, SecretAccessKey: f.srv.Caller().SecretAccessKey}})
	if err != nil {
		t.Fatal(err)
	}
	coldCalls := sweep(cold, aks[50:100])
	t.Logf("the same 50 actions from a fresh store (one user read per distinct owner): %s", routeTable(coldCalls))
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// BenchmarkInventory1000Users reports the calls and time of an inventory of
// 1,000 users and 1,500 keys on the local server.
func BenchmarkInventory1000Users(b *testing.B) {
	srv := huaweiiam.Start(b, huaweiiam.Options{})
	populate(srv, 1000, 500)
	store, err := huawei.New(huawei.Config{Endpoint: srv.URL, DomainID: srv.DomainID(),
		Credentials: huawei.Credentials{AccessKeyID: srv.Caller().AccessKeyID, SecretAccessKey: srv.Caller().SecretAccessKey}})
	if err != nil {
		b.Fatal(err)
	}
	srv.ResetCounts()
	b.ResetTimer()
	for b.Loop() {
		if _, err := store.Inventory(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sum(srv.Calls()))/float64(b.N), "calls/op")
}
