package repo

import "strings"

// CacheControl is the Cache-Control of a published file of kind k: package
// and content-addressed files never change at their path, so caches keep
// them forever; plain indexes and roots must be revalidated.
func CacheControl(k Kind) string {
	switch k {
	case KindPackage, KindHashed:
		return "public, max-age=31536000, immutable"
	default:
		return "public, no-cache"
	}
}

// ContentType names the media type of a published file by its name, for
// serving and for the objects a mirror uploads.
func ContentType(path string) string {
	name := path[strings.LastIndexByte(path, '/')+1:]
	switch {
	case strings.Contains(path, "/by-hash/"):
		return "application/octet-stream"
	case strings.HasSuffix(name, ".deb"):
		return "application/vnd.debian.binary-package"
	case strings.HasSuffix(name, ".rpm"):
		return "application/x-rpm"
	case strings.HasSuffix(name, ".apk"):
		return "application/vnd.alpine.package"
	case strings.HasSuffix(name, ".gz"):
		return "application/gzip"
	case strings.HasSuffix(name, ".xz"):
		return "application/x-xz"
	case strings.HasSuffix(name, ".zst"):
		return "application/zstd"
	case strings.HasSuffix(name, ".xml"):
		return "application/xml"
	case strings.HasSuffix(name, ".asc"), strings.HasSuffix(name, ".gpg"):
		return "application/pgp-signature"
	case strings.HasSuffix(name, ".key"):
		return "application/pgp-keys"
	default:
		return "text/plain; charset=utf-8"
	}
}
