# summary.awk — the funnel table: for each session, the furthest stage it
# reached (a match reached checkout; a timed-out partial match reached cart
# when its "cart" list is not empty, else view), then sessions per stage.
# Usage: awk -f summary.awk reached.jsonl dropped.jsonl
# (reached: the matches of funnel.cep; dropped: its --timeouts output)
{
    if (!match($0, /"key":"[^"]*"/))
        next
    key = substr($0, RSTART + 7, RLENGTH - 8)
    if ($0 ~ /"timeout":true/)
        stage = ($0 ~ /"cart":\[\]/) ? 1 : 2
    else
        stage = 3
    if (stage > best[key])
        best[key] = stage
}
END {
    name[1] = "view"; name[2] = "cart"; name[3] = "checkout"
    for (k in best)
        ended[best[k]]++
    # Sessions that reached stage s = those that ended at s or later.
    for (s = 3; s >= 1; s--)
        reached[s] = reached[s + 1] + ended[s]
    printf "%-10s %8s %9s %13s\n", "stage", "sessions", "of views", "stopped here"
    for (s = 1; s <= 3; s++)
        printf "%-10s %8d %8.1f%% %13s\n", name[s], reached[s],
            reached[1] ? 100 * reached[s] / reached[1] : 0,
            s < 3 ? ended[s] + 0 : "-"
}
