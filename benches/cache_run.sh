#!/bin/sh
# The compile cache of `kiln run` (benches/README.md, "Compile cache"). From the repository root:
#   benches/cache_run.sh KILN N
# times N runs of `kiln run tests/programs/wordfreq.wasm` (stdin empty) each way, interleaved so
# that the three ways share the machine's noise: compiled in memory (--no-cache), from a warm
# cache (--cache-dir), and of the artifact compiled beforehand (the floor: load and run only).
K=$1; N=$2; W=tests/programs/wordfreq.wasm; D=$(mktemp -d)
$K compile $W -o $D/wordfreq.kiln
$K run $W --cache-dir $D/cache </dev/null >/dev/null   # fills the cache
t() { s=$(date +%s%N); "$@" </dev/null >/dev/null; e=$(date +%s%N); echo "$way $(( (e - s) / 1000 ))" >>$D/times; }
for i in $(seq $N); do
  way=no-cache; t $K run $W --no-cache
  way=cached; t $K run $W --cache-dir $D/cache
  way=artifact; t $K run $D/wordfreq.kiln
done
for way in no-cache cached artifact; do
  grep "^$way " $D/times | cut -d' ' -f2 | sort -n | awk -v w=$way '{a[NR]=$1} END {printf "%-9s min %8.1f ms  median %8.1f ms  (n=%d)\n", w, a[1]/1000, a[int((NR+1)/2)]/1000, NR}'
done
echo "artifact bytes $(wc -c <$D/wordfreq.kiln), cache entries $(find $D/cache -name '*.kiln' | wc -l)"
rm -rf $D
