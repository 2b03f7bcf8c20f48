#!/usr/bin/env bash
# Runs Pier and the peer tools side by side, in one run, on the same
# reproducible corpus (bench/genpkgs: realistic size, compression and
# version mix), and prints the table of issue #18: for each workload the
# peer's and Pier's median wall time, their peak RSS and the speed ratio
# (peer time / Pier time: above 1 Pier is faster). Every command run is
# written to $work/commands.log with its time and peak RSS.
#
#   bench/compare.sh [rpm deb apk serve ...]      default: rpm deb apk serve
#   N="1000 10000" REPS=3 BENCH_DIR=/tmp/pier-bench COLD=1 bench/compare.sh rpm
#
# N: corpus sizes (default 1000); REPS: repetitions of the +1 workloads
# (median reported; default 3); BENCH_DIR keeps the generated corpora
# between runs (they are reused when present); COLD=1 drops the page cache
# before each cold run (root; it slows every other process on the machine,
# so it is off by default and the cold runs read from the page cache).
# Peers: rpm — createrepo_c; deb — apt-ftparchive (apt-utils) and aptly;
# apk — none runs here (apk-tools is not packaged): a full `apk index`
# rebuild is estimated by bench/apkindexest; serving — nginx and wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a what <<<"${*:-rpm deb apk serve}"
read -r -a sizes <<<"${N:-1000}"
reps=${REPS:-3}
work=${BENCH_DIR:-/tmp/pier-bench}
mkdir -p "$work"
export PIER_CONFIG=
go build -o "$work/pier" ./cmd/pier
go build -o "$work/genpkgs" ./bench/genpkgs
go build -o "$work/sha256floor" ./bench/sha256floor
go build -o "$work/apkindexest" ./bench/apkindexest
[ -d "$work/keys-template/keys" ] || "$work/pier" init --data "$work/keys-template" >/dev/null
log=$work/commands.log
res=$work/results.tsv
: >"$res"
echo "== $(date -u +%FT%TZ) $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$log"

# run LABEL CMD...: runs CMD under GNU time; sets S (seconds) and RSS (MiB).
run() {
	local label=$1
	shift
	/usr/bin/time -o "$work/time.txt" -f '%e %M' "$@" >"$work/out.log" 2>"$work/err.log" || {
		echo "FAILED: $label: $*" >&2
		tail -5 "$work/err.log" >&2
		return 1
	}
	read -r S RSS <"$work/time.txt"
	RSS=$((RSS / 1024))
	printf '%s\t%s s\t%s MiB\t%s\n' "$label" "$S" "$RSS" "$*" >>"$log"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# row WORKLOAD PEER PEER_S PEER_RSS PIER PIER_S PIER_RSS
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$res"; }
gen() { # format n dir [prefix start]
	[ -f "$3/.done" ] && return
	rm -rf "$3"
	"$work/genpkgs" -format "$1" -n "$2" -out "$3" -prefix "${4:-bench}" -start "${5:-0}"
	touch "$3/.done"
}
fresh() { rm -rf "$1"; cp -a "$work/keys-template" "$1"; }
cold() { [ "${COLD:-}" = 1 ] && { sync; echo 3 >/proc/sys/vm/drop_caches; } || true; }
# warm DIR: without COLD=1, reads DIR's files once, untimed, so that the floor
# (the first command of each format) starts on a warm page cache as the
# commands after it do; the previous format's files may have pushed them out.
warm() { [ "${COLD:-}" = 1 ] || find "$1" -maxdepth 1 -type f -exec cat {} + >/dev/null; }
# linkcopy SRC DST: a hard-linked copy (what an in-place indexer sees).
linkcopy() { rm -rf "$2"; mkdir -p "$2"; find "$1" -maxdepth 1 -type f ! -name .done -exec ln -t "$2/" {} +; }

# serve_start DATA: starts pier serve on DATA; sets PID and URL.
serve_start() {
	PIER_ADMIN_TOKEN=bench "$work/pier" serve --data "$1" --listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
	PID=$!
	for _ in $(seq 150); do grep -q 'serving' "$work/serve.log" && break; sleep 0.2; done
	URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | sed -n 1p)
}
serve_stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
# serve_add TARGET FILES...: one upload + publish per file through the API
# of the running server; sets S (median seconds) and RSS (server peak).
serve_add() {
	local tg=$1 f t0 t1 up pub times=()
	shift
	local auth=(-H 'Authorization: Bearer bench')
	# A running server has published before: this publish warms its caches.
	curl -fsS -o /dev/null "${auth[@]}" -X POST "$URL/api/v1/targets/$tg/publish"
	for f in "$@"; do
		sleep 1.1 # deb: a generation's Date must be a later second than the previous one's
		# The two requests' times as curl measures them (connect to last
		# byte): starting a curl process takes ~25 ms here, the client's
		# cost, not the server's; both are logged.
		t0=$(date +%s.%N)
		up=$(curl -fsS -o /dev/null -w '%{time_total}' "${auth[@]}" -X POST -T "$f" "$URL/api/v1/targets/$tg/packages?publish=false")
		pub=$(curl -fsS -o /dev/null -w '%{time_total}' "${auth[@]}" -X POST "$URL/api/v1/targets/$tg/publish")
		t1=$(date +%s.%N)
		times+=("$(echo "$up + $pub" | bc)")
		printf 'pier serve +1 (API)\t%s s\t-\tcurl -T %s …/packages?publish=false (%s s); curl -X POST …/publish (%s s); with both curl processes %s s\n' \
			"${times[-1]}" "$f" "$up" "$pub" "$(echo "$t1 - $t0" | bc)" >>"$log"
	done
	S=$(median "${times[@]}")
	RSS=$(($(awk '/VmHWM/{print $2}' "/proc/$PID/status") / 1024))
}
# pier_plus1 DATA TARGET FILES...: one `pier import` per file (a new process each).
pier_plus1() {
	local data=$1 tg=$2 f times=() rss=0
	shift 2
	for f in "$@"; do
		sleep 1.1
		run "pier import +1" "$work/pier" import --data "$data" "$tg" "$f"
		times+=("$S")
		rss=$((RSS > rss ? RSS : rss))
	done
	S=$(median "${times[@]}")
	RSS=$rss
}

bench_rpm() {
	local n=$1 pk=$work/rpm-$n tg=5.8/el/9
	gen rpm "$n" "$pk"
	gen rpm "$reps" "$work/rpm-extra-$n" extra $((n + 500000))
	gen rpm "$reps" "$work/rpm-served-$n" served $((n + 600000))
	gen rpm "$reps" "$work/rpm-cr-$n" crextra $((n + 700000))
	mapfile -t extra < <(ls "$work/rpm-extra-$n"/*.rpm)
	mapfile -t served < <(ls "$work/rpm-served-$n"/*.rpm)
	mapfile -t crx < <(ls "$work/rpm-cr-$n"/*.rpm)
	echo "== rpm, $n packages ($(du -sh --exclude=.done "$pk" | cut -f1))" >>"$log"
	cold
	warm "$pk"
	run "sha256 floor" "$work/sha256floor" "$pk"
	local floor=$S
	linkcopy "$pk" "$work/cr"
	cold
	run "createrepo_c cold" createrepo_c --no-database --workers 2 "$work/cr"
	local cr_s=$S cr_rss=$RSS
	fresh "$work/pier-rpm"
	cold
	run "pier import cold" "$work/pier" import --data "$work/pier-rpm" "$tg" "$pk"
	row "rpm, cold index of a directory ($n)" "createrepo_c --no-database --workers 2" "$cr_s" "$cr_rss" "pier import" "$S" "$RSS"
	linkcopy "$pk" "$work/pier-src"
	fresh "$work/pier-rpm-link"
	cold
	run "pier import --link cold" "$work/pier" import --link --data "$work/pier-rpm-link" "$tg" "$work/pier-src"
	row "rpm, cold index of a directory ($n)" "createrepo_c --no-database --workers 2" "$cr_s" "$cr_rss" "pier import --link" "$S" "$RSS"
	row "rpm, floor: one sha256 pass over the files ($n)" "sha256floor (Go, 2 threads)" "$floor" "-" "pier import --link" "$S" "$RSS"
	rm -rf "$work/pier-rpm-link" "$work/pier-src"
	# +1: createrepo_c --update after copying one more package in.
	local times=() f
	for f in "${crx[@]}"; do
		cp "$f" "$work/cr/"
		run "createrepo_c --update +1" createrepo_c --update --no-database --workers 2 "$work/cr"
		times+=("$S")
	done
	cr_s=$(median "${times[@]}") cr_rss=$RSS
	serve_start "$work/pier-rpm"
	serve_add "$tg" "${served[@]}"
	serve_stop
	row "rpm, +1 package through a running server ($n)" "createrepo_c --update --no-database" "$cr_s" "$cr_rss" "upload + POST publish" "$S" "$RSS"
	pier_plus1 "$work/pier-rpm" "$tg" "${extra[@]}"
	row "rpm, +1 package, new process ($n)" "createrepo_c --update --no-database" "$cr_s" "$cr_rss" "pier import" "$S" "$RSS"
	rm -rf "$work/cr"
}

bench_deb() {
	local n=$1 pk=$work/deb-$n tg=5.8/debian/bookworm
	gen deb "$n" "$pk"
	gen deb "$reps" "$work/deb-extra-$n" extra $((n + 500000))
	gen deb "$reps" "$work/deb-served-$n" served $((n + 600000))
	gen deb "$reps" "$work/deb-aptly-$n" aptlyextra $((n + 700000))
	gen deb "$reps" "$work/deb-aft-$n" aftextra $((n + 800000))
	mapfile -t extra < <(ls "$work/deb-extra-$n"/*.deb)
	mapfile -t served < <(ls "$work/deb-served-$n"/*.deb)
	mapfile -t ax < <(ls "$work/deb-aptly-$n"/*.deb)
	mapfile -t fx < <(ls "$work/deb-aft-$n"/*.deb)
	echo "== deb, $n packages ($(du -sh --exclude=.done "$pk" | cut -f1))" >>"$log"
	cold
	warm "$pk"
	run "sha256 floor" "$work/sha256floor" "$pk"
	local floor=$S
	# apt-ftparchive without a cache database: Packages + .gz + .xz + Release.
	rm -rf "$work/aft"
	mkdir -p "$work/aft/pool"
	linkcopy "$pk" "$work/aft/pool/main"
	local aft="cd $work/aft && apt-ftparchive packages pool > Packages && gzip -9kf Packages && xz -kf Packages && apt-ftparchive release . > Release"
	cold
	run "apt-ftparchive cold" bash -c "$aft"
	local aft_s=$S aft_rss=$RSS
	# aptly: repo add + publish (-skip-signing: aptly would call gpg; Pier signs).
	rm -rf "$work/aptly"
	local conf=$work/aptly.conf
	printf '{"rootDir": "%s", "architectures": ["amd64","arm64"]}\n' "$work/aptly" >"$conf"
	aptly -config="$conf" repo create -distribution=bookworm -component=main bench >/dev/null
	cold
	run "aptly repo add cold" aptly -config="$conf" repo add bench "$pk"
	local ap_s=$S ap_rss=$RSS
	run "aptly publish cold" aptly -config="$conf" publish repo -skip-signing -architectures=amd64,arm64 bench
	ap_s=$(echo "$ap_s + $S" | bc) ap_rss=$((RSS > ap_rss ? RSS : ap_rss))
	fresh "$work/pier-deb"
	cold
	run "pier import cold" "$work/pier" import --data "$work/pier-deb" "$tg" "$pk"
	row "deb, cold import + publish ($n)" "apt-ftparchive packages+gzip+xz+release (no cache db)" "$aft_s" "$aft_rss" "pier import" "$S" "$RSS"
	row "deb, cold import + publish ($n)" "aptly repo add + publish" "$ap_s" "$ap_rss" "pier import" "$S" "$RSS"
	linkcopy "$pk" "$work/pier-src"
	fresh "$work/pier-deb-link"
	cold
	run "pier import --link cold" "$work/pier" import --link --data "$work/pier-deb-link" "$tg" "$work/pier-src"
	row "deb, cold import + publish ($n)" "apt-ftparchive packages+gzip+xz+release (no cache db)" "$aft_s" "$aft_rss" "pier import --link" "$S" "$RSS"
	row "deb, floor: one sha256 pass over the files ($n)" "sha256floor (Go, 2 threads)" "$floor" "-" "pier import --link" "$S" "$RSS"
	rm -rf "$work/pier-deb-link" "$work/pier-src"
	# +1 for the peers.
	local times=() f
	for f in "${ax[@]}"; do
		run "aptly add 1 + publish update" bash -c "aptly -config='$conf' repo add bench '$f' && aptly -config='$conf' publish update -skip-signing bookworm"
		times+=("$S")
	done
	ap_s=$(median "${times[@]}") ap_rss=$RSS
	run "apt-ftparchive fill cache db" bash -c "cd $work/aft && apt-ftparchive --db cache.db packages pool > Packages"
	times=()
	local aftdb="cd $work/aft && apt-ftparchive --db cache.db packages pool > Packages && gzip -9kf Packages && xz -kf Packages && apt-ftparchive release . > Release"
	for f in "${fx[@]}"; do
		ln "$f" "$work/aft/pool/main/"
		run "apt-ftparchive warm cache db +1" bash -c "$aftdb"
		times+=("$S")
	done
	aft_s=$(median "${times[@]}") aft_rss=$RSS
	serve_start "$work/pier-deb"
	serve_add "$tg" "${served[@]}"
	serve_stop
	row "deb, +1 package through a running server ($n)" "aptly repo add + publish update" "$ap_s" "$ap_rss" "upload + POST publish" "$S" "$RSS"
	row "deb, +1 package through a running server ($n)" "apt-ftparchive, warm cache db" "$aft_s" "$aft_rss" "upload + POST publish" "$S" "$RSS"
	pier_plus1 "$work/pier-deb" "$tg" "${extra[@]}"
	row "deb, +1 package, new process ($n)" "aptly repo add + publish update" "$ap_s" "$ap_rss" "pier import" "$S" "$RSS"
	rm -rf "$work/aft" "$work/aptly"
}

bench_apk() {
	local n=$1 pk=$work/apk-$n tg=5.8/alpine/v3.20
	gen apk "$n" "$pk"
	gen apk "$reps" "$work/apk-extra-$n" extra $((n + 500000))
	gen apk "$reps" "$work/apk-served-$n" served $((n + 600000))
	mapfile -t extra < <(ls "$work/apk-extra-$n"/*.apk)
	mapfile -t served < <(ls "$work/apk-served-$n"/*.apk)
	echo "== apk, $n packages ($(du -sh --exclude=.done "$pk" | cut -f1))" >>"$log"
	warm "$pk"
	run "sha256 floor" "$work/sha256floor" "$pk"
	local floor=$S
	fresh "$work/pier-apk"
	run "pier import cold" "$work/pier" import --data "$work/pier-apk" "$tg" "$pk"
	local cold_s=$S
	row "apk, cold import + publish ($n)" "sha256floor (Go, 2 threads)" "$floor" "-" "pier import" "$S" "$RSS"
	# No apk-tools here: the peer of +1 is a full `apk index` rebuild as
	# bench/apkindexest estimates it (apk-tools' per-file work on one
	# thread: each file read to the end of its control stream, .PKGINFO
	# parsed, the control stream's SHA-1 taken; then the index written,
	# gzipped and RSA-signed), and, for reference, Pier's own full rebuild
	# (`pier publish` in a new process, nothing cached).
	run "apk index estimate (full rebuild)" "$work/apkindexest" "$pk"
	local est=$S est_rss=$RSS
	sleep 1.1
	run "pier publish (full rebuild, new process)" "$work/pier" publish --data "$work/pier-apk" "$tg"
	local full=$S
	serve_start "$work/pier-apk"
	serve_add "$tg" "${served[@]}"
	serve_stop
	row "apk, +1 package through a running server ($n)" "apk index full rebuild (apkindexest estimate)" "$est" "$est_rss" "upload + POST publish" "$S" "$RSS"
	row "apk, +1 package through a running server ($n)" "pier publish, full rebuild in a new process" "$full" "-" "upload + POST publish" "$S" "$RSS"
	pier_plus1 "$work/pier-apk" "$tg" "${extra[@]}"
	row "apk, +1 package, new process ($n)" "apk index full rebuild (apkindexest estimate)" "$est" "$est_rss" "pier import" "$S" "$RSS"
	row "apk, +1 package, new process ($n)" "pier publish, full rebuild in a new process" "$full" "-" "pier import" "$S" "$RSS"
	: "$cold_s"
}

# wrk_run URL: sets RPS, MBS (MB/s) and P99 from wrk -t2 -c64 -d10s.
wrk_run() {
	wrk -t2 -c64 -d10s --latency "$1" >"$work/wrk.txt"
	printf 'wrk -t2 -c64 -d10s --latency %s\n' "$1" >>"$log"
	sed 's/^/    /' "$work/wrk.txt" >>"$log"
	RPS=$(awk '/Requests\/sec/{print $2}' "$work/wrk.txt")
	MBS=$(awk '/Transfer\/sec/{v=$2; if (v ~ /GB/) {sub(/GB/,"",v); v*=1024} else if (v ~ /MB/) {sub(/MB/,"",v)} else if (v ~ /KB/) {sub(/KB/,"",v); v/=1024}; print v}' "$work/wrk.txt")
	P99=$(awk '$1=="99%"{print $2}' "$work/wrk.txt")
}

bench_serve() {
	local n=${sizes[-1]} data=$work/pier-deb root=$work/nginx-root
	[ -d "$data" ] || {
		echo "serve: run the deb benchmark first" >&2
		return 1
	}
	serve_start "$data"
	local rel=deb/5.8/debian/dists/bookworm/InRelease big pool
	# The largest package of the target, by its pool path in Packages.
	big=$(ls -S "$work/deb-$n"/*_amd64.deb | sed -n 1p)
	pool=$(curl -fsS "$URL/deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages" |
		awk -v f="Filename: pool/" -v b="/$(basename "$big")" 'index($0, f) && index($0, b) {print $2}')
	[ -n "$pool" ] || {
		echo "serve: $(basename "$big") not in binary-amd64/Packages" >&2
		serve_stop
		return 1
	}
	rm -rf "$root"
	mkdir -p "$root/$(dirname "$rel")" "$root/deb/5.8/debian/$(dirname "$pool")"
	curl -fsS -o "$root/$rel" "$URL/$rel"
	ln "$big" "$root/deb/5.8/debian/$pool"
	cat >"$work/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
	include /etc/nginx/mime.types;
	access_log $work/nginx-access.log;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 100000;
	server { listen 127.0.0.1:18018; root $root; }
}
EOF
	nginx -c "$work/nginx.conf" -g 'daemon off;' &
	local ngx=$!
	sleep 1
	echo "== serving (nginx: 2 workers, sendfile, access log on; pier serve: its request log on)" >>"$log"
	local size
	size=$(stat -c %s "$big")
	wrk_run "http://127.0.0.1:18018/$rel"
	local nr=$RPS np=$P99
	wrk_run "$URL/$rel"
	row "serving InRelease (wrk -t2 -c64), req/s; p99" "nginx $np" "$nr" "-" "pier serve $P99" "$RPS" "-"
	wrk_run "http://127.0.0.1:18018/deb/5.8/debian/$pool"
	local nm=$MBS
	wrk_run "$URL/deb/5.8/debian/$pool"
	row "serving a $((size / 1000000)) MB .deb (wrk -t2 -c64), MB/s" "nginx" "$nm" "-" "pier serve" "$MBS" "-"
	kill "$ngx"
	wait "$ngx" 2>/dev/null || true
	serve_stop
}

for n in "${sizes[@]}"; do
	for w in "${what[@]}"; do
		[ "$w" = serve ] && continue
		"bench_$w" "$n"
	done
done
for w in "${what[@]}"; do [ "$w" = serve ] && bench_serve; done

echo
echo "| workload | peer | peer (median) | peer RSS MiB | Pier | Pier (median) | Pier RSS MiB | ratio (peer/Pier) |"
echo "|---|---|---|---|---|---|---|---|"
awk -F'\t' '{r = ($6 > 0) ? $3 / $6 : 0; if ($1 ~ /^serving/) r = ($3 > 0) ? $6 / $3 : 0;
	printf "| %s | %s | %s | %s | %s | %s | %s | %.2f× |\n", $1, $2, $3, $4, $5, $6, $7, r}' "$res"
echo
echo "(ratio: peer time / Pier time, so above 1 Pier is faster; for serving Pier / nginx throughput. Commands: $log)"
