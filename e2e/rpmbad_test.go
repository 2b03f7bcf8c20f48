package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// rpmMetadataHrefs returns the checksum-named repodata files repomd.xml
// names: equal sets mean byte-identical primary, filelists and other.
func rpmMetadataHrefs(t *testing.T, s *server, base string) string {
	t.Helper()
	code, body, _ := s.get("/" + base + "repodata/repomd.xml")
	if code != 200 {
		t.Fatalf("repomd.xml: %d", code)
	}
	var md rpmRepomd
	if err := xml.Unmarshal(body, &md); err != nil {
		t.Fatal(err)
	}
	var hrefs []string
	for _, d := range md.Data {
		hrefs = append(hrefs, d.Location.Href)
		if code, _, _ := s.get("/" + base + d.Location.Href); code != 200 {
			t.Errorf("%s: %d", d.Location.Href, code)
		}
	}
	return strings.Join(hrefs, " ")
}

// TestRpmBadInput sends broken and hostile rpms to an el target over HTTP:
// each gets a 4xx whose message names the problem, and afterwards the
// repository publishes exactly the packages it had (same primary,
// filelists and other, byte for byte) and still serves them.
func TestRpmBadInput(t *testing.T) {
	s := startServer(t, "")
	good := mkrpm(t, "rpm-good", "", "1.0", "x86_64", "good")
	code, reply := s.upload("5.8/el/9", good, "?publish=false")
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %v", code, reply)
	}
	s.publish("5.8/el/9")
	before := rpmMetadataHrefs(t, s, "rpm/5.8/el/9/")

	// Header structure right after the 96-byte lead.
	lead := append([]byte{}, good[:96]...)
	hdr := func(magic uint32, count, size uint32) []byte {
		b := make([]byte, 16)
		binary.BigEndian.PutUint32(b, magic)
		binary.BigEndian.PutUint32(b[8:], count)
		binary.BigEndian.PutUint32(b[12:], size)
		return append(append(append([]byte{}, lead...), b...), make([]byte, 4096)...)
	}
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"truncated lead", good[:50], "short"},
		{"truncated", good[:len(good)/2], ""},
		{"bad header magic", hdr(0x12345678, 1, 16), "magic"},
		{"absurd index count", hdr(0x8eade801, 0xfffffff0, 16), ""},
		{"absurd data size", hdr(0x8eade801, 1, 0xfffffff0), ""},
		{"deb to el", mkdeb(t, "debpkg", "1.0", "amd64", "x"), "deb"},
		{"garbage", []byte(strings.Repeat("not an rpm ", 100)), "not a rpm"},
	}
	for _, c := range cases {
		code, reply := s.upload("5.8/el/9", c.body, "")
		msg, _ := reply["error"].(string)
		if code < 400 || code >= 500 || msg == "" {
			t.Errorf("%s: want 4xx with a message, got %d %v", c.name, code, reply)
			continue
		}
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(c.want)) {
			t.Errorf("%s: message %q does not mention %q", c.name, msg, c.want)
		}
		t.Logf("%s: %d %s", c.name, code, msg)
	}
	s.publish("5.8/el/9")
	if after := rpmMetadataHrefs(t, s, "rpm/5.8/el/9/"); after != before {
		t.Errorf("repodata changed after refused uploads:\nbefore %s\nafter  %s", before, after)
	}
	if code, body, _ := s.get("/" + reply["path"].(string)); code != 200 || sha(body) != sha(good) {
		t.Errorf("the good package is no longer served: %d", code)
	}
}

// TestRpmCorruptPayload is issue #11: a package whose compressed payload
// has one flipped byte is refused with 422 on a target that does not sign
// packages, naming the payload digest, so it takes no name-version-arch
// slot; the intact package uploaded afterwards is accepted and published.
func TestRpmCorruptPayload(t *testing.T) {
	s := startServer(t, "")
	// Hex digits compress to about half: a payload of some 16 KB, whose
	// last KB is certainly compressed payload.
	var payload strings.Builder
	for i := range 500 {
		fmt.Fprintf(&payload, "%x\n", sha256.Sum256([]byte{byte(i), byte(i >> 8)}))
	}
	good := mkrpm(t, "rpm-intact", "", "1.0", "x86_64", payload.String())
	bad := bytes.Clone(good)
	bad[len(bad)-1000] ^= 0x01
	code, reply := s.upload("5.8/el/9", bad, "?publish=false")
	msg, _ := reply["error"].(string)
	if code != http.StatusUnprocessableEntity || !strings.Contains(msg, "payload SHA-256 digest") || !strings.Contains(msg, "corrupt or truncated") {
		t.Fatalf("corrupt upload: want 422 naming the payload digest, got %d %v", code, reply)
	}
	code, reply = s.upload("5.8/el/9", good, "?publish=false")
	if code != http.StatusCreated || reply["sha256"] != sha(good) {
		t.Fatalf("intact upload after the corrupt one: %d %v", code, reply)
	}
	s.publish("5.8/el/9")
	rpmMetadataHrefs(t, s, "rpm/5.8/el/9/")
	if code, body, _ := s.get("/" + reply["path"].(string)); code != 200 || sha(body) != sha(good) {
		t.Errorf("the intact package is not served: %d", code)
	}
}
