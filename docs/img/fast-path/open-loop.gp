set terminal pngcairo size 1100,500 font "sans,10" noenhanced
set output "docs/img/fast-path-open-loop.png"
set multiplot layout 1,2 title "Open loop, 1 producer -> 1 worker, 64 B, none; taskring with daemon defaults vs Boost message_queue (2026-11-30, 2 vCPUs, 1 s per point)"
set logscale y
set xlabel "achieved jobs/s"
set ylabel "end-to-end latency (us)"
set key below horizontal
set grid
set title "p50"
plot "docs/img/fast-path/taskring-quiet.dat" u 1:2 w lp lw 2 pt 7 lc rgb "#1f77b4" t "taskring, quiet", \
     "docs/img/fast-path/boost-quiet.dat" u 1:2 w lp lw 2 pt 5 lc rgb "#ff7f0e" t "Boost, quiet", \
     "docs/img/fast-path/taskring-contended.dat" u 1:2 w lp lw 2 pt 6 dt 2 lc rgb "#1f77b4" t "taskring, busy loop per core", \
     "docs/img/fast-path/boost-contended.dat" u 1:2 w lp lw 2 pt 4 dt 2 lc rgb "#ff7f0e" t "Boost, busy loop per core"
set title "p99"
plot "docs/img/fast-path/taskring-quiet.dat" u 1:3 w lp lw 2 pt 7 lc rgb "#1f77b4" t "taskring, quiet", \
     "docs/img/fast-path/boost-quiet.dat" u 1:3 w lp lw 2 pt 5 lc rgb "#ff7f0e" t "Boost, quiet", \
     "docs/img/fast-path/taskring-contended.dat" u 1:3 w lp lw 2 pt 6 dt 2 lc rgb "#1f77b4" t "taskring, busy loop per core", \
     "docs/img/fast-path/boost-contended.dat" u 1:3 w lp lw 2 pt 4 dt 2 lc rgb "#ff7f0e" t "Boost, busy loop per core"
unset multiplot
