package rpm

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// codec compresses one member of a repodata file: a complete gzip member
// or zstd frame, so that members can be concatenated in any grouping. The
// output is a function of the input alone (the cache relies on it).
type codec struct {
	id       uint8  // part of a cache key
	ext      string // ".xml.gz"
	compress func(src []byte) ([]byte, error)
}

// gzipCodecID is the gzip codec's id.
const gzipCodecID = 1

// newCodec returns the codec for a Config.Compression value; anything but
// zstd means gzip.
func newCodec(compression string) (*codec, error) {
	switch compression {
	default:
		writers := sync.Pool{New: func() any {
			w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression) // a valid level: no error
			return w
		}}
		return &codec{id: gzipCodecID, ext: ".xml.gz", compress: func(src []byte) ([]byte, error) {
			w := writers.Get().(*gzip.Writer)
			defer writers.Put(w)
			buf := sizedBuffer(len(src))
			w.Reset(buf)
			if _, err := w.Write(src); err != nil {
				return nil, err
			}
			if err := w.Close(); err != nil {
				return nil, err
			}
			return buf.Bytes(), nil
		}}, nil
	case CompressionZstd:
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
		if err != nil {
			return nil, fmt.Errorf("rpm: zstd encoder: %w", err)
		}
		return &codec{id: 2, ext: ".xml.zst", compress: func(src []byte) ([]byte, error) {
			return enc.EncodeAll(src, make([]byte, 0, len(src)/8+64)), nil
		}}, nil
	}
}
