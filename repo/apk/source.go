package apk

import (
	"fmt"
	"io"
)

// source reads a package from an io.ReaderAt through its own buffer while
// keeping the exact offset of the next byte a consumer will get. It
// implements io.ByteReader, so compress/gzip and compress/flate read from it
// directly instead of wrapping it in a bufio.Reader whose read-ahead would
// hide where one gzip member ends and the next begins.
//
// Every byte consumed is also written to the current sink (a hash), in
// chunks: the sink sees exactly the bytes between two setSink calls.
type source struct {
	ra     io.ReaderAt
	size   int64
	buf    []byte
	n      int   // buf[:n] holds file bytes starting at start
	start  int64 // file offset of buf[0]
	pos    int   // next unread index into buf
	hashed int   // buf[:hashed] has gone to the sink
	sink   io.Writer
	err    error // sticky read error of ra (never io.EOF)
}

const sourceBufSize = 64 << 10

func newSource(ra io.ReaderAt, size int64) *source {
	n := int64(sourceBufSize)
	if size < n {
		n = max(size, 1)
	}
	return &source{ra: ra, size: size, buf: make([]byte, n)}
}

// offset returns the file offset of the next byte to be consumed.
func (s *source) offset() int64 { return s.start + int64(s.pos) }

// setSink sends the bytes consumed so far to the current sink, then makes w
// the sink for the bytes consumed from now on. w may be nil.
func (s *source) setSink(w io.Writer) {
	s.flushSink()
	s.sink = w
}

func (s *source) flushSink() {
	if s.sink != nil && s.pos > s.hashed {
		s.sink.Write(s.buf[s.hashed:s.pos]) // hashes never fail
	}
	s.hashed = s.pos
}

// fill loads the next window. It returns io.EOF at the end of the package
// and a sticky error when the underlying reader fails.
func (s *source) fill() error {
	if s.err != nil {
		return s.err
	}
	s.flushSink()
	off := s.offset()
	if off >= s.size {
		return io.EOF
	}
	want := int64(len(s.buf))
	if rest := s.size - off; rest < want {
		want = rest
	}
	n, err := s.ra.ReadAt(s.buf[:want], off)
	s.start, s.pos, s.hashed, s.n = off, 0, 0, n
	if int64(n) < want {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		s.err = fmt.Errorf("read package at offset %d: %w", off+int64(n), err)
		if n == 0 {
			return s.err
		}
	}
	return nil
}

// ReadByte implements io.ByteReader.
func (s *source) ReadByte() (byte, error) {
	if s.pos >= s.n {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	b := s.buf[s.pos]
	s.pos++
	return b, nil
}

// Read implements io.Reader.
func (s *source) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.pos >= s.n {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.pos:s.n])
	s.pos += n
	return n, nil
}
