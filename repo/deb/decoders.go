package deb

import (
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	xi2 "github.com/xi2/xz"
)

// decoders keeps xz and zstd decoders between packages. A new xz decoder
// allocates and clears its whole dictionary (8 MiB for xz -6, whatever the
// size of the data) and a new zstd decoder its history buffers: for a
// bulk import of small packages that cost more CPU than the decoding
// itself. A reused decoder starts each stream from a reset state (an xz
// stream begins with a dictionary reset, a zstd frame with fresh
// history), so reuse changes no result.
type decoders struct {
	xz   sync.Pool // *xi2.Reader
	zstd sync.Pool // *zstd.Decoder
}

// openXZ returns a decoder of the xz stream in r, in single-stream mode,
// and its release.
func (d *decoders) openXZ(r io.Reader) (*xi2.Reader, func(), error) {
	if z, ok := d.xz.Get().(*xi2.Reader); ok {
		if err := z.Reset(r); err != nil {
			d.xz.Put(z)
			return nil, nil, err
		}
		z.Multistream(false)
		return z, func() { d.xz.Put(z) }, nil
	}
	z, err := xi2.NewReader(r, xzMaxDict)
	if err != nil {
		return nil, nil, err
	}
	z.Multistream(false)
	return z, func() { d.xz.Put(z) }, nil
}

// openZstd returns a decoder of the zstd data in r and its release, with
// the limits dpkg's libzstd applies (see zstdMaxWindow).
func (d *decoders) openZstd(r io.Reader) (*zstd.Decoder, func(), error) {
	z, ok := d.zstd.Get().(*zstd.Decoder)
	if ok {
		if err := z.Reset(r); err != nil {
			z.Close()
			return nil, nil, err
		}
	} else {
		var err error
		z, err = zstd.NewReader(r,
			zstd.WithDecoderConcurrency(1), // synchronous: no goroutine outlives a Read
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
			zstd.WithDecoderMaxMemory(zstdMaxWindow))
		if err != nil {
			return nil, nil, err
		}
	}
	return z, func() {
		// Drop the reference to r; the decoder keeps its buffers.
		if z.Reset(nil) == nil {
			d.zstd.Put(z)
		} else {
			z.Close()
		}
	}, nil
}
