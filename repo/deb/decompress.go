package deb

import (
	"bufio"
	"compress/bzip2"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/pierhq/pier/repo"
	"github.com/ulikunitz/xz/lzma"
	xi2 "github.com/xi2/xz"
)

// compression is how the tar of a control or data member is compressed,
// known from the extension of the member's name.
type compression int

// The compressors dpkg knows (lib/dpkg/compress.c, compressor_array).
const (
	compNone compression = iota
	compGzip
	compXZ
	compZstd
	compBzip2
	compLZMA
)

// compressionByExt returns the compressor of a member name's extension
// ("" for none, ".gz", ".xz", ".zst", ".bz2", ".lzma"), as dpkg's
// compressor_find_by_extension does.
func compressionByExt(ext string) (compression, bool) {
	switch ext {
	case "":
		return compNone, true
	case ".gz":
		return compGzip, true
	case ".xz":
		return compXZ, true
	case ".zst":
		return compZstd, true
	case ".bz2":
		return compBzip2, true
	case ".lzma":
		return compLZMA, true
	}
	return 0, false
}

func (c compression) String() string {
	return [...]string{"uncompressed", "gzip", "xz", "zstd", "bzip2", "lzma"}[c]
}

// Decoder bounds. dpkg's decompressors have no memory limit of their own;
// these are Pier's, each at least what the compressor's strongest preset
// uses.
const (
	// xzMaxDict bounds the LZMA dictionary of xz and lzma data: xz -9 and
	// lzma -9 use 64 MiB.
	xzMaxDict = 64 << 20
	// zstdMaxWindow is libzstd's default decoder limit
	// (ZSTD_WINDOWLOG_LIMIT_DEFAULT = 27), which dpkg does not raise: a
	// frame with a larger window (zstd --long=31) fails in dpkg with
	// "Frame requires too much memory for decoding".
	zstdMaxWindow = 1 << 27
	// ctxCheckBytes is how much output passes between context checks.
	ctxCheckBytes = 1 << 20
)

// errTooBig is returned by a tarStream past its limit.
var errTooBig = errors.New("expands beyond the limit")

// tarStream is the uncompressed tar of a control or data member, decoded
// the way dpkg-deb decodes it (lib/dpkg/compress.c, decompress_*):
//
//   - gzip through zlib's gzread: every concatenated gzip member is read,
//     bytes after the last member that do not start a new one are
//     ignored, and data that does not start with the gzip magic is passed
//     through as it is (zlib's transparent mode);
//   - xz, zstd and bzip2: the first stream (frame) only; what follows it
//     is never read;
//   - lzma (lzma_alone): one stream.
//
// It counts the uncompressed bytes and fails past its limit.
type tarStream struct {
	ctx    context.Context
	dec    *decoders
	member string
	comp   compression
	src    *recordingReaderAt
	r      io.Reader
	close  func()
	out    int64
	limit  int64
	// limitName names the configuration setting of limit.
	limitName string
	// trailing is set when the member holds bytes after the first xz
	// stream or zstd frame: dpkg never reads them.
	trailing  bool
	nextCheck int64
}

// recordingReaderAt remembers the first error of r other than io.EOF, so
// that an I/O failure is never reported as a bad package.
type recordingReaderAt struct {
	r   io.ReaderAt
	err error
}

func (r *recordingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.r.ReadAt(p, off)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

// openTar returns the uncompressed tar of member m (compressed with comp),
// allowing at most limit bytes of it; limitName names the setting. Its xz
// and zstd decoders come from dec and go back there on Close.
func openTar(ctx context.Context, dec *decoders, r io.ReaderAt, m arMember, comp compression, limit int64, limitName string) (*tarStream, error) {
	src := &recordingReaderAt{r: r}
	s := &tarStream{ctx: ctx, dec: dec, member: m.name, comp: comp, src: src, close: func() {}, limit: limit, limitName: limitName, nextCheck: ctxCheckBytes}
	sec := io.NewSectionReader(src, m.offset, m.size)
	var err error
	switch comp {
	case compNone:
		s.r = sec
	case compGzip:
		s.r, err = openGzip(sec, inBuf(m.size))
	case compXZ:
		err = s.openXZ(sec, m.size)
	case compZstd:
		err = s.openZstd(sec, m.size)
	case compBzip2:
		s.r = &bzip2FirstStream{r: bzip2.NewReader(bufio.NewReaderSize(sec, inBuf(m.size)))}
	case compLZMA:
		err = s.openLZMA(sec)
	}
	if err != nil {
		return nil, s.fail(err)
	}
	return s, nil
}

// Read reads uncompressed bytes. Its errors are io.EOF, or already what
// the reader returns (see fail): it fails past the limit.
func (s *tarStream) Read(p []byte) (int, error) {
	if rest := s.limit - s.out + 1; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := s.r.Read(p)
	s.out += int64(n)
	if s.out > s.limit {
		return n, s.fail(errTooBig)
	}
	if s.out >= s.nextCheck {
		s.nextCheck = s.out + ctxCheckBytes
		if cerr := s.ctx.Err(); cerr != nil {
			return n, cerr
		}
	}
	if err != nil && err != io.EOF {
		err = s.fail(err)
	}
	return n, err
}

// Close releases the decoder.
func (s *tarStream) Close() { s.close() }

// drain reads the rest of the stream, as dpkg does after the end of the
// tar archive: the decompressor still runs to the end of its input, so
// corrupt data after the archive fails the package.
func (s *tarStream) drain(buf []byte) error {
	for {
		_, err := s.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// fail turns an error met while reading s into the error Read returns: an
// I/O failure of the file or a cancelled context as it is, anything about
// the data as a bad package that names the member.
func (s *tarStream) fail(err error) error {
	var bad *repo.BadPackageError
	switch {
	case s.src.err != nil:
		return fmt.Errorf("deb: read %s: %w", s.member, s.src.err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &bad):
		return err
	case errors.Is(err, errTooBig):
		return badf("%s expands beyond %d bytes, the most Pier accepts (%s); a decompression bomb, or a package that needs a larger limit",
			s.member, s.limit, s.limitName)
	case err == io.EOF, errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, xi2.ErrBuf):
		return badf("%s is corrupt: the %s stream ends early (truncated upload?)", s.member, s.comp)
	}
	return badf("%s is corrupt: %s data does not decode: %v", s.member, s.comp, err)
}

// inBuf is the size of the input buffer for a member of size bytes.
func inBuf(size int64) int { return int(min(max(size, 512), 64<<10)) }

// openGzip mirrors zlib's gzread as dpkg uses it; bufSize is the size of
// its input buffer.
func openGzip(sec *io.SectionReader, bufSize int) (io.Reader, error) {
	br := bufio.NewReaderSize(sec, bufSize)
	if !isGzipStart(br) {
		// zlib's transparent mode: input that does not start like gzip is
		// copied as it is. An empty member is an empty tar.
		return br, nil
	}
	z, err := gzip.NewReader(br)
	if err != nil {
		return nil, err
	}
	z.Multistream(false)
	return &gzipMembers{br: br, z: z}, nil
}

// isGzipStart reports whether br's next bytes are the gzip magic.
func isGzipStart(br *bufio.Reader) bool {
	b, _ := br.Peek(2)
	return len(b) == 2 && b[0] == 0x1f && b[1] == 0x8b
}

// gzipMembers reads concatenated gzip members and stops, like zlib, at
// the first bytes after a member that are not the gzip magic.
type gzipMembers struct {
	br *bufio.Reader
	z  *gzip.Reader
}

func (g *gzipMembers) Read(p []byte) (int, error) {
	for {
		n, err := g.z.Read(p)
		if err != io.EOF {
			return n, err
		}
		if !isGzipStart(g.br) {
			return n, io.EOF
		}
		if err := g.z.Reset(g.br); err != nil {
			return n, err
		}
		g.z.Multistream(false)
		if n > 0 {
			return n, nil
		}
	}
}

// openXZ decodes the first xz stream of sec, after walking its container
// (xzStreamEnd) to bound the dictionary and the declared output and to
// know where it ends: liblzma's decoder as dpkg sets it up
// (lzma_stream_decoder, no LZMA_CONCATENATED) reads one stream.
func (s *tarStream) openXZ(sec *io.SectionReader, size int64) error {
	end, reason, err := xzStreamEnd(sec, size, s.limit)
	switch {
	case err != nil:
		return err
	case reason == xzReasonTooBig:
		return errTooBig
	case reason != "":
		return badf("%s is corrupt: %s", s.member, reason)
	}
	z, release, err := s.dec.openXZ(io.NewSectionReader(sec, 0, end))
	if err != nil {
		return err
	}
	s.r = z
	s.close = release
	s.trailing = end < size
	return nil
}

// openZstd decodes the first zstd frame of sec, as dpkg's filter does
// (it stops when ZSTD_decompressStream reports the end of a frame).
func (s *tarStream) openZstd(sec *io.SectionReader, size int64) error {
	end, reason, err := zstdFrameEnd(sec, size, s.limit)
	switch {
	case err != nil:
		return err
	case reason == zstdReasonTooBig:
		return errTooBig
	case reason != "":
		return badf("%s is corrupt: %s", s.member, reason)
	}
	z, release, err := s.dec.openZstd(io.NewSectionReader(sec, 0, end))
	if err != nil {
		return err
	}
	s.r = z
	s.close = release
	s.trailing = end < size
	return nil
}

// openLZMA decodes an lzma_alone stream, after checking its header the
// way liblzma's lzma_alone_decoder does.
func (s *tarStream) openLZMA(sec *io.SectionReader) error {
	var h [13]byte
	if _, err := sec.ReadAt(h[:], 0); err != nil {
		return err
	}
	props := int(h[0])
	lc, lp := props%9, props/9%5
	dict := binary.LittleEndian.Uint32(h[1:5])
	size := binary.LittleEndian.Uint64(h[5:13])
	switch {
	case props > 224 || lc+lp > 4:
		return badf("%s is corrupt: bad lzma properties byte 0x%02x", s.member, h[0])
	case size != ^uint64(0) && size >= 1<<38:
		return badf("%s is corrupt: the lzma header declares %d bytes, more than liblzma accepts", s.member, size)
	case int64(dict) > xzMaxDict:
		return badf("%s uses an lzma dictionary of %d bytes; Pier accepts at most %d (lzma -9 uses 64 MiB)", s.member, dict, xzMaxDict)
	case size != ^uint64(0) && int64(size) > s.limit:
		return errTooBig
	}
	z, err := lzma.ReaderConfig{DictCap: xzMaxDict}.NewReader(bufio.NewReaderSize(sec, inBuf(sec.Size())))
	if err != nil {
		return err
	}
	s.r = z
	return nil
}

// bzip2FirstStream ends the stream where Go's reader finds bytes after a
// complete bzip2 stream that do not start another one: libbz2's BZ2_bzread,
// as dpkg uses it, ignores them.
type bzip2FirstStream struct{ r io.Reader }

func (b *bzip2FirstStream) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	var se bzip2.StructuralError
	if errors.As(err, &se) && string(se) == "bad magic value in continuation file" {
		return n, io.EOF
	}
	return n, err
}
