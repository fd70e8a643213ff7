package wiring

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/keystore/gmi"
	"github.com/keysweep/keysweep/internal/keystore/huawei"
)

// SecretsAPI is the part of Secrets Manager a target's credentials need:
// read the secret, and write back a GMI session the store renewed.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// OpenTarget builds the key store of a configured target. Its credentials
// come from the target's secret in Secrets Manager when it names one (the
// Lambda), else from the environment or a profile file (the CLI); never
// from a flag, and never logged.
func (d *Deps) OpenTarget(ctx context.Context, tc TargetConfig, logger *slog.Logger) (engine.KeyStore, error) {
	if logger == nil {
		logger = slog.Default()
	}
	raw, err := d.secret(ctx, tc)
	if err != nil {
		return nil, err
	}
	switch tc.Provider {
	case domain.ProviderHuawei:
		return d.openHuawei(ctx, tc, raw, logger)
	case domain.ProviderGMI:
		return d.openGMI(tc, raw, logger)
	}
	return nil, fmt.Errorf("target %s: unknown provider %q", tc.Name, tc.Provider)
}

// secret reads the target's secret; nil when it names none.
func (d *Deps) secret(ctx context.Context, tc TargetConfig) ([]byte, error) {
	if tc.SecretARN == "" {
		return nil, nil
	}
	out, err := d.secrets().GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(tc.SecretARN)})
	if err != nil {
		return nil, fmt.Errorf("target %s: read its secret: %w", tc.Name, err)
	}
	return []byte(aws.ToString(out.SecretString)), nil
}

func (d *Deps) secrets() SecretsAPI {
	if d.Secrets != nil {
		return d.Secrets
	}
	return secretsmanager.NewFromConfig(d.AWS)
}

func (d *Deps) openHuawei(ctx context.Context, tc TargetConfig, raw []byte, logger *slog.Logger) (engine.KeyStore, error) {
	var s huawei.Secret
	var err error
	if raw != nil {
		s, err = huawei.ParseSecret(raw)
	} else {
		s, err = huawei.LoadCredentials(huawei.LoadOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", tc.Name, err)
	}
	cfg := huawei.Config{Endpoint: first(tc.Endpoint, s.Endpoint), DomainID: first(tc.Account, s.DomainID),
		Credentials: s.Credentials, V5: huawei.V5Auto, Logger: logger}
	st, err := huawei.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", tc.Name, err)
	}
	return st, nil
}

func (d *Deps) openGMI(tc TargetConfig, raw []byte, logger *slog.Logger) (engine.KeyStore, error) {
	var s gmi.Secret
	var err error
	cfg := gmi.Config{Logger: logger}
	if raw != nil {
		s, err = gmi.ParseSecret(raw)
		// A renewed session is written back to the secret, so the next
		// run starts from it.
		arn := tc.SecretARN
		cfg.OnRenew = func(ctx context.Context, renewed gmi.Secret) error {
			b, err := json.Marshal(renewed)
			if err != nil {
				return err
			}
			_, err = d.secrets().PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(string(b))})
			return err
		}
	} else {
		s, err = gmi.SecretFromEnv(os.Getenv)
	}
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", tc.Name, err)
	}
	if tc.Endpoint != "" {
		s.Endpoint = tc.Endpoint
	}
	if tc.Account != "" && s.OrganizationID != tc.Account {
		return nil, fmt.Errorf("target %s: its secret is for organization %s, the target names %s", tc.Name, s.OrganizationID, tc.Account)
	}
	cfg.Secret = s
	st, err := gmi.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", tc.Name, err)
	}
	return st, nil
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
