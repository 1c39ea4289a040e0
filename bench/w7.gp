# W7 chart: open-loop latency by offered load, one panel per percentile.
# gnuplot -e "datafile='w7.dat'; outfile='w7.png'; subtitle='...'" w7.gp
# The data file (amy_bench --data DIR) holds one block per configuration,
# its first line the title, then: load_pct p50 p99 p999 offered (µs,
# medians over rounds).
if (!exists("subtitle")) subtitle = ""
# One y range for the three panels, so that they compare at a glance.
stats datafile using 2 nooutput
lo = STATS_min
stats datafile using 4 nooutput
hi = STATS_max
lo = 10 ** floor(log10(lo > 0 ? lo : 1))
hi = 10 ** ceil(log10(hi > 0 ? hi : 10))
set terminal pngcairo size 1500,560 font "DejaVu Sans,11" noenhanced
set output outfile
set multiplot layout 1,3 title "W7: open-loop point selects, latency from the scheduled arrival (median of rounds), log scale\n" . subtitle
set logscale y 10
set yrange [lo:hi]
set format y "%g"
set xrange [15:85]
set xtics ("25 %%" 25, "50 %%" 50, "75 %%" 75)
set xlabel "offered load (% of the tuned amysql closed-loop peak)"
set grid ytics mytics xtics
set style line 1 lc rgb "#d62728" pt 5 ps 1.3 lw 2
set style line 2 lc rgb "#ff7f0e" pt 13 ps 1.5 lw 2 dt 2
set style line 3 lc rgb "#08306b" pt 9 ps 1.4 lw 2
set style line 4 lc rgb "#2ca02c" pt 7 ps 1.3 lw 2
set ylabel "latency µs"
set title "p50"
set key top left Left reverse samplen 2 width -7 box opaque font ",9"
plot for [i=0:3] datafile index i using 1:2 with linespoints ls (i+1) title columnheader(1)
set title "p99"
set ylabel ""
unset key
plot for [i=0:3] datafile index i using 1:3 with linespoints ls (i+1) title columnheader(1)
set title "p999"
plot for [i=0:3] datafile index i using 1:4 with linespoints ls (i+1) title columnheader(1)
unset multiplot
