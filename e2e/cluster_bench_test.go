package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pierhq/pier/internal/pgtest"
)

// BenchmarkClusterUploads measures uploads per second through pier serve:
// one node on SQLite and local disk (the default), one node on PostgreSQL
// and S3 (versitygw), and three such nodes, with 8 clients spreading 50 kB
// .debs over the nodes (each upload schedules its publish, as in use).
// Each run starts its own cluster, so use a fixed count:
//
//	go test ./e2e -run '^$' -bench ClusterUploads -benchtime 300x
func BenchmarkClusterUploads(b *testing.B) {
	for _, c := range []struct {
		name  string
		nodes int
		pg    bool
	}{{"sqlite-local/nodes=1", 1, false}, {"postgres-s3/nodes=1", 1, true}, {"postgres-s3/nodes=3", 3, true}} {
		b.Run(c.name, func(b *testing.B) {
			var nodes []*server
			if !c.pg {
				nodes = append(nodes, startServer(b, ""))
			} else {
				pg := pgtest.Start(b)
				dsn := pg.NewDatabase(b)
				endpoint, access, secret, _ := startVersitygw(b, "pier-bench")
				cfg := filepath.Join(b.TempDir(), "pier.yaml")
				os.WriteFile(cfg, []byte(fmt.Sprintf("catalog:\n  type: postgres\nstorage:\n  type: s3\n  s3:\n    bucket: pier-bench\n"+
					"    endpoint: %s\n    path_style: true\n    access_key_id: %s\n    secret_access_key: %s\n", endpoint, access, secret)), 0o600)
				for range c.nodes {
					nodes = append(nodes, startServer(b, "", "PIER_CONFIG="+cfg, "PIER_DATABASE_URL="+dsn))
				}
			}
			payload := make([]byte, 50_000)
			pkgs := make([][]byte, b.N)
			for i := range pkgs {
				copy(payload, fmt.Sprintf("%08d", i))
				pkgs[i] = mkdeb(b, fmt.Sprintf("bench-%06d", i), "1.0", "amd64", string(payload))
			}
			var next atomic.Int64
			var failed atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := range 8 {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= len(pkgs) {
							return
						}
						code, _, err := clusterUpload(nodes[(i+w)%len(nodes)].url, "5.8/debian/bookworm", pkgs[i])
						if err != nil || code != 201 {
							failed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			if failed.Load() > 0 {
				b.Fatalf("%d uploads failed", failed.Load())
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "uploads/s")
		})
	}
}
