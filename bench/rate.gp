# Answered rate against offered rate, one line per server.
# gnuplot -e 'datafile="bench/out/rate.dat"; outfile="bench/out/rate.png"; n=5' bench/rate.gp
# rate.dat: one block per server (two blank lines between blocks), the
# first line of each block its quoted title, then "offered answered" pairs.
if (!exists("datafile")) datafile = "bench/out/rate.dat"
if (!exists("outfile")) outfile = "bench/out/rate.png"
if (!exists("n")) n = 5
set terminal pngcairo size 900,600 font ",11"
set output outfile
set title "Answered against offered NTP requests (QEMU TCG guest, one serving vCPU)"
set xlabel "offered requests/s (as achieved by the generator)"
set ylabel "answered requests/s (dropped, for the floor)"
set key top left
set grid
set xrange [0:*]
set yrange [0:*]
set format x "%.0s%c"
set format y "%.0s%c"
plot x title "offered = answered" with lines dashtype 2 linecolor rgb "gray", \
     for [i=0:n-1] datafile index i using 1:2 with linespoints pointsize 1.2 title columnheader(1)
