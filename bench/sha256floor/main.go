// Command sha256floor reads every file under the given directories once
// and computes its SHA-256, on as many goroutines as there are cores: the
// floor of a cold import (every importer must at least read and hash each
// file once). It prints the file count, bytes and elapsed time.
//
//	go run ./bench/sha256floor /tmp/pier-bench/rpm-10000
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	start := time.Now()
	paths := make(chan string, 64)
	var files, bytes atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for p := range paths {
				n, err := hashFile(p, buf)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				files.Add(1)
				bytes.Add(n)
			}
		}()
	}
	for _, dir := range os.Args[1:] {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				paths <- p
			}
			return err
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	close(paths)
	wg.Wait()
	el := time.Since(start)
	fmt.Printf("%d files, %d bytes, %.2f s, %.0f MB/s\n", files.Load(), bytes.Load(), el.Seconds(), float64(bytes.Load())/el.Seconds()/1e6)
}

func hashFile(p string, buf []byte) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, buf)
	if err != nil {
		return n, fmt.Errorf("hash %s: %w", p, err)
	}
	_ = h.Sum(nil)
	return n, nil
}
