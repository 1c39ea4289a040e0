# W1 chart: queries/s by queries in flight, one line per client.
# gnuplot -e "datafile='w1.dat'; outfile='w1.png'; subtitle='...'" chart.gp
# The data file (amy_bench --data DIR) holds one block per series, its first
# line the series title, then: in_flight median min max.
if (!exists("subtitle")) subtitle = ""
set terminal pngcairo size 900,560 font "DejaVu Sans,11" noenhanced
set output outfile
set title "W1: 20,000 point selects, gathered — queries/s (median, bars min–max)\n" . subtitle
set xlabel "queries in flight (blocking: 1; threads: K; amysql: pool × pipeline)"
set ylabel "queries/s"
set logscale x 2
set xrange [0.7:3000]
set yrange [0:*]
set grid ytics xtics
set key inside right bottom box opaque
set format x "%g"
set style line 1 lc rgb "#000000" pt 6 ps 2.6 lw 2
set style line 2 lc rgb "#d62728" pt 5 ps 1.2 lw 2
set style line 3 lc rgb "#9ecae1" pt 9 ps 1.2 lw 2
set style line 4 lc rgb "#3182bd" pt 9 ps 1.2 lw 2
set style line 5 lc rgb "#08306b" pt 9 ps 1.2 lw 2
set style line 6 lc rgb "#2ca02c" pt 13 ps 1.8 lw 2
plot for [i=0:5] datafile index i using 1:2:3:4 with yerrorlines ls (i+1) title columnheader(1)
