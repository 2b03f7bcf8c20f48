#!/usr/bin/env bash
# Big targets (issue #18): Pier alone on one 100,000-package target per
# format. For rpm and deb it generates a corpus of N equal packages
# (genpkgs -size: SIZE incompressible payload bytes each, 2,000 by
# default, so 100,000 packages take ~0.5 GB instead of the ~40 GB of the
# realistic mix: the figures measure per-package costs, not bytes), then
# times, with peak RSS:
#   - pier import --link, cold (a new data directory);
#   - +1 package through a running server (upload ?publish=false + POST
#     …/publish; the server's VmHWM), REPS times, median;
#   - GET …/packages?limit=100 on the big target (first page, and the page
#     after the cursor of the Link rel="next" header), and the whole list
#     (no limit) for comparison, each REPS times, median;
#   - +1 package with pier import in a new process, REPS times, median.
# No peer here (bench/compare.sh compares with createrepo_c, apt-ftparchive
# and aptly; N=100000 there needs ~40 GB per format).
#
#   bench/big.sh [rpm deb]          N=100000 SIZE=2000 REPS=3 BIG_DIR=/tmp/pier-big PORT=18401
#
# Every command is written to $BIG_DIR/commands.log with its time and RSS.
# KEEP=1 keeps the corpora and data directories (deleted by default: disk).
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a what <<<"${*:-rpm deb}"
n=${N:-100000}
size=${SIZE:-2000}
reps=${REPS:-3}
work=${BIG_DIR:-/tmp/pier-big}
port=${PORT:-18401}
mkdir -p "$work"
export PIER_CONFIG=
go build -o "$work/pier" ./cmd/pier
go build -o "$work/genpkgs" ./bench/genpkgs
[ -d "$work/keys-template/keys" ] || "$work/pier" init --data "$work/keys-template" >/dev/null
log=$work/commands.log
res=$work/results.tsv
: >"$res"
echo "== $(date -u +%FT%TZ) $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg); N=$n SIZE=$size" >>"$log"

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
row() { printf '%s\t%s\t%s\n' "$@" >>"$res"; } # WORKLOAD SECONDS RSS
gen() {                                          # format n dir prefix start
	[ -f "$3/.done" ] && return
	rm -rf "$3"
	run "genpkgs $1 $2" "$work/genpkgs" -format "$1" -n "$2" -size "$size" -out "$3" -prefix "$4" -start "$5"
	touch "$3/.done"
}
serve_start() { # DATA: sets PID and URL
	PIER_ADMIN_TOKEN=bench "$work/pier" serve --data "$1" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
	PID=$!
	URL=http://127.0.0.1:$port
	for _ in $(seq 600); do curl -fs -o /dev/null "$URL/healthz" 2>/dev/null && return; sleep 0.2; done
	grep -q serving "$work/serve.log" || {
		echo "pier serve did not start" >&2
		cat "$work/serve.log" >&2
		return 1
	}
}
serve_stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
auth=(-H 'Authorization: Bearer bench')
# get LABEL URL: REPS timed GETs; sets S (median seconds) and BYTES.
get() {
	local label=$1 u=$2 times=() t
	for _ in $(seq "$reps"); do
		t=$(curl -fsS -o "$work/page.json" -D "$work/page.hdr" -w '%{time_total}' "${auth[@]}" "$u")
		times+=("$t")
		printf '%s\t%s s\t-\tcurl %s\n' "$label" "$t" "$u" >>"$log"
	done
	S=$(median "${times[@]}")
	BYTES=$(stat -c %s "$work/page.json")
}

big() {
	local f=$1 tg=$2 ext=$3 pk=$work/$1-$n data=$work/data-$1
	gen "$f" "$n" "$pk" big 0
	gen "$f" "$reps" "$work/$f-served" served $((n + 600000))
	gen "$f" "$reps" "$work/$f-extra" extra $((n + 500000))
	echo "== $f, $n packages of $size payload bytes ($(du -sh --exclude=.done "$pk" | cut -f1))" >>"$log"
	rm -rf "$data"
	cp -a "$work/keys-template" "$data"
	run "pier import --link cold" "$work/pier" import --link --data "$data" "$tg" "$pk"
	row "$f: pier import --link, cold ($n)" "$S" "$RSS"
	serve_start "$data"
	# A running server has published before: this publish warms its caches.
	local t0 t1 up pub times=() p
	run "first publish of the running server" curl -fsS -o /dev/null "${auth[@]}" -X POST "$URL/api/v1/targets/$tg/publish"
	row "$f: first POST publish of a new server process, nothing changed ($n)" "$S" "-"
	for p in "$work/$f-served"/*."$ext"; do
		sleep 1.1 # deb: a generation's Date must be a later second than the previous one's
		# The two requests' times as curl reports them (a curl process start
		# is the client's cost, ~25 ms here; both figures are logged).
		t0=$(date +%s.%N)
		up=$(curl -fsS -o /dev/null -w '%{time_total}' "${auth[@]}" -X POST -T "$p" "$URL/api/v1/targets/$tg/packages?publish=false")
		pub=$(curl -fsS -o /dev/null -w '%{time_total}' "${auth[@]}" -X POST "$URL/api/v1/targets/$tg/publish")
		t1=$(date +%s.%N)
		times+=("$(echo "$up + $pub" | bc)")
		printf 'pier serve +1 (API)\t%s s\t-\tcurl -T %s …/packages?publish=false (%s s); curl -X POST …/publish (%s s); with both curl processes %s s\n' \
			"${times[-1]}" "$p" "$up" "$pub" "$(echo "$t1 - $t0" | bc)" >>"$log"
	done
	local hwm
	hwm=$(($(awk '/VmHWM/{print $2}' "/proc/$PID/status") / 1024))
	row "$f: +1 through the running server, upload + POST publish, median ($n)" "$(median "${times[@]}")" "$hwm"
	local base=$URL/api/v1/targets/$tg/packages
	get "GET ?limit=100, first page" "$base?limit=100"
	row "$f: GET …/packages?limit=100, first page ($BYTES bytes), median ($n)" "$S" "-"
	local next
	next=$(sed -n 's/^Link: <\(.*\)>; rel="next".*/\1/p' "$work/page.hdr" | tr -d '\r')
	[ -n "$next" ] || {
		echo "no Link rel=next on the first page" >&2
		return 1
	}
	get "GET Link rel=next page" "$next"
	row "$f: GET the Link rel=next page, median ($n)" "$S" "-"
	local name
	name=$(grep -o '"name":"[^"]*"' "$work/page.json" | sed -n '1s/"name":"\(.*\)"/\1/p')
	get "GET ?name=$name" "$base?name=$name"
	row "$f: GET …/packages?name=… (no limit: every version of one name), median ($n)" "$S" "-"
	get "GET every package (no limit)" "$base"
	row "$f: GET …/packages, no limit: the whole list ($((BYTES / 1000000)) MB), median ($n)" "$S" "-"
	hwm=$(($(awk '/VmHWM/{print $2}' "/proc/$PID/status") / 1024))
	row "$f: server VmHWM after the whole list ($n)" "-" "$hwm"
	serve_stop
	times=()
	local rss=0
	for p in "$work/$f-extra"/*."$ext"; do
		sleep 1.1
		run "pier import +1" "$work/pier" import --data "$data" "$tg" "$p"
		times+=("$S")
		rss=$((RSS > rss ? RSS : rss))
	done
	row "$f: +1 with pier import (new process), median ($n)" "$(median "${times[@]}")" "$rss"
	[ "${KEEP:-}" = 1 ] || rm -rf "$data" "$pk" "$work/$f-served" "$work/$f-extra"
}

for w in "${what[@]}"; do
	case $w in
	rpm) big rpm 5.8/el/9 rpm ;;
	deb) big deb 5.8/debian/bookworm deb ;;
	*)
		echo "unknown workload $w (want rpm or deb)" >&2
		exit 2
		;;
	esac
done
echo
echo "| workload | time (s) | peak RSS MiB |"
echo "|---|---|---|"
awk -F'\t' '{printf "| %s | %s | %s |\n", $1, $2, $3}' "$res"
echo
echo "(commands: $log)"
