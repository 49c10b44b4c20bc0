"""Cell formatting shared by the report's tables (bench/report.py, bench/report_chat.py)."""

SERVERS = [("ours", "Switchboard, daphne"), ("uvicorn", "Switchboard, uvicorn + uvloop"),
           ("baseline", "Channels tutorial (daphne, RedisChannelLayer)"),
           ("reference", "`websockets` broadcast (reference)")]


def _num(v, digits=0):
    if v is None:
        return "—"
    if isinstance(v, float) and digits:
        return f"{v:,.{digits}f}"
    return f"{round(v):,}" if isinstance(v, (int, float)) else str(v)


def _ok(row):
    return row is not None and not row.get("error")


def _deliv(row):
    """deliveries/s with a mark when not everything arrived in the window."""
    if not _ok(row):
        return _err(row)
    s = _num(row.get("deliveries_per_s"))
    lost = row.get("lost") or 0
    if lost > 0:
        s += f" ({lost / row['expected']:.0%} not delivered, drain: {row.get('drain')})"
    return s


def _err(row):
    return "—" if row is None else f"error: {str(row.get('error'))[:60]}"


def _lat(row):
    if not _ok(row):
        return _err(row)
    s = f"{_num(row.get('p50_ms'), 1)} / {_num(row.get('p99_ms'), 1)}"
    lost = row.get("lost") or 0
    if lost > 0:
        s += f" ({lost / row['expected']:.0%} late/lost)"
    return s


def _ratio(a, b, higher_better=True):
    if a is None or b is None or not a or not b:
        return "—"
    r = a / b if higher_better else b / a
    return f"{r:.2f}×"
