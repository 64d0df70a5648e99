#!/usr/bin/env python3
"""Independent reader of polyedge's Parquet tables (pyarrow), used by crates/tables/tests/parquet.rs.

Usage: check_parquet.py SPEC.json

SPEC = {"dir": "<tables dir>", "tables": {"<table>": {
    "rows": N,                                  # exact row count over all files of the table
    "files": N,                                 # optional: number of .parquet files
    "types": {"col": "int64", ...},             # optional: Arrow type names
    "sums": {"col": S, ...},                    # optional: exact integer sums (nulls ignored)
    "distinct": {"a,b,c": K, ...},              # optional: number of distinct tuples
    "count_where": [[{"col": v, ...}, K], ...], # optional: rows matching all equalities
    "rows_eq": [{"where": {...}, "expect": {...}}, ...]  # each `where` matches exactly one row
}}}
Decimal columns are compared as strings (e.g. "79696.948170000000000000").
Prints every mismatch and exits 1 if there is any; prints "parquet check: N passed, 0 failed".
"""
import json
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds


def load(path):
    return ds.dataset(path, format="parquet").to_table()


def norm(v):
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    return str(v)  # Decimal


def matches(table, where):
    mask = None
    for col, val in where.items():
        m = pc.is_null(table[col]) if val is None else pc.equal(table[col], pa.scalar(val, table.schema.field(col).type))
        m = pc.fill_null(m, False)
        mask = m if mask is None else pc.and_(mask, m)
    return table.filter(mask) if mask is not None else table


def main():
    spec = json.load(open(sys.argv[1]))
    failures, passed = [], 0

    def check(ok, msg):
        nonlocal passed
        if ok:
            passed += 1
        else:
            failures.append(msg)

    for name, exp in spec["tables"].items():
        path = f'{spec["dir"]}/{name}'
        t = load(path)
        if "rows" in exp:
            check(t.num_rows == exp["rows"], f"{name}: {t.num_rows} rows, expected {exp['rows']}")
        if "files" in exp:
            n = len(ds.dataset(path, format="parquet").files)
            check(n == exp["files"], f"{name}: {n} files, expected {exp['files']}")
        for col, ty in exp.get("types", {}).items():
            got = str(t.schema.field(col).type)
            check(got == ty, f"{name}.{col}: type {got}, expected {ty}")
        for col, s in exp.get("sums", {}).items():
            got = pc.sum(t[col]).as_py() or 0
            check(got == s, f"{name}: sum({col}) = {got}, expected {s}")
        for cols, k in exp.get("distinct", {}).items():
            keys = cols.split(",")
            got = t.group_by(keys).aggregate([]).num_rows
            check(got == k, f"{name}: {got} distinct ({cols}), expected {k}")
        for where, k in exp.get("count_where", []):
            got = matches(t, where).num_rows
            check(got == k, f"{name}: {got} rows where {where}, expected {k}")
        for case in exp.get("rows_eq", []):
            sel = matches(t, case["where"])
            if sel.num_rows != 1:
                check(False, f"{name}: {sel.num_rows} rows where {case['where']}, expected 1")
                continue
            row = {k: norm(v[0]) for k, v in sel.to_pydict().items()}
            for col, val in case["expect"].items():
                check(row[col] == val, f"{name} {case['where']}: {col} = {row[col]!r}, expected {val!r}")
    for f in failures:
        print("MISMATCH:", f)
    print(f"parquet check: {passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
