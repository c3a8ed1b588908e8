#!/usr/bin/env bash
# Ansatz comparison (3 ansätze × 3 seeds) with the seed's Table 1 defaults on the real CLIC-8 data.
# Usage: benchmarks/ansatz_table.sh [DATA_DIR] [OUT_DIR] [extra `qcalo train qag` flags...]
set -euo pipefail
data=${1:-../shared/data/clic8}; out=${2:-runs/ansatz-table}; shift 2 || true
for ansatz in clic8 mera-up hea; do
  for seed in 0 1 2; do
    run="$out/$ansatz-s$seed"
    .venv/bin/qcalo train qag --out "$run" --data "$data" --ansatz "$ansatz" --seed "$seed" --overwrite --quiet "$@" >/dev/null
    .venv/bin/qcalo evaluate "$run" --data "$data" --no-figures --json >/dev/null
  done
done
.venv/bin/python - "$out" <<'PY'
import json, sys, pathlib, statistics as st
rows = {}
for f in sorted(pathlib.Path(sys.argv[1]).glob("*/summary.json")):
    s = json.loads(f.read_text()); rows.setdefault(s["ansatz"], []).append(s)
print(f"{'ansatz':8} {'params':>6} {'val MMD':>18} {'test MMD':>18} {'floor':>9} {'ratio':>6} {'corr loss':>10} {'train s':>8}")
for name, runs in rows.items():
    m = lambda k: (st.mean(r[k] for r in runs), st.pstdev(r[k] for r in runs))
    (v, vs), (t, ts), (fl, _), (ra, _), (c, _), (sec, _) = (m(k) for k in ("val_mmd_mean", "test_mmd_mean", "real_mmd_floor_mean", "mmd_ratio_to_floor", "corr_loss", "train_seconds"))
    print(f"{name:8} {runs[0]['n_params']:6d} {v:9.2e} ± {vs:6.1e} {t:9.2e} ± {ts:6.1e} {fl:9.2e} {ra:6.1f} {c:10.3f} {sec:8.1f}")
PY
