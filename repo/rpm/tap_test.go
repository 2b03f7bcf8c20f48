package rpm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/pierhq/pier/repo"
)

// errReaderAt fails every read: ReadTapped must not need the file when
// its tap saw a package it could lay out.
type errReaderAt struct{}

func (errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errors.New("read after the tap") }

// tapped feeds b to a new tap of fm in writes of chunk bytes and returns
// the tap.
func tapped(fm *Format, b []byte, chunk int) *payloadTap {
	tap := fm.Tap().(*payloadTap)
	for len(b) > 0 {
		n := min(chunk, len(b))
		tap.Write(b[:n])
		b = b[n:]
	}
	return tap
}

// sameAsRead checks that ReadTapped, after a tap fed in chunks of chunk
// bytes, returns what Read returns on b, and that it did not read the
// file when the tap laid the package out.
func sameAsRead(t *testing.T, fm *Format, b []byte, chunk int) {
	t.Helper()
	ctx := context.Background()
	want, wantErr := fm.Read(ctx, bytes.NewReader(b), int64(len(b)), nil)
	tap := tapped(fm, b, chunk)
	var r io.ReaderAt = bytes.NewReader(b)
	if tap.l != nil {
		r = errReaderAt{}
	}
	got, gotErr := fm.ReadTapped(ctx, r, int64(len(b)), nil, tap)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("chunk %d: ReadTapped says %v, Read says %v", chunk, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	if tap.l == nil {
		t.Fatalf("chunk %d: an accepted package was not laid out by the tap (its payload was read twice)", chunk)
	}
	if got.Name != want.Name || got.Version != want.Version || got.Arch != want.Arch || !bytes.Equal(got.Meta, want.Meta) {
		t.Fatalf("chunk %d: ReadTapped gives %s %s %s, Read %s %s %s (or other Meta)", chunk,
			got.Name, got.Version, got.Arch, want.Name, want.Version, want.Arch)
	}
}

// TestReadTappedSameAsRead checks that the tap accepts and refuses exactly
// what Read does, with the same error, over the fixtures, cut and grown
// files, and every header byte of an rpmbuild package flipped, fed in
// writes of every size from one byte to the whole file.
func TestReadTappedSameAsRead(t *testing.T) {
	fm := newTestFormat()
	greet := readFixture(t, "greet-1.0-1.noarch.rpm")
	l, err := readLayout(bytes.NewReader(greet), int64(len(greet)), DefaultMaxHeaderSize)
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{"empty": {}, "lead only": greet[:leadSize]}
	for _, name := range append([]string{legacyFixture}, fixtureFiles...) {
		b := readFixture(t, name)
		inputs[name] = b
		inputs[name+" cut in half"] = b[:len(b)/2]
		inputs[name+" without its last byte"] = b[:len(b)-1]
		inputs[name+" with a byte appended"] = append(bytes.Clone(b), 0)
		if bl, err := readLayout(bytes.NewReader(b), int64(len(b)), DefaultMaxHeaderSize); err == nil {
			inputs[name+" cut at the payload"] = b[:bl.end]
		}
	}
	for name, b := range inputs {
		for _, chunk := range []int{1, 7, 100, 4096, max(1, len(b))} {
			t.Run(fmt.Sprintf("%s/%d", name, chunk), func(t *testing.T) { sameAsRead(t, fm, b, chunk) })
		}
	}
	for i := range int(l.end) + 64 {
		for _, x := range []byte{0xff, 0x80, 0x01} {
			b := bytes.Clone(greet)
			b[i] ^= x
			sameAsRead(t, fm, b, 4096)
		}
	}
	// A header larger than the configured limit: Read refuses it, and so
	// does the tap path (the tap gives up without keeping the bytes).
	small := New(Config{MaxHeaderSize: 64})
	tap := tapped(small, greet, 512)
	if tap.l != nil || tap.head != nil {
		t.Fatalf("tap past max_header_size: laid out %v, kept %d bytes", tap.l != nil, len(tap.head))
	}
	if _, err := small.ReadTapped(context.Background(), bytes.NewReader(greet), int64(len(greet)), nil, tap); !errors.Is(err, repo.ErrBadPackage) {
		t.Fatalf("header past max_header_size: %v, want a bad package", err)
	}
}

// FuzzReadTapped checks, on any bytes in writes of any size, that the tap
// path of the ingest accepts and refuses exactly what Read does.
func FuzzReadTapped(f *testing.F) {
	for _, name := range append([]string{legacyFixture}, fixtureFiles...) {
		b := readFixture(f, name)
		f.Add(b, uint16(4096))
		f.Add(b[:len(b)/2], uint16(3))
	}
	f.Add([]byte{}, uint16(1))
	fm := newTestFormat()
	f.Fuzz(func(t *testing.T, b []byte, chunk uint16) {
		sameAsRead(t, fm, b, max(1, int(chunk)))
	})
}
