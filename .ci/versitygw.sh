#!/usr/bin/env bash
# Installs versitygw, the S3-compatible server the storage/s3 tests start
# (each test runs its own instance on a free port), into $(go env GOPATH)/bin.
# Idempotent: does nothing when that exact version is already installed.
# Building it takes about a minute and a half.
set -euo pipefail

version=v1.8.0
module=github.com/versity/versitygw
gobin="$(go env GOPATH | cut -d: -f1)/bin"
bin="$gobin/versitygw"

if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null | awk -v m="$module" -v v="$version" '$1 == "mod" && $2 == m && $3 == v { found = 1 } END { exit !found }'; then
  echo "versitygw $version already installed at $bin"
  exit 0
fi

echo "installing versitygw $version into $gobin"
GOBIN="$gobin" go install "$module/cmd/versitygw@$version"
"$bin" --help >/dev/null
