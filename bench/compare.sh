#!/usr/bin/env bash
# Benchmarks Pier's import+publish of deb, rpm and apk packages side by side
# with the peer tools on the same synthetic files, in the same run, and
# reports wall time and peak RSS (GNU time). Also: adding one package to the
# largest target (with `pier import`, and three times through the API of one
# running server: upload, then POST publish), and the server's peak RSS while
# it receives a 1 GiB upload.
#
#   bench/compare.sh [deb|rpm|apk|sync|upload ...]  default: deb rpm apk sync upload
#   N="1000 10000" SIZE=50000 BENCH_DIR=/tmp/x bench/compare.sh rpm
#
# Peers: deb — apt-ftparchive (apt-utils) and aptly; rpm — createrepo_c
# (createrepo-c); apk — none runs here (apk-tools is not in Debian).
# Pier's signing keys are generated once before timing (key generation is a
# first-start cost, not an import cost). Every Pier run signs its indexes;
# aptly runs with -skip-signing.
set -euo pipefail
cd "$(dirname "$0")/.."
what=("${@:-deb rpm apk sync upload}")
read -r -a what <<<"${what[*]}"
read -r -a sizes <<<"${N:-1000 10000}"
work=${BENCH_DIR:-$(mktemp -d /tmp/pier-bench.XXXXXX)}
payload=${SIZE:-50000}
mkdir -p "$work"
go build -o "$work/pier" ./cmd/pier
go build -o "$work/genpkgs" ./bench/genpkgs
"$work/pier" publish --data "$work/keys-template" init/debian/init >/dev/null
T=/usr/bin/time

measure() { # label cmd...
  local label=$1; shift
  $T -o "$work/time.txt" -f '%e %M' "$@" >/dev/null 2>"$work/err.log" || { echo "$label FAILED"; cat "$work/err.log"; return 1; }
  local out; out=$(tail -1 "$work/time.txt")
  printf '%-48s %8s s %8d MiB\n' "$label" "${out% *}" $(( ${out#* } / 1024 ))
}
gen() { # format n dir [prefix start]
  [ -d "$3" ] || "$work/genpkgs" -format "$1" -n "$2" -size "$payload" -out "$3" -prefix "${4:-bench}" -start "${5:-0}"
}
fresh() { # a new Pier data dir with the template's keys
  rm -rf "$1"; mkdir -p "$1"; cp -r "$work/keys-template/keys" "$1/keys"
}
cold() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
serve_add() { # data target dir-of-packages: add each package through the API of one running server
  local data=$1 tg=$2 dir=$3 pid url start end f i=0
  PIER_ADMIN_TOKEN=bench "$work/pier" serve --data "$data" --listen 127.0.0.1:0 > "$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q 'serving' "$work/serve.log" && break; sleep 0.2; done
  url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1)
  local auth=(-H 'Authorization: Bearer bench')
  # A running server has published before: this first publish is the one
  # that fills its caches (catalog view, compressed repodata blocks).
  sleep 1; curl -fsS -o /dev/null "${auth[@]}" -X POST "$url/api/v1/targets/$tg/publish"
  for f in "$dir"/*; do
    i=$((i + 1)); sleep 1 # each publish's Date is a later second than the previous one's
    start=$(date +%s.%N)
    curl -fsS -o /dev/null "${auth[@]}" -X POST -T "$f" "$url/api/v1/targets/$tg/packages?publish=false"
    curl -fsS -o /dev/null "${auth[@]}" -X POST "$url/api/v1/targets/$tg/publish"
    end=$(date +%s.%N)
    printf '%-48s %8.3f s %8d MiB (server peak RSS)\n' "pier serve: upload 1 + publish, API, #$i" \
      "$(echo "$end - $start" | bc)" $(( $(awk '/VmHWM/{print $2}' /proc/$pid/status) / 1024 ))
  done
  kill $pid; wait $pid 2>/dev/null || true
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; payload $payload bytes per package; work dir $work"
for fmt in "${what[@]}"; do
  [ "$fmt" = upload ] || [ "$fmt" = sync ] && continue
  for n in "${sizes[@]}"; do
    pk="$work/$fmt-$n"; gen "$fmt" "$n" "$pk"
    one="$work/$fmt-one-$n"; gen "$fmt" 1 "$one" extra $((n + 500000))
    three="$work/$fmt-three-$n"; gen "$fmt" 3 "$three" served $((n + 600000))
    echo "== $fmt, $n packages ($(du -sh "$pk" | cut -f1))"
    case $fmt in deb) tg=5.8/debian/bookworm ;; rpm) tg=5.8/el/9 ;; apk) tg=5.8/alpine/v3.20 ;; esac
    fresh "$work/pier-$fmt-$n"; cold
    measure "pier import + publish (cold cache)" "$work/pier" import --data "$work/pier-$fmt-$n" "$tg" "$pk"
    sleep 1 # a publish waits for the next second after the previous one (Release Date)
    measure "pier import 1 + publish ($n in target)" "$work/pier" import --data "$work/pier-$fmt-$n" "$tg" "$one"
    serve_add "$work/pier-$fmt-$n" "$tg" "$three"
    # --link: the blob store takes the files over by hard link (same
    # filesystem), indexing in place like createrepo_c; a copy of the files
    # is linked so the generated set stays untouched.
    rm -rf "$work/link-src"; cp -r "$pk" "$work/link-src"; fresh "$work/pier-link-$fmt-$n"; cold
    measure "pier import --link + publish (cold cache)" "$work/pier" import --link --data "$work/pier-link-$fmt-$n" "$tg" "$work/link-src"
    rm -rf "$work/pier-link-$fmt-$n" "$work/link-src"
    case $fmt in
    deb)
      rm -rf "$work/aft"; mkdir -p "$work/aft"; ln -s "$pk" "$work/aft/pool"; cold
      measure "apt-ftparchive packages+gz+xz+release" bash -c "cd '$work/aft' && apt-ftparchive packages pool > Packages && gzip -9kf Packages && xz -kf Packages && apt-ftparchive release . > Release"
      rm -rf "$work/aptly"; conf="$work/aptly.conf"
      printf '{"rootDir": "%s", "architectures": ["amd64","arm64"]}\n' "$work/aptly" > "$conf"
      aptly -config="$conf" repo create -distribution=bookworm bench >/dev/null; cold
      measure "aptly repo add" aptly -config="$conf" repo add bench "$pk"
      measure "aptly publish (-skip-signing)" aptly -config="$conf" publish repo -skip-signing -architectures=amd64,arm64 bench
      measure "aptly add 1 + publish update" bash -c "aptly -config='$conf' repo add bench '$one' && aptly -config='$conf' publish update -skip-signing bookworm"
      ;;
    rpm)
      rm -rf "$work/cr"; mkdir -p "$work/cr"; cp -r "$pk/." "$work/cr/"; cold
      measure "createrepo_c --workers 2 (cold cache)" createrepo_c --workers 2 "$work/cr"
      cp "$one"/* "$work/cr/"
      measure "createrepo_c --update --workers 2 (+1)" createrepo_c --update --workers 2 "$work/cr"
      ;;
    esac
  done
done

if [[ " ${what[*]} " == *" sync "* ]]; then
  # Sync of the largest deb target to a real versitygw bucket.
  n=${sizes[-1]}; data="$work/pier-deb-$n"
  [ -d "$data" ] || { echo "run the deb benchmark first"; exit 1; }
  gw="$(go env GOPATH)/bin/versitygw"; rm -rf "$work/vgw"; mkdir -p "$work/vgw/bench"
  "$gw" --port 127.0.0.1:17071 --access benchkey --secret benchsecret1 --quiet posix "$work/vgw" &
  gwpid=$!; sleep 2
  printf 'mirrors:\n  - name: bench\n    type: s3\n    bucket: bench\n    endpoint: http://127.0.0.1:17071\n    path_style: true\n    access_key_id: benchkey\n    secret_access_key: benchsecret1\n' > "$work/sync.yaml"
  rm -rf "$data/mirrors"
  echo "== sync of the $n-package deb target to versitygw"
  measure "pier sync from empty" "$work/pier" sync --config "$work/sync.yaml" --data "$data"
  measure "pier sync, nothing changed" "$work/pier" sync --config "$work/sync.yaml" --data "$data"
  one="$work/sync-one"; rm -rf "$one"; gen deb 1 "$one" syncextra $((n + 700000)); sleep 1
  "$work/pier" import --data "$data" 5.8/debian/bookworm "$one" >/dev/null
  measure "pier sync after adding one package" "$work/pier" sync --config "$work/sync.yaml" --data "$data"
  "$work/pier" sync --config "$work/sync.yaml" --data "$data" | sed 's/^/  /'
  kill $gwpid
fi

if [[ " ${what[*]} " == *" upload "* ]]; then
  echo "== 1 GiB upload"
  big="$work/big"; rm -rf "$big"; mkdir -p "$big/pkg/DEBIAN" "$big/pkg/usr/share/big"
  head -c 1G /dev/urandom > "$big/pkg/usr/share/big/blob"
  printf 'Package: big\nVersion: 1.0\nArchitecture: amd64\nMaintainer: Bench <b@example.org>\nDescription: one GiB\n' > "$big/pkg/DEBIAN/control"
  dpkg-deb -Znone --build "$big/pkg" "$big/big.deb" >/dev/null
  fresh "$work/pier-big"
  PIER_ADMIN_TOKEN=bench "$work/pier" serve --data "$work/pier-big" --listen 127.0.0.1:0 > "$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q 'serving' "$work/serve.log" && break; sleep 0.2; done
  url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1)
  start=$(date +%s.%N)
  curl -fsS -o /dev/null -H 'Authorization: Bearer bench' -X POST -T "$big/big.deb" "$url/api/v1/targets/5.8/debian/bookworm/packages"
  end=$(date +%s.%N)
  hwm=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
  kill $pid; wait $pid 2>/dev/null || true
  printf '%-48s %8.1f s %8d MiB (server peak RSS)\n' "upload of a 1 GiB .deb" "$(echo "$end - $start" | bc)" $((hwm / 1024))
fi
