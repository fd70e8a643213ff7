package huawei_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/keystore/huawei"
	"github.com/keysweep/keysweep/internal/testenv/huaweiiam"
)

const secretKey = "s3cr3t-SK-must-never-be-printed-0123456789"

func TestParseSecret(t *testing.T) {
	tests := []struct {
		name, doc string
		want      huawei.Secret
		err       string
	}{
		{"full", `{"accessKeyId":"AK1","secretAccessKey":"` + secretKey + `","domainId":"d1","endpoint":"https://iam.eu-de.otc.t-systems.com:443/"}`,
			huawei.Secret{Credentials: huawei.Credentials{AccessKeyID: "AK1", SecretAccessKey: secretKey}, DomainID: "d1",
				Endpoint: "https://iam.eu-de.otc.t-systems.com:443/"}, ""},
		{"temporary", `{"accessKeyId":"AK1","secretAccessKey":"` + secretKey + `","securityToken":"tok"}`,
			huawei.Secret{Credentials: huawei.Credentials{AccessKeyID: "AK1", SecretAccessKey: secretKey, SecurityToken: "tok"}}, ""},
		{"misspelt field", `{"accessKeyId":"AK1","secretAcessKey":"` + secretKey + `"}`, huawei.Secret{}, `unknown field "secretAcessKey"`},
		{"no secret", `{"accessKeyId":"AK1"}`, huawei.Secret{}, "no secret access key"},
		{"broken JSON", `{"accessKeyId":"AK1","secretAccessKey":"` + secretKey + `",}`, huawei.Secret{}, "invalid JSON at byte"},
		{"wrong type", `{"accessKeyId":"AK1","secretAccessKey":12345}`, huawei.Secret{}, `field "secretAccessKey" must be a string`},
		{"plain http endpoint", `{"accessKeyId":"AK1","secretAccessKey":"x","endpoint":"http://iam.eu-de.otc.t-systems.com"}`, huawei.Secret{}, "plain http"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := huawei.ParseSecret([]byte(tc.doc))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), secretKey) {
					t.Fatalf("the error quotes the secret key: %v", err)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); err != nil || diff != "" {
				t.Errorf("%v (-want +got)\n%s", err, diff)
			}
		})
	}
}

func TestLoadCredentials(t *testing.T) {
	dir := t.TempDir()
	profile := filepath.Join(dir, "credentials")
	if err := os.WriteFile(profile, []byte("[basic]\nak = WRONG\n\n[global]\n; keysweep\nak = AKFILE\nsk = "+secretKey+"\ndomain_id = d9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name string
		opts huawei.LoadOptions
		want huawei.Secret
		err  string
	}{
		{"keysweep's variables", huawei.LoadOptions{Getenv: env(map[string]string{
			huawei.EnvAccessKeyID: "AKENV", huawei.EnvSecretAccessKey: secretKey, huawei.EnvDomainID: "d1",
			huawei.EnvSDKAccessKeyID: "AKSDK", huawei.EnvSDKSecretAccessKey: "other"})},
			huawei.Secret{Credentials: huawei.Credentials{AccessKeyID: "AKENV", SecretAccessKey: secretKey}, DomainID: "d1"}, ""},
		{"the SDK's variables", huawei.LoadOptions{Getenv: env(map[string]string{
			huawei.EnvSDKAccessKeyID: "AKSDK", huawei.EnvSDKSecretAccessKey: secretKey, huawei.EnvSDKSecurityToken: "tok"})},
			huawei.Secret{Credentials: huawei.Credentials{AccessKeyID: "AKSDK", SecretAccessKey: secretKey, SecurityToken: "tok"}}, ""},
		{"half a pair", huawei.LoadOptions{Getenv: env(map[string]string{huawei.EnvAccessKeyID: "AKENV"})},
			huawei.Secret{}, huawei.EnvSecretAccessKey + " is not set"},
		{"profile file named by the SDK variable", huawei.LoadOptions{Getenv: env(map[string]string{huawei.EnvSDKCredentialsFile: profile})},
			huawei.Secret{Credentials: huawei.Credentials{AccessKeyID: "AKFILE", SecretAccessKey: secretKey}, DomainID: "d9"}, ""},
		{"missing section", huawei.LoadOptions{Getenv: env(nil), File: profile, Profile: "prod"}, huawei.Secret{}, "no [prod] section"},
		{"nothing anywhere", huawei.LoadOptions{Getenv: env(map[string]string{huawei.EnvSDKCredentialsFile: filepath.Join(dir, "none")})},
			huawei.Secret{}, huawei.ErrNoCredentials.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := huawei.LoadCredentials(tc.opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), secretKey) {
					t.Fatalf("error %v, want %q without the secret", err, tc.err)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); err != nil || diff != "" {
				t.Errorf("%v (-want +got)\n%s", err, diff)
			}
		})
	}
	if _, err := huawei.LoadCredentials(huawei.LoadOptions{Getenv: env(nil), File: filepath.Join(dir, "none")}); errors.Is(err, huawei.ErrNoCredentials) {
		t.Error("a named profile file that is missing must say so, not fall back to 'no credentials'")
	}
}

// TestSecretKeyNeverPrinted runs the store through retries, a refused
// signature, a missing key and a denied call with Debug logging, and wants
// the secret key in none of the logs, errors or formatted values.
func TestSecretKeyNeverPrinted(t *testing.T) {
	srv := huaweiiam.Start(t, huaweiiam.Options{})
	srv.AddCredential(huaweiiam.Credential{AccessKeyID: "LEAKTESTAK0000000001", SecretAccessKey: secretKey, SecurityToken: "tok-secret-too"})
	logs := &logBuffer{}
	cred := huawei.Credentials{AccessKeyID: "LEAKTESTAK0000000001", SecretAccessKey: secretKey, SecurityToken: "tok-secret-too"}
	store, err := huawei.New(huawei.Config{Endpoint: srv.URL, DomainID: srv.DomainID(), Credentials: cred,
		Retry:  huawei.Retry{Sleep: (&sleeps{}).sleep},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	uid := srv.AddUser("henry", nil)
	ak := srv.AddKey(uid, ago(day), nil)
	var texts []string
	record := func(err error) {
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		}
	}
	srv.Fail("", http.StatusTooManyRequests, 2)
	_, err = store.Inventory(ctx)
	record(err)
	srv.Fail("", http.StatusInternalServerError, -1)
	_, err = store.FindKey(ctx, ak)
	record(err)
	srv.ClearFaults()
	srv.Deny(huaweiiam.RouteDeleteCredential)
	record(store.Delete(ctx, domainKey(ak)))
	srv.ClearFaults()
	record(store.Delete(ctx, domainKey("HPUA0000000000000999")))
	srv.AddCredential(huaweiiam.Credential{AccessKeyID: "LEAKTESTAK0000000001", SecretAccessKey: "rotated", SecurityToken: "tok-secret-too"})
	_, err = store.Inventory(ctx)
	record(err)
	slog.New(slog.NewTextHandler(logs, nil)).Info("config", "credentials", cred)
	texts = append(texts, logs.String(), fmt.Sprintf("%v %+v %#v %s", cred, cred, cred, cred))

	if len(texts) < 10 {
		t.Fatalf("only %d texts recorded", len(texts))
	}
	for _, text := range texts {
		for _, secret := range []string{secretKey, "tok-secret-too"} {
			if strings.Contains(text, secret) {
				t.Fatalf("a secret leaked into:\n%s", text)
			}
		}
	}
	if !strings.Contains(logs.String(), "huawei iam call retried") {
		t.Error("the retries were not logged: the test saw nothing")
	}
}
