# chart.gp -- the chart of `make bench`'s part 2 (bench/run.sh runs it):
#
#   gnuplot -e "dat='compare.dat'; ncol=N; nblk=B; fmt='svg'; out='compare.svg';
#               machine='...'; t0='...'; t1='...'; cols='#rrggbb ...'" bench/chart.gp
#
# dat has one block per medium (separated by two blank lines): a header line
# "workload" "STORE: durability" ..., then a row per workload, a column of
# rates (ops/s) per store, "?" where there is no figure. One panel per block,
# clustered bars on a log scale; cols has a colour per store column.
if (fmt eq "svg") {
    set terminal svg size 1400, 560 * nblk + 60 dynamic font "sans,12" background rgb "white"
} else {
    set terminal pngcairo size 1400, 560 * nblk + 60 font "sans,10" background rgb "white"
}
set output out
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border rgb "#333333"
set boxwidth 0.95
set logscale y 10
set yrange [1:*]
set format y "%.0s%c"
set ylabel "operations per second (log scale)"
set grid ytics mytics lc rgb "#dddddd"
set key at screen 0.69, graph 1 left top vertical Left reverse noenhanced samplen 2 spacing 1.1 font ",10"
set xtics nomirror noenhanced
# the same plot width in every panel, whatever its legend's width
set lmargin at screen 0.07
set rmargin at screen 0.67
set ytics nomirror
set border 3
set multiplot layout nblk, 1 title "pmlua against what a Lua programmer would pick instead (make bench)\n" . machine noenhanced
do for [b = 0:nblk - 1] {
    set title (b == 0 ? t0 : t1) noenhanced
    plot for [i = 2:ncol] dat index b using i:xtic(1) title columnheader(i) lc rgb word(cols, i - 1)
}
unset multiplot
