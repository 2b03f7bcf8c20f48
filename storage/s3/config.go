package s3

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pierhq/pier/storage"
)

// Limits and defaults of the configuration.
const (
	// DefaultRegion is the region used when Config.Region is empty.
	DefaultRegion = "us-east-1"
	// DefaultPartSize is the multipart part size used when Config.PartSize
	// is zero.
	DefaultPartSize = 16 << 20
	// MinPartSize is the smallest part S3 accepts (except for the last).
	MinPartSize = 5 << 20
	// MaxPartSize is the largest part S3 accepts.
	MaxPartSize = 5 << 30
	// DefaultConcurrency is the upload concurrency used when
	// Config.Concurrency is zero.
	DefaultConcurrency = 4
	// DefaultMaxRetries is the retry count used when Config.MaxRetries is
	// zero.
	DefaultMaxRetries = 5
	// maxConcurrency bounds Config.Concurrency: each slot may hold a part
	// buffer of PartSize bytes.
	maxConcurrency = 256
	// maxRetries bounds Config.MaxRetries.
	maxRetries = 100
)

// Config configures a Backend. Decode it from YAML (strictly), call
// Defaults, then Validate; New does both again, so a Config filled in code
// works as well.
//
// Credentials come, in this order, from AccessKeyID/SecretAccessKey, from
// AccessKeyFile/SecretKeyFile, or else from the AWS SDK's default chain
// (environment AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, shared config and
// credentials files, web identity, instance roles). Config's String method
// and every error of this package leave the secret out.
type Config struct {
	// Bucket is the bucket's name.
	Bucket string `yaml:"bucket"`
	// Prefix is prepended to every key inside the bucket, e.g. "pier/";
	// empty means the bucket's root. It must end with a slash.
	Prefix string `yaml:"prefix"`
	// Endpoint is the URL of an S3-compatible service, e.g.
	// "http://127.0.0.1:7070"; empty means AWS.
	Endpoint string `yaml:"endpoint"`
	// Region is the bucket's region (default us-east-1).
	Region string `yaml:"region"`
	// PathStyle addresses the bucket as https://endpoint/bucket/key instead
	// of https://bucket.endpoint/key; most self-hosted services need it.
	PathStyle bool `yaml:"path_style"`
	// AccessKeyID is the access key; set it together with SecretAccessKey.
	AccessKeyID string `yaml:"access_key_id"`
	// SecretAccessKey is the secret key. Prefer SecretKeyFile or the
	// environment over writing it into a config file.
	SecretAccessKey string `yaml:"secret_access_key"`
	// AccessKeyFile is a file holding the access key (surrounding white
	// space is ignored); set it together with SecretKeyFile.
	AccessKeyFile string `yaml:"access_key_file"`
	// SecretKeyFile is a file holding the secret key.
	SecretKeyFile string `yaml:"secret_key_file"`
	// StorageClass is the storage class of new objects, e.g. "STANDARD_IA";
	// empty means the bucket's default.
	StorageClass string `yaml:"storage_class"`
	// ACL is the canned ACL of new objects, e.g. "public-read"; empty sends
	// none (buckets with object ownership "bucket owner enforced" refuse
	// ACLs).
	ACL string `yaml:"acl"`
	// ServerSideEncryption is the server-side encryption of new objects:
	// "AES256", "aws:kms" or "aws:kms:dsse"; empty means the bucket's
	// default.
	ServerSideEncryption string `yaml:"server_side_encryption"`
	// PartSize is the part size of multipart uploads in bytes (default 16
	// MiB, at least 5 MiB). Objects of known size up to PartSize are
	// uploaded with one PutObject. With at most 10,000 parts, it also
	// bounds the largest object: 160 GiB at the default.
	PartSize int64 `yaml:"part_size"`
	// Concurrency is the number of uploads (PutObject and UploadPart
	// requests) the Backend runs at once, over all Puts (default 4). Each
	// holds a buffer of up to PartSize bytes, so uploads use at most
	// Concurrency × PartSize bytes of memory.
	Concurrency int `yaml:"concurrency"`
	// MaxRetries is how often a failed request is retried, with
	// exponential backoff and jitter (default 5; -1 disables retries).
	MaxRetries int `yaml:"max_retries"`
}

// Defaults fills unset fields with their default values.
func (c *Config) Defaults() {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
}

// Validate checks the config after Defaults; it reports every problem at
// once. It does not read the key files.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("s3: "+format, args...))
	}
	if c.Bucket == "" {
		add("bucket must not be empty")
	} else if strings.ContainsAny(c.Bucket, "/ \\") || strings.ContainsFunc(c.Bucket, isControl) {
		add("bucket %q is not a bucket name", c.Bucket)
	}
	if c.Prefix != "" {
		if !strings.HasSuffix(c.Prefix, "/") {
			add("prefix %q must end with a slash", c.Prefix)
		} else if err := storage.ValidKey(strings.TrimSuffix(c.Prefix, "/")); err != nil {
			add("prefix %q: %v", c.Prefix, err)
		}
	}
	if c.Endpoint != "" {
		if reason := endpointProblem(c.Endpoint); reason != "" {
			add("endpoint: %s", reason)
		}
	}
	if c.Region == "" || strings.ContainsFunc(c.Region, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' }) {
		add("region %q is not a region name", c.Region)
	}
	inline := c.AccessKeyID != "" || c.SecretAccessKey != ""
	files := c.AccessKeyFile != "" || c.SecretKeyFile != ""
	switch {
	case inline && files:
		add("set either access_key_id/secret_access_key or access_key_file/secret_key_file, not both")
	case inline && (c.AccessKeyID == "" || c.SecretAccessKey == ""):
		add("access_key_id and secret_access_key must be set together")
	case files && (c.AccessKeyFile == "" || c.SecretKeyFile == ""):
		add("access_key_file and secret_key_file must be set together")
	}
	if strings.ContainsFunc(c.StorageClass, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		add("storage_class %q must be one word", c.StorageClass)
	}
	if c.ACL != "" && !slices.Contains(types.ObjectCannedACL("").Values(), types.ObjectCannedACL(c.ACL)) {
		add("acl %q is not a canned ACL (%s)", c.ACL, joinValues(types.ObjectCannedACL("").Values()))
	}
	switch types.ServerSideEncryption(c.ServerSideEncryption) {
	case "", types.ServerSideEncryptionAes256, types.ServerSideEncryptionAwsKms, types.ServerSideEncryptionAwsKmsDsse:
	default:
		add("server_side_encryption %q must be AES256, aws:kms or aws:kms:dsse", c.ServerSideEncryption)
	}
	if c.PartSize < MinPartSize || c.PartSize > MaxPartSize {
		add("part_size %d must be between %d (5 MiB) and %d (5 GiB)", c.PartSize, MinPartSize, int64(MaxPartSize))
	}
	if c.Concurrency < 1 || c.Concurrency > maxConcurrency {
		add("concurrency %d must be between 1 and %d", c.Concurrency, maxConcurrency)
	}
	if c.MaxRetries < -1 || c.MaxRetries > maxRetries {
		add("max_retries %d must be between -1 (none) and %d", c.MaxRetries, maxRetries)
	}
	return errors.Join(errs...)
}

// endpointProblem says what is wrong with an endpoint URL, without
// repeating it: it might hold a password.
func endpointProblem(endpoint string) string {
	u, err := url.Parse(endpoint)
	switch {
	case err != nil:
		return "not a URL"
	case u.User != nil:
		return "must not contain user information; set the credentials separately"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must start with http:// or https://"
	case u.Host == "":
		return "has no host"
	case u.RawQuery != "" || u.Fragment != "":
		return "must not have a query or fragment"
	}
	return ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func joinValues[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// credentials returns the configured static key pair, reading the key files
// if set, or ok == false when the SDK's default chain is to be used.
func (c *Config) credentials() (id, secret string, ok bool, err error) {
	if c.AccessKeyID != "" {
		return c.AccessKeyID, c.SecretAccessKey, true, nil
	}
	if c.AccessKeyFile == "" {
		return "", "", false, nil
	}
	id, err = readKeyFile("access_key_file", c.AccessKeyFile)
	if err != nil {
		return "", "", false, err
	}
	secret, err = readKeyFile("secret_key_file", c.SecretKeyFile)
	if err != nil {
		return "", "", false, err
	}
	return id, secret, true, nil
}

// readKeyFile reads a key from path. Its errors name the file, never its
// content.
func readKeyFile(field, path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("s3: %s: %w", field, err)
	}
	key := strings.TrimSpace(string(data))
	if key == "" {
		return "", fmt.Errorf("s3: %s %s is empty", field, path)
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", fmt.Errorf("s3: %s %s must hold one key on one line", field, path)
	}
	return key, nil
}

// String describes the config for logs: the secret key is replaced by
// "<redacted>", and the endpoint loses any user information.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "s3 bucket=%q prefix=%q region=%q", c.Bucket, c.Prefix, c.Region)
	if c.Endpoint != "" {
		fmt.Fprintf(&b, " endpoint=%q", redactURL(c.Endpoint))
	}
	fmt.Fprintf(&b, " path_style=%t", c.PathStyle)
	switch {
	case c.AccessKeyID != "" || c.SecretAccessKey != "":
		fmt.Fprintf(&b, " access_key_id=%q secret_access_key=<redacted>", c.AccessKeyID)
	case c.AccessKeyFile != "" || c.SecretKeyFile != "":
		fmt.Fprintf(&b, " access_key_file=%q secret_key_file=%q", c.AccessKeyFile, c.SecretKeyFile)
	default:
		b.WriteString(" credentials=default-chain")
	}
	for _, f := range []struct{ name, value string }{
		{"storage_class", c.StorageClass}, {"acl", c.ACL}, {"server_side_encryption", c.ServerSideEncryption},
	} {
		if f.value != "" {
			fmt.Fprintf(&b, " %s=%q", f.name, f.value)
		}
	}
	fmt.Fprintf(&b, " part_size=%d concurrency=%d max_retries=%d", c.PartSize, c.Concurrency, c.MaxRetries)
	return b.String()
}

// GoString is String, so that %#v does not print the secret either.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer with String, so that logging a Config
// does not print the secret.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// redactURL returns raw without user information, or a placeholder if it is
// not a URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid URL>"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	return u.String()
}
