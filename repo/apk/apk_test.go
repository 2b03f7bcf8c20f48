package apk

import (
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
)

func TestFormatBasics(t *testing.T) {
	f := newTestFormat(t, Config{})
	if f.Name() != "apk" {
		t.Errorf("Name = %q", f.Name())
	}
	if len(Digests) != 1 || Digests[0] != repo.SHA256 {
		t.Errorf("Digests = %v", Digests)
	}
	tests := []struct {
		p    repo.Package
		want string
	}{
		{repo.Package{Component: "main", Name: "hello", Version: "1.0-r0", Arch: "aarch64"}, "apk/5.8/alpine/v3.20/main/aarch64/hello-1.0-r0.apk"},
		{repo.Package{Component: "community", Name: "data", Version: "2-r1", Arch: "noarch"}, "apk/5.8/alpine/v3.20/community/x86_64/data-2-r1.apk"},
	}
	for _, tt := range tests {
		if got := f.PackagePath(testTarget, &tt.p); got != tt.want {
			t.Errorf("PackagePath(%s) = %q, want %q", tt.p.Name, got, tt.want)
		}
	}
}

func TestSetup(t *testing.T) {
	f := newTestFormat(t, Config{})
	got := f.Setup(testTarget, repo.SetupInfo{BaseURL: "https://pier.example.com", Components: []string{"main", "extra"}})
	for _, want := range []string{
		"wget -O /etc/apk/keys/" + testKeyName + " https://pier.example.com/keys/" + testKeyName,
		"echo https://pier.example.com/apk/5.8/alpine/v3.20/main >> /etc/apk/repositories",
		"echo https://pier.example.com/apk/5.8/alpine/v3.20/extra >> /etc/apk/repositories",
		"apk update",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Setup output lacks %q:\n%s", want, got)
		}
	}
}
