"""Reads an AM-schema Parquet export with pyarrow (what Hugging Face `datasets` uses) and compares it field by field
with the JSONL export of the same run. Run where pyarrow is installed (not on the development machines):

    amdistill export --run R --policy all --output all.parquet
    amdistill export --run R --policy all --output all.jsonl
    python3 tests/parquet-pyarrow/check.py all.parquet all.jsonl
"""
import sys
import json
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
print("rows", t.num_rows, "row_groups", pq.ParquetFile(sys.argv[1]).num_row_groups)
print("schema", [(f.name, str(f.type)) for f in t.schema])
rows = t.to_pylist()
lines = [json.loads(l) for l in open(sys.argv[2])]
assert len(rows) == len(lines), (len(rows), len(lines))
mismatch = 0
for r, l in zip(rows, lines):
    for k, v in l.items():
        a = r[k]
        if isinstance(v, float) and a is not None:
            ok = abs(a - v) < 1e-6
        else:
            ok = a == v
        if not ok:
            mismatch += 1
            if mismatch < 5: print("mismatch", k, repr(a)[:80], repr(v)[:80])
print("field mismatches", mismatch)
import pandas
df = t.to_pandas()
print(df[["category", "answer_source", "pass_rate_r1", "pass_rate_7b", "pass_rate_1.5b", "verify_score", "cv", "difficulty"]].head(3).to_string())
print("ppl nulls", int(df["ppl"].isna().sum()))
