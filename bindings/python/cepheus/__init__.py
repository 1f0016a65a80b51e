"""cepheus — complex event processing (Flink-CEP-like patterns) from Python.

The Python face of the Cepheus C library: compile pattern text into a
Program, run it with an Engine over dict events, get Match objects back.
The work happens in the C extension ``cepheus._cepheus``; this file adds
what is easier in Python (compile_file, the optional pandas helpers).

    import cepheus
    prog = cepheus.compile_file("click_to_purchase.cep")
    eng = cepheus.Engine(prog, max_delay=5000)
    for m in eng.push_many(events) + eng.finish():
        print(m.pattern, m.key, m.fields)
"""
import math
import os

from ._cepheus import (  # noqa: F401  (re-exported)
    CHUNK,
    Diagnostic,
    Match,
    PatternError,
    Program,
    compile,
    library_version,
    parse_time,
)
from ._cepheus import Engine as _Engine

__all__ = [
    "compile", "compile_file", "Program", "Engine", "Match", "PatternError",
    "Diagnostic", "parse_time", "matches_frame",
]
__version__ = library_version


_MAX_PATTERN_BYTES = 2 << 20  # CEP_MAX_PATTERN_BYTES in cepheus.h


def compile_file(path, name=None):
    """Compile the pattern file at path; errors name the file as given."""
    # Read no more than the compiler takes (2 MiB) plus one byte, so that
    # /dev/zero or a huge file fails fast with the limit's error.
    with open(path, "rb") as f:
        text = f.read(_MAX_PATTERN_BYTES + 1)
    return compile(text, name=os.fsdecode(path) if name is None else name)


class Engine(_Engine):
    """Engine(program, max_delay=0, time_field="ts", on_match=None,
    on_late=None, *, on_timeout=None, timeouts=False)

    Runs a Program over events (dicts). push / push_many / advance_watermark /
    finish return the list of matches they completed (empty when on_match
    is given: the callback receives them instead). Late events go to
    on_late, or accumulate in ``engine.late``; timed-out partial matches go
    to on_timeout, or accumulate in ``engine.timeouts`` when timeouts=True.
    ``with Engine(...) as e:`` closes (frees) the engine at the end; it does
    not call finish().
    """

    __slots__ = ()

    def push_frame(self, df):
        """Push the rows of a pandas DataFrame, in order; returns the matches.

        Each row becomes a dict of its columns. Missing values (NaN, None,
        NaT) become null; a datetime64 time column becomes epoch ms.
        """
        return self.push_many(_frame_records(df, self.time_field))


def _frame_records(df, time_field):
    import pandas as pd  # only when used: pandas is optional

    df = df.copy(deep=False)
    if time_field in df.columns:
        col = df[time_field]
        if pd.api.types.is_datetime64_any_dtype(col):
            if getattr(col.dt, "tz", None) is not None:
                col = col.dt.tz_convert("UTC").dt.tz_localize(None)
            df[time_field] = col.astype("datetime64[ns]").astype("int64") // 1_000_000
    # to_dict("records") gives native Python scalars; NaN means missing.
    records = df.to_dict("records")
    for r in records:
        for k, v in r.items():
            if v is None:
                continue
            if (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
                r[k] = None
    return records


def matches_frame(matches):
    """Matches as a pandas DataFrame: pattern, key, start, end, then one
    column per emit field (union over the matches, first-seen order)."""
    import pandas as pd

    fields = []
    seen = set()
    for m in matches:
        for f in m.fields:
            if f not in seen:
                seen.add(f)
                fields.append(f)
    base = ["pattern", "key", "start", "end"]
    cols = base + [f if f not in base else "fields." + f for f in fields]
    rows = [
        [m.pattern, m.key, m.start, m.end] + [m.fields.get(f) for f in fields]
        for m in matches
    ]
    return pd.DataFrame(rows, columns=cols)
