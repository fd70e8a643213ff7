package cli

import (
	"strings"
	"testing"
)

// TestHelpAndUsage: help goes to stdout with exit 0; bad usage exits 2
// before anything is read or changed. None of these needs the emulator.
func TestHelpAndUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"help"}, ExitOK, "Commands:"},
		{[]string{"--help"}, ExitOK, "Exit codes"},
		{[]string{}, ExitUsage, ""},
		{[]string{"frobnicate"}, ExitUsage, ""},
		{[]string{"plan", "--help"}, ExitOK, "--at"},
		{[]string{"help", "plan"}, ExitOK, "--at"},
		{[]string{"sweep", "-h"}, ExitOK, "--event-id"},
		{[]string{"sweep", "--help"}, ExitOK, "--timeout"},
		{[]string{"audit", "--help"}, ExitOK, "--verify"},
		{[]string{"policy", "--help"}, ExitOK, "validate"},
		{[]string{"invoke", "--help"}, ExitOK, "sweeper"},
		{[]string{"report", "--help"}, ExitOK, "--days"},
		{[]string{"revoke", "--help"}, ExitOK, "--target"},
		{[]string{"plan", "--output", "xml"}, ExitUsage, ""},
		{[]string{"plan", "--output=xml"}, ExitUsage, ""},
		{[]string{"plan", "--at", "someday"}, ExitUsage, ""},
		{[]string{"plan", "extra"}, ExitUsage, ""},
		{[]string{"plan", "--nope"}, ExitUsage, ""},
		{[]string{"audit"}, ExitUsage, ""},
		{[]string{"audit", "--key", "AKIAEXAMPLEEXAMPLE01", "--run", "r-1"}, ExitUsage, ""},
		{[]string{"audit", "--verify", "--user", "bob"}, ExitUsage, ""},
		{[]string{"policy"}, ExitUsage, ""},
		{[]string{"policy", "frob"}, ExitUsage, ""},
		{[]string{"policy", "validate"}, ExitUsage, ""},
		{[]string{"invoke"}, ExitUsage, ""},
		{[]string{"invoke", "worker", "--event", "x.json"}, ExitUsage, ""},
		{[]string{"invoke", "sweeper"}, ExitUsage, ""},
		{[]string{"tables"}, ExitUsage, ""},
		{[]string{"sweep", "--users", "bad name!"}, ExitUsage, ""},
		{[]string{"sweep", "--timeout", "0s"}, ExitUsage, ""},
		{[]string{"sweep", "--timeout", "soon"}, ExitUsage, ""},
		{[]string{"sweep", "--target", "Not A Name"}, ExitUsage, ""},
		{[]string{"report", "--days", "0"}, ExitUsage, ""},
		{[]string{"revoke"}, ExitUsage, ""},
		{[]string{"key", "a", "b"}, ExitUsage, ""},
		{[]string{"revoke", "AKIA-SHORT"}, ExitUsage, ""},
		{[]string{"revoke", "AKIAEXAMPLEEXAMPLE01", "--reason", strings.Repeat("x", 513)}, ExitUsage, ""},
		{[]string{"revoke", "AKIAEXAMPLEEXAMPLE01", "--reason", "see \u202egol"}, ExitUsage, ""},
		{[]string{"revoke", "AKIAEXAMPLEEXAMPLE01", "--output", "csv"}, ExitUsage, ""},
		{[]string{"serve", "extra"}, ExitUsage, ""},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			code, stdout, stderr := cli(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, stdout, stderr)
			}
			if tc.want != "" && !strings.Contains(stdout, tc.want) {
				t.Errorf("stdout lacks %q:\n%s", tc.want, stdout)
			}
		})
	}
}

// TestFlagForms: a long flag takes its value as the next argument or after
// "=", and flags may follow positional arguments.
func TestFlagForms(t *testing.T) {
	for _, args := range [][]string{
		{"plan", "--output", "xml"},
		{"plan", "--output=xml"},
	} {
		code, _, stderr := cli(t, args...)
		if code != ExitUsage || !strings.Contains(stderr, `--output: must be table, json or csv, got "xml"`) {
			t.Errorf("%v: exit %d\n%s", args, code, stderr)
		}
	}
	good := writeFile(t, "good.yaml", enforcePolicy)
	for _, args := range [][]string{
		{"policy", "validate", good, "--target", "aws"},
		{"policy", "validate", "--target=aws", good},
	} {
		if code, stdout, stderr := cli(t, args...); code != ExitOK || !strings.Contains(stdout, "valid for target aws") {
			t.Errorf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
}

// TestSecretsNeverPrinted: the member role's external id is a secret (the
// template marks it NoEcho). No flag takes its default from it, so help
// and errors never show it.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Setenv("MEMBER_EXTERNAL_ID", "s3cr3t")
	t.Setenv("MEMBER_ROLE_NAME", "role-from-env")
	for _, args := range [][]string{
		{"sweep", "--help"},
		{"sweep", "-h"},
		{"help", "sweep"},
		{"sweep", "--org", "--externl-id", "x"},
		{"sweep", "--bogus"},
		{"sweep", "--org", "--concurrency", "0"},
		{"sweep", "--org", "--role", "bad/role"},
	} {
		_, stdout, stderr := cli(t, args...)
		if strings.Contains(stdout+stderr, "s3cr3t") {
			t.Errorf("%v printed the external id:\n%s%s", args, stdout, stderr)
		}
	}
}
