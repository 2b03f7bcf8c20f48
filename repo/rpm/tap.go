package rpm

import (
	"bytes"
	"context"
	"io"

	"github.com/pierhq/pier/repo"
)

var _ repo.Tapper = (*Format)(nil)

// payloadTap computes the digests rpm checks over an rpm's payload (the
// payload SHA-256, the MD5 of header and payload, the header+payload
// signatures' digests) while the upload is received, so that Read does not
// read the payload a second time: the file's own SHA-256 and these digests
// come from the same read. It keeps the bytes up to the end of the main
// header, lays them out with readLayout once it has them, and feeds every
// later byte to the running digests. When the head cannot be laid out (a
// package Read refuses), it only counts bytes, and ReadTapped reads the
// file as Read does, so that the refusal is the same.
type payloadTap struct {
	maxHeader int64
	head      []byte
	need      int64 // bytes of head needed to take the next step
	step      int   // 0: lead and signature intro, 1: main intro, 2: both headers
	gaveUp    bool
	l         *layout
	v         *integrity
	running   []io.Writer
	n         int64 // bytes seen
}

// Tap implements repo.Tapper.
func (f *Format) Tap() io.Writer {
	return &payloadTap{maxHeader: f.cfg.MaxHeaderSize, need: leadSize + headerIntro}
}

// Write implements io.Writer; it never fails.
func (t *payloadTap) Write(p []byte) (int, error) {
	t.n += int64(len(p))
	switch {
	case t.gaveUp:
	case t.l != nil:
		for _, w := range t.running {
			w.Write(p)
		}
	default:
		t.head = append(t.head, p...)
		for t.l == nil && !t.gaveUp && int64(len(t.head)) >= t.need {
			t.advance()
		}
		if t.gaveUp {
			t.head = nil
		}
	}
	return len(p), nil
}

// advance takes the next step of laying the head out, the steps of
// readLayout: the signature header's intro gives the main header's start,
// its intro the main header's end, and then readLayout checks both
// headers on the bytes kept.
func (t *payloadTap) advance() {
	switch t.step {
	case 0:
		sig, err := parseIntro(t.head[leadSize:leadSize+headerIntro], "signature", maxSigEntries, maxSigData, t.maxHeader)
		if err != nil {
			t.gaveUp = true
			return
		}
		t.need = leadSize + int64((sig.size()+7)&^7) + headerIntro
	case 1:
		start := t.need - headerIntro
		main, err := parseIntro(t.head[start:t.need], "main", maxMainEntries, maxMainData, t.maxHeader)
		if err != nil {
			t.gaveUp = true
			return
		}
		t.need = start + int64(main.size())
	default:
		l, err := readLayout(bytes.NewReader(t.head), int64(len(t.head)), t.maxHeader)
		if err != nil || l.end != t.need {
			t.gaveUp = true
			return
		}
		t.l, t.v = l, newIntegrity(l)
		t.running = t.v.begin(l)
		for _, w := range t.running {
			w.Write(t.head[l.end:])
		}
		t.head = nil
	}
	t.step++
}

// ReadTapped implements repo.Tapper: it is Read with the payload digests
// taken from tap, which saw every byte of the upload in r. The layout tap
// found on the head is the one readLayout finds on the file (every check
// readLayout makes on the file's size passes on a shorter prefix that
// holds both headers).
func (f *Format) ReadTapped(ctx context.Context, r io.ReaderAt, size int64, sums repo.Sums, tap io.Writer) (*repo.Parsed, error) {
	t, ok := tap.(*payloadTap)
	if !ok || t.l == nil || t.n != size {
		return f.Read(ctx, r, size, sums)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := t.v.finish(); err != nil {
		return nil, err
	}
	return f.parsed(t.l)
}
