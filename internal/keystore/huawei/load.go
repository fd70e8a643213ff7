package huawei

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables LoadCredentials reads. keysweep's own names come
// first; the Huawei Cloud SDK's documented names (HUAWEICLOUD_SDK_AK, ...)
// are accepted too, so an environment set up for hcloud tools works as is.
const (
	EnvAccessKeyID     = "HUAWEI_ACCESS_KEY_ID"
	EnvSecretAccessKey = "HUAWEI_SECRET_ACCESS_KEY"
	EnvSecurityToken   = "HUAWEI_SECURITY_TOKEN"
	EnvDomainID        = "HUAWEI_DOMAIN_ID"
	EnvEndpoint        = "HUAWEI_IAM_ENDPOINT"

	EnvSDKAccessKeyID     = "HUAWEICLOUD_SDK_AK"
	EnvSDKSecretAccessKey = "HUAWEICLOUD_SDK_SK"
	EnvSDKSecurityToken   = "HUAWEICLOUD_SDK_SECURITY_TOKEN"
	EnvSDKDomainID        = "HUAWEICLOUD_SDK_DOMAIN_ID"
	// EnvSDKCredentialsFile names the profile file, as the SDK's profile
	// provider reads it; the default is ~/.huaweicloud/credentials.
	EnvSDKCredentialsFile = "HUAWEICLOUD_SDK_CREDENTIALS_FILE"
)

// DefaultProfile is the profile file section LoadCredentials reads: the
// SDK names its sections after the credential type, and IAM is a global
// service ("global" credentials carry a domain id).
const DefaultProfile = "global"

// ErrNoCredentials is returned by LoadCredentials when neither the
// environment nor a profile file holds credentials.
var ErrNoCredentials = errors.New("no huawei credentials in the environment or a profile file")

// LoadOptions says where LoadCredentials looks.
type LoadOptions struct {
	// Getenv reads the environment; os.Getenv when nil.
	Getenv func(string) string
	// File is the profile file; else $HUAWEICLOUD_SDK_CREDENTIALS_FILE,
	// else ~/.huaweicloud/credentials.
	File string
	// Profile is the file's section; DefaultProfile when empty.
	Profile string
}

// LoadCredentials reads credentials for the CLI: HUAWEI_ACCESS_KEY_ID and
// HUAWEI_SECRET_ACCESS_KEY (with HUAWEI_SECURITY_TOKEN, HUAWEI_DOMAIN_ID,
// HUAWEI_IAM_ENDPOINT), else the SDK's HUAWEICLOUD_SDK_AK and
// HUAWEICLOUD_SDK_SK (with ..._SECURITY_TOKEN, ..._DOMAIN_ID), else the
// profile file's section: an INI file with the keys ak, sk, security_token,
// domain_id and endpoint. Half a pair (an id without its secret) is an
// error that names the missing variable, never a fall-through.
func LoadCredentials(opts LoadOptions) (Secret, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, names := range [][5]string{
		{EnvAccessKeyID, EnvSecretAccessKey, EnvSecurityToken, EnvDomainID, EnvEndpoint},
		{EnvSDKAccessKeyID, EnvSDKSecretAccessKey, EnvSDKSecurityToken, EnvSDKDomainID, EnvEndpoint},
	} {
		ak, sk := getenv(names[0]), getenv(names[1])
		if ak == "" && sk == "" {
			continue
		}
		if ak == "" || sk == "" {
			missing := names[0]
			if sk == "" {
				missing = names[1]
			}
			return Secret{}, fmt.Errorf("load huawei credentials: %s is not set", missing)
		}
		s := Secret{
			Credentials: Credentials{AccessKeyID: ak, SecretAccessKey: sk, SecurityToken: getenv(names[2])},
			DomainID:    getenv(names[3]),
			Endpoint:    getenv(names[4]),
		}
		return s, s.check("environment")
	}
	return loadProfile(opts, getenv)
}

func (s Secret) check(source string) error {
	if err := s.Credentials.validate(); err != nil {
		return fmt.Errorf("load huawei credentials from %s: %w", source, err)
	}
	if s.Endpoint != "" {
		if _, err := parseEndpoint(s.Endpoint); err != nil {
			return fmt.Errorf("load huawei credentials from %s: %w", source, err)
		}
	}
	return nil
}

func loadProfile(opts LoadOptions, getenv func(string) string) (Secret, error) {
	path := opts.File
	if path == "" {
		path = getenv(EnvSDKCredentialsFile)
	}
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return Secret{}, ErrNoCredentials
		}
		path = filepath.Join(home, ".huaweicloud", "credentials")
	}
	profile := opts.Profile
	if profile == "" {
		profile = DefaultProfile
	}
	values, err := readINISection(path, profile)
	if errors.Is(err, fs.ErrNotExist) && opts.File == "" {
		return Secret{}, ErrNoCredentials
	}
	if err != nil {
		return Secret{}, fmt.Errorf("load huawei credentials: %w", err)
	}
	s := Secret{
		Credentials: Credentials{AccessKeyID: values["ak"], SecretAccessKey: values["sk"], SecurityToken: values["security_token"]},
		DomainID:    values["domain_id"],
		Endpoint:    values["endpoint"],
	}
	return s, s.check(fmt.Sprintf("profile %q of %s", profile, path))
}

// readINISection reads key = value lines of one [section]; ; and # start
// comments. Errors name the file and line, never a value.
func readINISection(path, section string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	values := map[string]string{}
	found, in := false, false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == ';' || line[0] == '#':
		case line[0] == '[' && line[len(line)-1] == ']':
			in = strings.TrimSpace(line[1:len(line)-1]) == section
			found = found || in
		case in:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("%s line %d: want key = value", path, n)
			}
			values[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !found {
		return nil, fmt.Errorf("%s has no [%s] section", path, section)
	}
	return values, nil
}
