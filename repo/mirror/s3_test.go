package mirror

import (
	"context"
	"fmt"
	"testing"

	"github.com/pierhq/pier/storage"
	"github.com/pierhq/pier/storage/s3"
	"github.com/pierhq/pier/storage/s3/s3test"
)

// s3Dest starts a real versitygw (skipped outside CI when it is missing,
// a failure in CI) and returns a constructor of fresh bucket prefixes on it.
func s3Dest(t *testing.T) func(t *testing.T) storage.Backend {
	t.Helper()
	srv := s3test.Start(t, "mirror")
	n := 0
	return func(t *testing.T) storage.Backend {
		n++
		cfg := s3.Config{Bucket: "mirror", Prefix: fmt.Sprintf("run%d/", n), Endpoint: srv.Endpoint, PathStyle: true,
			AccessKeyID: srv.Access, SecretAccessKey: srv.Secret}
		cfg.Defaults()
		b, err := s3.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}
