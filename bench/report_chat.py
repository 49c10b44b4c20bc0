"""The chat and scale-out tables of the generated block (bench/report.py)."""
from bench.report_cells import SERVERS, _deliv, _err, _lat, _num, _ok, _ratio

CHAT_SERVERS = [("ours", "Switchboard, daphne"), ("uvicorn", "Switchboard, uvicorn"),
                ("scale-chat-2proc", "Switchboard, 2 daphnes, one Redis"),
                ("reference", "`websockets` reference (stores nothing)"),
                ("baseline", "Channels tutorial (stores nothing)")]


def _share(row, key):
    v = row.get(key)
    return "—" if v is None else f"{min(v, 1.0):.0%}" if v < 1 else "all"


def _checks(row):
    """Zero loss, order and gap-free seq, each send answered once: 'ok' or what failed."""
    bad = [f"{_num(row.get(k))} {label}" for k, label in
           (("lost", "not delivered"), ("out_of_order", "out of order"), ("seq_gaps", "seq gaps"),
            ("unanswered", "unanswered"), ("answered_twice", "answered twice")) if row.get(k)]
    return "ok" if not bad else ", ".join(bad)


def chat(by):
    """The leading tables: what people do (issue 18)."""
    lines = ["**Chat: 100 public rooms × 10 people** (`*-chat-rooms-RATE`: per room 9 listening "
             "sockets and 1 sending `chat.send` on a fixed schedule, all rooms together RATE "
             "messages/s for 5 s; p50/p99 from send to delivery at the listeners; stored/s = "
             "sends answered while sending, per second; then at most 5 s of drain):", "",
             "| server | messages/s offered | stored/s | p50 / p99 ms | delivered during the run | "
             "after the drain | loss / order / seq / answers | refused |",
             "|---|---|---|---|---|---|---|---|"]
    for prefix, label in CHAT_SERVERS:
        for rate in (100, 200, 500, 1000):
            row = by.get(f"{prefix}-chat-rooms-{rate}")
            if row is None:
                continue
            if not _ok(row):
                lines.append(f"| {label} | {rate} | {_err(row)} | | | | | |")
                continue
            refused = ", ".join(f"{k} {v}" for k, v in (row.get("server_errors") or {}).items())
            lines.append(
                f"| {label} | {rate} | {_num(row.get('stored_per_s'))} | "
                f"{_num(row.get('p50_ms'), 1)} / {_num(row.get('p99_ms'), 1)} | "
                f"{_share(row, 'delivered_in_run_share')} | {_share(row, 'delivered_share')} | "
                f"{_checks(row)} | {refused or '—'} |")
    lines += ["", "**Chat: one room of 1,000 listeners** (`*-chat-1000x1` / `*-chat-1000x10`: 1 or "
              "10 senders, each keeping 20 `chat.send` in flight, a new one as soon as one is "
              "answered — on ours by its reply, elsewhere by its echo — for 5 s; ours with the "
              "per-socket rate limit raised by `REALTIME_RATE_PER_SECOND`/`REALTIME_RATE_BURST`; "
              "`*-chat-latency-1000x1`: one `chat.send` a second, the tutorial's and reference's "
              "`latency-1000x1` sent the same way by a client):", "",
              "| server | deliveries/s, 1 sender | sends/s, 1 sender | deliveries/s, 10 senders | "
              "p50 / p99 ms, 1,000 × 1 msg/s |", "|---|---|---|---|---|"]
    for prefix, label in SERVERS:
        one, ten = by.get(f"{prefix}-chat-1000x1"), by.get(f"{prefix}-chat-1000x10")
        lat = by.get(f"{prefix}-chat-latency-1000x1") or \
            (by.get(f"{prefix}-latency-1000x1") if prefix in ("baseline", "reference") else None)
        lines.append(f"| {label} | {'—' if one is None else _deliv(one)} | "
                     f"{_num(one.get('publish_rate')) if _ok(one) else '—'} | "
                     f"{'—' if ten is None else _deliv(ten)} | {'—' if lat is None else _lat(lat)} |")

    def val(run_id, key):
        row = by.get(run_id)
        return row.get(key) if _ok(row) else None

    lines += ["", "| chat ratio (> 1 is better for Switchboard) | daphne | uvicorn |", "|---|---|---|"]
    for label, ours_id, other_id, key, hb in (
            ("1 sender into 1,000: ÷ tutorial (target ≥ 20×)", "chat-1000x1", "baseline-chat-1000x1",
             "deliveries_per_s", True),
            ("1 sender into 1,000: ÷ reference (target ≥ 0.5×)", "chat-1000x1",
             "reference-chat-1000x1", "deliveries_per_s", True),
            ("10 senders into 1,000: ÷ reference", "chat-1000x10", "reference-chat-1000x10",
             "deliveries_per_s", True),
            ("p99 at 1,000 × 1 msg/s: reference ÷ ours (target ≥ 0.67, i.e. within 1.5×)",
             "chat-latency-1000x1", "reference-latency-1000x1", "p99_ms", False)):
        cells = [_ratio(val(f"{p}-{ours_id}", key), val(other_id, key), hb) for p in ("ours", "uvicorn")]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return lines


def scale(by):
    one, two = by.get("scale-1proc"), by.get("scale-2proc")
    messages = _num((one or {}).get("expected", 0) // max(1, (one or {}).get("clients") or 1000))
    lines = [f"Scale-out (fan-out to 1,000 subscribers, {messages} messages; server process(es) "
             "pinned to CPU 0 with `taskset -c 0`, load generator and publisher to CPU 1):", ""]
    if not (_ok(one) and _ok(two)):
        return lines + [f"not measured: {_err(one)} / {_err(two)}"]

    def per_cpu(r):  # deliveries per server CPU-second
        cpu = (r.get("cpu_pct") or 0) / 100.0
        return r["deliveries_per_s"] / cpu if cpu else None

    e1, e2 = per_cpu(one), per_cpu(two)
    lines += ["| setup | deliveries/s | server CPU % | deliveries per server CPU-second | lost |",
              "|---|---|---|---|---|",
              f"| 1 process | {_num(one['deliveries_per_s'])} | {_num(one.get('cpu_pct'))} | "
              f"{_num(e1)} | {_num(one.get('lost'))} |",
              f"| 2 processes, one Redis | {_num(two['deliveries_per_s'])} | {_num(two.get('cpu_pct'))} | "
              f"{_num(e2)} | {_num(two.get('lost'))} |"]
    cluster = by.get("scale-cluster-2proc")
    if cluster is not None:
        lines.append("| 2 processes, Redis Cluster (3 shards, sharded pub/sub) | "
                     + (f"{_num(cluster['deliveries_per_s'])} | {_num(cluster.get('cpu_pct'))} | "
                        f"{_num(per_cpu(cluster))} | {_num(cluster.get('lost'))} |" if _ok(cluster)
                        else f"{_err(cluster)} | | | |"))
    lines.append("")
    if e1 and e2:
        measured = two["deliveries_per_s"] / one["deliveries_per_s"]
        lines.append(f"Projected two processes on two free cores = 2 × {e2:,.0f} / {e1:,.0f} = "
                     f"**{2 * e2 / e1:.2f}×** one process (both pinned to the same core here, the "
                     f"measured throughput ratio is {measured:.2f}×: "
                     "the two processes share that core, so equal throughput means no extra cost per "
                     "delivery for splitting).")
    return lines
