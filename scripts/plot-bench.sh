#!/usr/bin/env bash
# plot-bench.sh - PNG plots from a w4a16-bench CSV (--csv):
#   speedup-<zeros>-g<group>.png   x cuBLAS against M (log2), one line per shape and dtype
#   roofline-<zeros>-g<group>.png  % of the measured roofline against M, same lines
# one pair per (zero mode, group size) found in the CSV. Rows whose status is not "ok" are left
# out (they carry no time).
#
# usage: scripts/plot-bench.sh RESULTS.csv [OUTDIR] [TITLE]
#   OUTDIR defaults to the CSV's directory; TITLE (e.g. the GPU name) is added to each title.
# Needs gnuplot (Debian: apt-get install gnuplot-nox); without it, says so and exits 0.
set -euo pipefail

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit $(( $# < 1 ? 2 : 0 ))
fi
csv=$1
outdir=${2:-$(dirname "$csv")}
title_extra=${3:-}

if ! command -v gnuplot >/dev/null 2>&1; then
    echo "plot-bench.sh: gnuplot not found (apt-get install gnuplot-nox); no plots made"
    exit 0
fi
if [[ ! -r $csv ]]; then
    echo "plot-bench.sh: cannot read $csv" >&2
    exit 1
fi
mkdir -p "$outdir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Split the CSV into one data file per series (columns found by name in the header line).
# Only the last column (message) may hold quoted commas, and it is not read here.
awk -F, -v dir="$tmp" '
NR == 1 {
    for (i = 1; i <= NF; i++) col[$i] = i
    split("label m n k group dtype zeros status x_cublas pct_roofline", need, " ")
    for (j in need) if (!(need[j] in col)) { print "plot-bench.sh: the CSV lacks column " need[j] > "/dev/stderr"; bad = 1; exit 1 }
    next
}
$col["status"] != "ok" { next }
{
    pkey = $col["zeros"] SUBSEP $col["group"]
    if (!(pkey in pid)) { pid[pkey] = ++np; print np "\t" $col["zeros"] "\t" $col["group"] > (dir "/plots") }
    shape = $col["n"] "x" $col["k"]
    if ($col["label"] != "-" && $col["label"] != "") shape = $col["label"] " " shape
    if (!(shape in shapeidx)) shapeidx[shape] = ++nshape
    skey = pkey SUBSEP shape SUBSEP $col["dtype"]
    if (!(skey in sid)) {
        sid[skey] = ++ns
        print pid[pkey] "\t" ns "\t" shapeidx[shape] "\t" $col["dtype"] "\t" shape " " $col["dtype"] > (dir "/series")
    }
    print $col["m"], $col["x_cublas"], $col["pct_roofline"] > (dir "/s" sid[skey] ".dat")
}
END { if (bad) exit 1 }
' "$csv"

if [[ ! -s $tmp/plots ]]; then
    echo "plot-bench.sh: no ok rows in $csv; no plots made"
    exit 0
fi
for f in "$tmp"/s*.dat; do sort -n -k1,1 "$f" -o "$f"; done

if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
    term="pngcairo size 1200,750 font ',11'"
else
    term="png size 1200,750"
fi

made=()
while IFS=$'\t' read -r p zeros group; do
    for kind in speedup roofline; do
        out="$outdir/$kind-$zeros-g$group.png"
        if [[ $kind == speedup ]]; then
            col=2 ylabel="speedup over cuBLAS (x)" ref=1 reflabel="cuBLAS" yrange="[0:1.2<*]"
            title="w4a16 vs cuBLAS on the dequantized weights, zeros=$zeros, group=$group"
        else
            col=3 ylabel="% of the measured roofline" ref=95 reflabel="95% (TARGETS.md cap)" yrange="[0:100<*]"
            title="w4a16 against the roofline max(bytes/BW, flops/peak), zeros=$zeros, group=$group"
        fi
        [[ -n $title_extra ]] && title="$title - $title_extra"
        plot=""
        while IFS=$'\t' read -r sp s shape dtype label; do
            [[ $sp == "$p" ]] || continue
            dt=1; [[ $dtype == bf16 ]] && dt=2
            label=${label//\'/}
            plot+="${plot:+, }'$tmp/s$s.dat' using 1:$col with linespoints lc $shape dt $dt pt $((6 + dt)) lw 2 title '$label'"
        done < "$tmp/series"
        gnuplot <<EOF
set terminal $term
set output '$out'
set title "$title" noenhanced
set logscale x 2
set xlabel 'M (tokens)'
set ylabel '$ylabel'
set yrange $yrange
set grid
set key outside right top noenhanced
set arrow from graph 0, first $ref to graph 1, first $ref nohead dt 3 lc rgb 'black'
set label '$reflabel' at graph 0.01, first $ref offset 0,0.6 font ',9'
plot $plot
EOF
        made+=("$out")
    done
done < "$tmp/plots"
printf 'plot-bench.sh: wrote %s\n' "${made[@]}"
