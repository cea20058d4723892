# confirm-profile.awk — the confirm path's share of a `perf record
# --call-graph dwarf` of the broker, from `perf script -F ip,sym,dso`.
#
# A sample is on the confirm path when a frame of its stack is one of the
# functions in `re` (the phone's confirm, and the `login` it ends in).
# Prints, for those samples: the count, then per function its self time
# (leaf frame) and its inclusive time (anywhere on the stack; only the
# broker's own functions, without the loop's outermost frames), each as a
# share of ALL the broker's samples.
#   perf script -i X.perf -F ip,sym,dso | awk -v re='a|b' -f confirm-profile.awk
function flush(    i, hit, seen) {
    total++
    hit = 0
    for (i = 1; i <= n; i++)
        if (sym[i] ~ ("^(" re ")$"))
            hit = 1
    if (hit) {
        on++
        self[sym[1]]++
        split("", seen)
        for (i = 1; i <= n; i++)
            if (dso[i] ~ /qrlogin-broker/ && !(sym[i] in seen) && sym[i] !~ outer) {
                seen[sym[i]] = 1
                incl[sym[i]]++
            }
    }
    n = 0
}
BEGIN { outer = "^(_start|main|serve_process|server_run|event_loop_service)$" }
/^[[:space:]]*$/ { if (n) flush(); next }
{
    s = $2
    d = $NF
    if (s == "" || s ~ /^\[unknown\]/ || s ~ /^\(/) s = $1
    sub(/\+0x[0-9a-f]+$/, "", s)
    sym[++n] = s
    dso[n] = d
}
END {
    if (n) flush()
    if (!total) { print "(perf recorded no samples)"; exit }
    printf "%d of the broker's %d samples (%.2f %%) were on the confirm path.\n\n", on, total, on * 100 / total
    print "self time (the function the sample was in):"
    for (k in self) printf "%7.2f%%  %s\n", self[k] * 100 / total, k | "sort -rn | head -20"
    close("sort -rn | head -20")
    print "\ninclusive time, the broker's functions (the sample was in it or below it):"
    for (k in incl) printf "%7.2f%%  %s\n", incl[k] * 100 / total, k | "sort -rn | head -20"
    close("sort -rn | head -20")
}
