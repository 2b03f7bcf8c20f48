#!/usr/bin/env bash
# Benchmarks Pier's deb import+publish against apt-ftparchive and aptly on
# the same synthetic .deb files, in the same run, and reports wall time and
# peak RSS. Also: adding one package to the largest target, and the server's
# peak RSS while receiving a 1 GiB upload.
#
#   bench/deb.sh [N ...]          default: 1000 10000
#   BENCH_DIR=/tmp/x SIZE=50000 bench/deb.sh 1000
#
# Needs: go, apt-utils (apt-ftparchive), aptly, xz-utils, dpkg-dev, curl, GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-1000 10000}")
read -r -a sizes <<<"${sizes[*]}"
work=${BENCH_DIR:-$(mktemp -d /tmp/pier-bench.XXXXXX)}
payload=${SIZE:-50000}
mkdir -p "$work"
go build -o "$work/pier" ./cmd/pier
go build -o "$work/gendebs" ./bench/gendebs
T=/usr/bin/time
measure() { # label cmd... ; prints "label  seconds  peakRSS"
  local label=$1; shift
  local out
  $T -o "$work/time.txt" -f '%e %M' "$@" >/dev/null 2>"$work/err.log" || { echo "$label FAILED"; cat "$work/err.log"; return 1; }
  out=$(tail -1 "$work/time.txt")
  printf '%-44s %8s s %8d MiB\n' "$label" "${out% *}" $(( ${out#* } / 1024 ))
}
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; payload $payload bytes per package; work dir $work"
for n in "${sizes[@]}"; do
  debs="$work/debs-$n"
  if [ ! -d "$debs" ]; then "$work/gendebs" -n "$n" -size "$payload" -out "$debs"; fi
  echo "== $n packages ($(du -sh "$debs" | cut -f1))"
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  rm -rf "$work/pier-$n"
  measure "pier import + publish" "$work/pier" import --data "$work/pier-$n" 5.8/debian/bookworm "$debs"
  measure "pier publish (again, no change)" "$work/pier" publish --data "$work/pier-$n" 5.8/debian/bookworm

  rm -rf "$work/aft-$n"; mkdir -p "$work/aft-$n"
  ln -s "$debs" "$work/aft-$n/pool"
  measure "apt-ftparchive packages+gz+xz+release" bash -c "cd '$work/aft-$n' && apt-ftparchive packages pool > Packages && gzip -9kf Packages && xz -kf Packages && apt-ftparchive release . > Release"

  rm -rf "$work/aptly-$n"
  printf '{"rootDir": "%s", "architectures": ["amd64","arm64"], "gpgDisableSign": true, "gpgDisableVerify": true}\n' "$work/aptly-$n" > "$work/aptly-$n.conf"
  aptly -config="$work/aptly-$n.conf" repo create -distribution=bookworm bench >/dev/null
  measure "aptly repo add" aptly -config="$work/aptly-$n.conf" repo add bench "$debs"
  measure "aptly publish (skip signing)" aptly -config="$work/aptly-$n.conf" publish repo -skip-signing -architectures=amd64,arm64 bench

  # Add one package to the n-package target.
  one="$work/one-$n"; rm -rf "$one"
  "$work/gendebs" -n 1 -start $((n + 500000)) -size "$payload" -out "$one" -prefix extra
  measure "pier import 1 + publish ($n in target)" "$work/pier" import --data "$work/pier-$n" 5.8/debian/bookworm "$one"
  measure "aptly add 1 + publish update" bash -c "aptly -config='$work/aptly-$n.conf' repo add bench '$one' && aptly -config='$work/aptly-$n.conf' publish update -skip-signing bookworm"
done

# Peak RSS of pier serve while it receives a 1 GiB package.
echo "== 1 GiB upload"
big="$work/big"; rm -rf "$big"; mkdir -p "$big/pkg/DEBIAN" "$big/pkg/usr/share/big"
head -c 1G /dev/urandom > "$big/pkg/usr/share/big/blob"
printf 'Package: big\nVersion: 1.0\nArchitecture: amd64\nMaintainer: Bench <b@example.org>\nDescription: one GiB\n' > "$big/pkg/DEBIAN/control"
dpkg-deb -Znone --build "$big/pkg" "$big/big.deb" >/dev/null
rm -rf "$work/pier-big"
PIER_ADMIN_TOKEN=bench "$work/pier" serve --data "$work/pier-big" --listen 127.0.0.1:0 > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q 'serving' "$work/serve.log" && break; sleep 0.2; done
url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1)
start=$(date +%s.%N)
curl -fsS -o /dev/null -H 'Authorization: Bearer bench' -X POST -T "$big/big.deb" "$url/api/v1/targets/5.8/debian/bookworm/packages"
end=$(date +%s.%N)
hwm=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
kill $pid; wait $pid 2>/dev/null || true
printf '%-44s %8.1f s %8d MiB (server peak RSS)\n' "upload 1 GiB .deb" "$(echo "$end - $start" | bc)" $((hwm / 1024))
