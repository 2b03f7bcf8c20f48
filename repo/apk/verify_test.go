package apk

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

// generation turns Index output into what the core hands to Verify:
// every file with its sha256 and size, and a reader of its bytes.
func generation(t testing.TB, files []repo.File, blobs map[string][]byte) *repo.VerifyInput {
	t.Helper()
	data := map[string][]byte{}
	out := make([]repo.File, len(files))
	for i, f := range files {
		if f.Data != nil {
			sum := sha256.Sum256(f.Data)
			f.SHA256, f.Size = hex.EncodeToString(sum[:]), int64(len(f.Data))
			data[f.Path] = f.Data
			f.Data = nil
		} else {
			data[f.Path] = blobs[f.SHA256]
		}
		out[i] = f
	}
	return &repo.VerifyInput{Target: testTarget, Files: out,
		Read: func(_ context.Context, f repo.File) ([]byte, error) {
			b, ok := data[f.Path]
			if !ok {
				return nil, errors.New("no such file")
			}
			return b, nil
		}}
}

func goodGeneration(t testing.TB, f *Format) *repo.VerifyInput {
	t.Helper()
	pkgs, blobs := testRepo(t, f)
	files, err := f.Index(context.Background(), &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: testTime})
	if err != nil {
		t.Fatal(err)
	}
	return generation(t, files, blobs)
}

const x86Index = "apk/5.8/alpine/v3.20/main/x86_64/APKINDEX.tar.gz"

// signedIndex signs an index stream made of the given tar entries the way
// Index does.
func signedIndex(t *testing.T, f *Format, entries []tarEntry) []byte {
	t.Helper()
	var idx bytes.Buffer
	if err := f.writeTarGz(&idx, testTime, true, entries); err != nil {
		t.Fatal(err)
	}
	sig, err := f.signer.SignSHA1(idx.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := f.writeTarGz(&out, testTime, false, []tarEntry{{".SIGN.RSA." + f.signer.KeyName(), sig}}); err != nil {
		t.Fatal(err)
	}
	out.Write(idx.Bytes())
	return out.Bytes()
}

func TestVerify(t *testing.T) {
	f := newTestFormat(t, Config{})
	ctx := context.Background()
	if err := f.Verify(ctx, goodGeneration(t, f)); err != nil {
		t.Fatalf("good generation: %v", err)
	}

	otherKey, err := rsa.GenerateKey(crand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// replace swaps the bytes of the x86_64 index.
	replace := func(in *repo.VerifyInput, data []byte) {
		read := in.Read
		in.Read = func(ctx context.Context, file repo.File) ([]byte, error) {
			if file.Path == x86Index {
				return data, nil
			}
			return read(ctx, file)
		}
	}
	index := func(in *repo.VerifyInput) []byte {
		i := slices.IndexFunc(in.Files, func(f repo.File) bool { return f.Path == x86Index })
		b, err := in.Read(ctx, in.Files[i])
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	stanza := "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:hello\nV:1.0.0-r0\nA:x86_64\nS:%d\n"
	tests := []struct {
		name   string
		format *Format
		change func(in *repo.VerifyInput)
		want   []string
	}{
		{name: "tampered index", change: func(in *repo.VerifyInput) {
			b := bytes.Clone(index(in))
			b[len(b)-20] ^= 0x40
			replace(in, b)
		}, want: []string{x86Index, "signature", "does not verify"}},
		{name: "wrong key", format: New(Config{}, &testSigner{key: otherKey, name: testKeyName}),
			want: []string{"community/aarch64/APKINDEX.tar.gz", "signature", "does not verify with the public key " + testKeyName}},
		{name: "wrong key name", format: New(Config{}, &testSigner{key: loadTestKey(t), name: "someone-else.rsa.pub"}),
			want: []string{"community/aarch64/APKINDEX.tar.gz", ".SIGN.RSA.someone-else.rsa.pub", "UNTRUSTED"}},
		{name: "missing package", change: func(in *repo.VerifyInput) {
			in.Files = slices.DeleteFunc(in.Files, func(f repo.File) bool { return f.Path == "apk/5.8/alpine/v3.20/main/x86_64/hello-1.0.10-r1.apk" })
		}, want: []string{x86Index, "hello-1.0.10-r1.apk is not in the generation"}},
		{name: "wrong size", change: func(in *repo.VerifyInput) {
			i := slices.IndexFunc(in.Files, func(f repo.File) bool { return f.Path == "apk/5.8/alpine/v3.20/main/x86_64/hello-1.0.10-r1.apk" })
			in.Files[i].Size++
		}, want: []string{x86Index, "hello 1.0.10-r1", "S: says"}},
		{name: "last stanza without a blank line", change: func(in *repo.VerifyInput) {
			replace(in, signedIndex(t, f, []tarEntry{{"APKINDEX", []byte(fmt.Sprintf(stanza, 1))}}))
		}, want: []string{x86Index, "blank line"}},
		{name: "stanza without C:", change: func(in *repo.VerifyInput) {
			replace(in, signedIndex(t, f, []tarEntry{{"APKINDEX", []byte("P:hello\nV:1\nS:1\n\n")}}))
		}, want: []string{x86Index, "stanza 1", "no C:"}},
		{name: "stanza without P:", change: func(in *repo.VerifyInput) {
			replace(in, signedIndex(t, f, []tarEntry{{"APKINDEX", []byte("C:Q1x\nV:1\nS:1\n\n")}}))
		}, want: []string{x86Index, "no P:"}},
		{name: "no APKINDEX entry", change: func(in *repo.VerifyInput) {
			replace(in, signedIndex(t, f, []tarEntry{{"DESCRIPTION", []byte("x")}}))
		}, want: []string{x86Index, "no APKINDEX entry"}},
		{name: "unreadable file", change: func(in *repo.VerifyInput) {
			in.Read = func(context.Context, repo.File) ([]byte, error) { return nil, errors.New("blob gone") }
		}, want: []string{"read apk/5.8/alpine/v3.20/community/aarch64/APKINDEX.tar.gz", "blob gone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := goodGeneration(t, f)
			if tt.change != nil {
				tt.change(in)
			}
			vf := f
			if tt.format != nil {
				vf = tt.format
			}
			err := vf.Verify(ctx, in)
			if err == nil {
				t.Fatal("Verify passed")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q", w)
				}
			}
		})
	}
}

// TestVerifyUnsigned: a format without a key publishes and verifies
// unsigned indexes.
func TestVerifyUnsigned(t *testing.T) {
	f := New(Config{}, nil)
	if err := f.Verify(context.Background(), goodGeneration(t, f)); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkVerify10k verifies the generation of BenchmarkIndex10k's
// 10,000 packages: compare its ns/op with BenchmarkIndex10k's (the publish
// it runs after).
func BenchmarkVerify10k(b *testing.B) {
	f := newTestFormat(b, Config{})
	pkgs := benchPackages(10000)
	start := time.Now()
	files, err := f.Index(context.Background(), &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: testTime})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds()), "index-ns")
	in := generation(b, files, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := f.Verify(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
