// Command gendebs writes N synthetic .deb files for benchmarks: each with a
// realistic control file and a payload of incompressible bytes.
//
//	go run ./bench/gendebs -n 10000 -size 50000 -out /tmp/debs
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"

	"github.com/pierhq/pier/repo/deb/debtest"
)

func main() {
	n := flag.Int("n", 1000, "number of packages")
	size := flag.Int("size", 50000, "payload bytes per package")
	out := flag.String("out", "debs", "output directory")
	prefix := flag.String("prefix", "bench", "package name prefix")
	start := flag.Int("start", 0, "first package number")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	var failed sync.Once
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := write(*out, *prefix, i, *size); err != nil {
					failed.Do(func() { fmt.Fprintln(os.Stderr, err); os.Exit(1) })
				}
			}
		}()
	}
	for i := *start; i < *start+*n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

func write(dir, prefix string, i, size int) error {
	rng := rand.New(rand.NewPCG(uint64(i), 42))
	payload := make([]byte, size)
	for j := range payload {
		payload[j] = byte(rng.Uint32())
	}
	arch := []string{"amd64", "amd64", "amd64", "arm64", "all"}[i%5]
	name := fmt.Sprintf("%s%05d", prefix, i)
	version := fmt.Sprintf("1.%d.%d-%d", i%7, i%13, 1+i%3)
	b, err := debtest.Build(debtest.Options{
		Package: name, Version: version, Arch: arch,
		Description: fmt.Sprintf("benchmark package %d\n A synthetic package for Pier's benchmarks. It carries\n %d bytes of payload and an ordinary control file.", i, size),
		Depends:     "libc6 (>= 2.34), libssl3 (>= 3.0.0)",
		Files:       map[string][]byte{"usr/share/" + name + "/data.bin": payload},
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s_%s_%s.deb", name, version, arch)), b, 0o644)
}
