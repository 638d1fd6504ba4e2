"""Measures the reference figures the results tables compare against, on this machine, and
records them in reference.csv beside this script with the machine and the date.

    python3 results/reference/measure.py numpy          # numpy sgemm/dgemm 2048 (needs numpy)
    python3 results/reference/measure.py torchidl       # torchidl and PyTorch (needs torch, torchidl;
                                                        # runs ../shared/bench/torchidl_bench.py)
    python3 results/reference/measure.py ... --note "under load"

Rows of another machine or date are kept; a row of the same workload, machine and date is
replaced. Run one measurement at a time on an otherwise idle machine, and say so in --note
when it was not idle.
"""
import csv, datetime, json, os, platform, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = os.path.join(HERE, "reference.csv")
COLUMNS = ["workload", "reference", "figure", "unit", "machine", "date", "note"]


def machine():
    model, vendor = "unknown CPU", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown CPU":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("vendor_id") and not vendor:
                    vendor = line.split(":", 1)[1].strip()
    except OSError:
        model = platform.processor() or model
    return f"{model} ({vendor}), {os.cpu_count()} cores" if vendor else f"{model}, {os.cpu_count()} cores"


def numpy_rows():
    import numpy as np
    rows = []
    for dtype, name in [(np.float32, "sgemm"), (np.float64, "dgemm")]:
        n = 2048
        rng = np.random.default_rng(0)
        a = rng.standard_normal((n, n)).astype(dtype)
        b = rng.standard_normal((n, n)).astype(dtype)
        a @ b
        times = []
        for _ in range(5):
            t = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t)
        times.sort()
        rows.append([f"{name} 2048 (GFLOP/s)", f"numpy {np.__version__}", f"{2 * n**3 / times[2] / 1e9:.1f}", "GFLOP/s"])
    return rows


def torchidl_rows():
    bench = os.path.join(HERE, "..", "..", "..", "shared", "bench", "torchidl_bench.py")
    if not os.path.exists(bench):
        sys.exit(f"{bench} not found: run from the repository, with ../shared/bench beside it")
    rows = []
    env = dict(os.environ, OMP_NUM_THREADS=str(os.cpu_count()))
    def run(*arguments):
        out = subprocess.run([sys.executable, bench, *arguments], capture_output=True, text=True, env=env, check=True)
        return json.loads(out.stdout[out.stdout.index("{"):])

    fig = run("implicit", "200")["implicit"]
    rows.append(["ImplicitModel n=100, batch 64, first 200 steps (ms/step)", "torchidl", f"{fig['ms_per_step']:.2f}", "ms/step"])
    fig = run("sim", "150")
    rows.append(["MLP 784-64-32-16-10, batch 128 (s/epoch)", "PyTorch", f"{fig['explicit']['train_s'] / 5:.2f}", "s/epoch"])
    for name in ["lstsq", "admm"]:
        s = fig[f"sim_{name}"]
        rows.append([f"SIM fit, 2 000 samples ({name})", "torchidl", f"{s['train_s']:.1f}", "s"])
        rows.append([f"SIM evaluation of 10 000 images ({name})", "torchidl", f"{s['eval_s']:.1f}", "s"])
        rows.append([f"SIM test accuracy ({name})", "torchidl", f"{100 * s['test_acc']:.1f}", "%"])
    return rows


def main():
    args = sys.argv[1:]
    note = ""
    if "--note" in args:
        i = args.index("--note")
        note = args[i + 1]
        del args[i : i + 2]
    if not args or any(a not in ("numpy", "torchidl") for a in args):
        sys.exit(__doc__)
    new = []
    for what in args:
        new += numpy_rows() if what == "numpy" else torchidl_rows()
    where, today = machine(), datetime.date.today().isoformat()
    new = [r + [where, today, note] for r in new]
    old = []
    if os.path.exists(TABLE):
        with open(TABLE, newline="") as f:
            old = list(csv.reader(f))[1:]
    replaced = {(r[0], r[4], r[5]) for r in new}
    rows = [r for r in old if (r[0], r[4], r[5]) not in replaced] + new
    tmp = TABLE + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(rows)
    os.replace(tmp, TABLE)
    for r in new:
        print(", ".join(r))


if __name__ == "__main__":
    main()
