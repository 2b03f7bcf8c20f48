package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Compression settings of Packages.gz and Packages.xz, chosen by measuring a
// 10 MB synthetic Packages file on a 2-core machine (see BenchmarkCompress):
//
//   - gzip level 6 (klauspost): ~45 ms, 18% of the input. Level 9 gains 2
//     points for 12 times the time.
//   - xz with ulikunitz's HashTable4 matcher: ~0.6 s, about gzip's ratio. Its
//     BinaryTree matcher compresses no better here and runs for minutes, so
//     it is never used. A 1 MiB dictionary keeps the client's memory small
//     and compresses as well as 8 MiB on this data.
const (
	gzipLevel  = 6
	xzDictCap  = 1 << 20
	xzBufSize  = 1 << 16
	writeChunk = 1 << 20 // ctx is checked between chunks
)

// compressAll fills in the .gz and .xz variants and the SHA-256 of every
// variant of files, running the jobs on all cores, largest first. The
// result does not depend on scheduling.
func compressAll(ctx context.Context, files []*packagesFile) error {
	type job struct {
		f    *packagesFile
		v    int // variant: 1 gz, 2 xz
		cost int
	}
	jobs := make([]job, 0, 2*len(files))
	for _, f := range files {
		f.sums[0] = sha256.Sum256(f.data[0])
		// xz is about 15 times slower than gzip per byte.
		jobs = append(jobs, job{f, 2, 15 * len(f.data[0])}, job{f, 1, len(f.data[0])})
	}
	slices.SortStableFunc(jobs, func(a, b job) int { return b.cost - a.cost })

	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	next := make(chan job)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := range next {
				if errs[w] != nil {
					continue
				}
				data, err := compressVariant(ctx, j.v, j.f.data[0])
				if err != nil {
					errs[w] = fmt.Errorf("compress %s/%s: %w", j.f.dir, packagesNames()[j.v], err)
					continue
				}
				j.f.data[j.v] = data
				j.f.sums[j.v] = sha256.Sum256(data)
			}
		})
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// compressVariant compresses data as gzip (v == 1) or xz (v == 2).
func compressVariant(ctx context.Context, v int, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(data)/4 + 512)
	var w io.WriteCloser
	var err error
	switch v {
	case 1:
		// No name and no mtime in the header, like gzip -n.
		w, err = gzip.NewWriterLevel(&buf, gzipLevel)
	case 2:
		w, err = xz.WriterConfig{DictCap: xzDictCap, BufSize: xzBufSize, Matcher: lzma.HashTable4, CheckSum: xz.CRC64}.NewWriter(&buf)
	default:
		err = fmt.Errorf("unknown variant %d", v)
	}
	if err != nil {
		return nil, err
	}
	for len(data) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(len(data), writeChunk)
		if _, err := w.Write(data[:n]); err != nil {
			return nil, err
		}
		data = data[n:]
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
