package awsiam

import (
	"bytes"
	"encoding/csv"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keysweep/keysweep/internal/domain"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func tp(s string) *time.Time {
	t := ts(s)
	return &t
}

// wantReportUsers is testdata/credential-report.csv as users.
func wantReportUsers() []domain.Owner {
	const acct = "123456789012"
	return []domain.Owner{
		{Name: "alice", Path: "/", ARN: "arn:aws:iam::123456789012:user/alice", Keys: []domain.Key{
			{Account: acct, Owner: "alice", Slot: 1, LastUseKnown: true, Status: domain.StatusActive,
				CreatedAt: ts("2023-11-02T10:15:42Z"), LastUsedAt: tp("2024-04-29T16:03:00Z")},
			{Account: acct, Owner: "alice", Slot: 2, LastUseKnown: true, Status: domain.StatusInactive,
				CreatedAt: ts("2020-01-10T14:30:05Z")},
		}},
		{Name: "carol", Path: "/", ARN: "arn:aws:iam::123456789012:user/carol", Keys: []domain.Key{}},
		{Name: "dave", Path: "/ops/", ARN: "arn:aws:iam::123456789012:user/ops/dave", Keys: []domain.Key{
			{Account: acct, Owner: "dave", Slot: 2, LastUseKnown: true, Status: domain.StatusInactive,
				CreatedAt: ts("2018-07-08T12:00:00Z"), LastUsedAt: tp("2019-01-01T00:00:00Z")},
		}},
		{Name: "deploy-bot", Path: "/service/app/", ARN: "arn:aws:iam::123456789012:user/service/app/deploy-bot", Keys: []domain.Key{
			{Account: acct, Owner: "deploy-bot", Slot: 1, LastUseKnown: true, Status: domain.StatusActive,
				CreatedAt: ts("2021-06-15T08:01:12Z"), LastUsedAt: tp("2024-05-01T23:59:01Z")},
		}},
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// permuteColumns rewrites a CSV with its columns in the order perm gives.
func permuteColumns(t *testing.T, in []byte, perm func(n int) []int) []byte {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(in)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	order := perm(len(recs[0]))
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	for _, rec := range recs {
		out := make([]string, len(order))
		for i, j := range order {
			out[i] = rec[j]
		}
		if err := w.Write(out); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	return buf.Bytes()
}

func TestParseReport(t *testing.T) {
	report := readTestdata(t, "credential-report.csv")
	reversed := func(n int) []int {
		o := make([]int, n)
		for i := range o {
			o[i] = n - 1 - i
		}
		return o
	}
	// Interleave: odd columns first, then even ones, so no two neighbours stay together.
	interleaved := func(n int) []int {
		var o []int
		for i := 1; i < n; i += 2 {
			o = append(o, i)
		}
		for i := 0; i < n; i += 2 {
			o = append(o, i)
		}
		return o
	}
	tests := []struct {
		name    string
		content []byte
		want    []domain.Owner
		wantErr string
	}{
		{name: "as documented", content: report, want: wantReportUsers()},
		{name: "columns reversed", content: permuteColumns(t, report, reversed), want: wantReportUsers()},
		{name: "columns interleaved", content: permuteColumns(t, report, interleaved), want: wantReportUsers()},
		{name: "extra column", content: permuteColumns(t, report, func(n int) []int { return append(reversed(n), 0) }), want: wantReportUsers()},
		{name: "header only", content: report[:bytes.IndexByte(report, '\n')+1], want: []domain.Owner{}},
		{name: "crlf line ends", content: bytes.ReplaceAll(report, []byte("\n"), []byte("\r\n")), want: wantReportUsers()},
		{name: "empty", content: nil, wantErr: "read header"},
		{name: "missing column", content: []byte("user,arn\nbob,arn:aws:iam::1:user/bob\n"), wantErr: `no "access_key_1_active" column`},
		{name: "bad time", content: bytes.Replace(report, []byte("2023-11-02T10:15:42+00:00"), []byte("yesterday"), 1), wantErr: "access_key_1_last_rotated"},
		{name: "bad arn", content: bytes.Replace(report, []byte("arn:aws:iam::123456789012:user/carol"), []byte("carol"), 1), wantErr: "not an iam arn"},
		{name: "short row", content: append(slices.Clone(report), "eve,arn:aws:iam::123456789012:user/eve\n"...), wantErr: "wrong number of fields"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseReport(tc.content)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseReport: err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseReport: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseReport (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseUserARN(t *testing.T) {
	tests := []struct {
		arn, account, path, wantErr string
	}{
		{arn: "arn:aws:iam::123456789012:user/bob", account: "123456789012", path: "/"},
		{arn: "arn:aws:iam::123456789012:user/service/app/bob", account: "123456789012", path: "/service/app/"},
		{arn: "arn:aws-cn:iam::123456789012:user/ops/bob", account: "123456789012", path: "/ops/"},
		{arn: "arn:aws:iam::123456789012:root", wantErr: "not a user"},
		{arn: "arn:aws:iam::123456789012:role/bob", wantErr: "not a user"},
		{arn: "arn:aws:s3:::bucket", wantErr: "not an iam arn"},
		{arn: "bob", wantErr: "not an iam arn"},
	}
	for _, tc := range tests {
		t.Run(tc.arn, func(t *testing.T) {
			account, path, err := parseUserARN(tc.arn)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || account != tc.account || path != tc.path {
				t.Errorf("got (%q, %q, %v), want (%q, %q, nil)", account, path, err, tc.account, tc.path)
			}
		})
	}
}

// FuzzParseReport: the report is outside input; parsing must never panic,
// and what it accepts is sorted, with every key in a user's path.
func FuzzParseReport(f *testing.F) {
	f.Add(readTestdata(f, "credential-report.csv"))
	f.Add([]byte("user,arn,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date\n"))
	f.Fuzz(func(t *testing.T, content []byte) {
		users, err := parseReport(content)
		if err != nil {
			return
		}
		if !slices.IsSortedFunc(users, func(a, b domain.Owner) int { return strings.Compare(a.Name, b.Name) }) {
			t.Errorf("users not sorted")
		}
		for _, u := range users {
			if !strings.HasPrefix(u.Path, "/") || !strings.HasSuffix(u.Path, "/") {
				t.Errorf("user %q: path %q", u.Name, u.Path)
			}
			if len(u.Keys) > 2 {
				t.Errorf("user %q: %d keys", u.Name, len(u.Keys))
			}
			for _, k := range u.Keys {
				if k.Owner != u.Name || k.CreatedAt.IsZero() {
					t.Errorf("user %q: key %+v", u.Name, k)
				}
			}
		}
	})
}
