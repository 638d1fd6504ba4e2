"""Measures the reference figures the results tables compare against, on this machine, and
records them in reference.csv beside this script with the machine and the date.

    python3 results/reference/measure.py numpy          # numpy sgemm/dgemm 2048 (needs numpy)
    python3 results/reference/measure.py torchidl       # torchidl and PyTorch (needs torch, torchidl;
                                                        # runs ../shared/bench/torchidl_bench.py)
    python3 results/reference/measure.py scaling        # torchidl's cost growth, the grid of
                                                        # scaling-bench (needs torch, torchidl)
    python3 results/reference/measure.py scaling --quick  # a small grid, to test the setup
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


def fashion_mnist():
    import gzip
    import numpy as np, torch
    root = "/usr/share/datasets/fashion-mnist/"
    def load(name):
        with gzip.open(root + name) as f:
            data = f.read()
        if data[2:4] == b"\x08\x03":
            n, r, c = np.frombuffer(data[4:16], ">i4")
            return np.frombuffer(data[16:], np.uint8).reshape(n, r * c)
        return np.frombuffer(data[8:], np.uint8)
    x = torch.tensor(load("train-images-idx3-ubyte.gz"), dtype=torch.float32) / 255.0
    y = torch.tensor(load("train-labels-idx1-ubyte.gz").astype(np.int64))
    return x, y


def scaling_rows(quick):
    """torchidl on the grid of `scaling-bench`: ImplicitModel training-step time against the hidden
    size n and the batch (FashionMNIST scaled to [-1, 1], Adam 5e-3, 3 untimed steps, then the
    mean of `steps`), and SIM fit time against the samples (the teacher and the solvers of
    ../shared/bench/torchidl_bench.py: least squares, and ADMM 150 + 60 epochs, λ 1, ρ 1)."""
    import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
    from torchidl import ImplicitModel, SIM
    from torchidl.sim.solvers import LeastSquareSolver, ADMMSolver
    hidden = [50, 100] if quick else [50, 100, 200, 400, 800, 1600]
    batches = [32] if quick else [32, 64, 256]
    samples = [500] if quick else [500, 1000, 2000, 4000, 8000]
    steps = 10 if quick else 50
    torch.set_num_threads(os.cpu_count())
    x, y = fashion_mnist()
    xs = (x - 0.5) / 0.5
    rows = []
    for batch in batches:
        for n in hidden:
            torch.manual_seed(0)
            model = ImplicitModel(input_dim=784, output_dim=10, hidden_dim=n)
            opt = torch.optim.Adam(model.parameters(), lr=5e-3)
            perm = torch.randperm(len(xs))
            def step(s):
                b = perm[(s * batch) % (len(xs) - batch):][:batch]
                loss = F.cross_entropy(model(xs[b]), y[b])
                opt.zero_grad(); loss.backward(); opt.step()
            for s in range(3):
                step(s)
            t = time.perf_counter()
            for s in range(3, 3 + steps):
                step(s)
            ms = 1000 * (time.perf_counter() - t) / steps
            rows.append([f"ImplicitModel n={n}, batch {batch} (ms/step)", "torchidl", f"{ms:.3f}", "ms/step"])
            print(rows[-1], flush=True)
    class Teacher(nn.Module):
        # torchidl's SIM reads the layers of `linear_relu_stack`, as in torchidl_bench.py.
        def __init__(self):
            super().__init__()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(784, 64, bias=False), nn.ReLU(), nn.Linear(64, 32, bias=False), nn.ReLU(),
                nn.Linear(32, 16, bias=False), nn.ReLU(), nn.Linear(16, 10, bias=False))
        def forward(self, inputs):
            return self.linear_relu_stack(inputs.flatten(1))
    torch.manual_seed(0)
    teacher = Teacher()
    opt = torch.optim.Adam(teacher.parameters(), lr=0.01)
    for epoch in range(1 if quick else 5):
        perm = torch.randperm(len(x))
        for s in range(0, len(x), 128):
            b = perm[s:s + 128]
            loss = F.cross_entropy(teacher(x[b]), y[b], reduction="sum")
            opt.zero_grad(); loss.backward(); opt.step()
    class Data(torch.utils.data.Dataset):
        def __init__(self, inputs, labels): self.data, self.targets = inputs, labels
        def __len__(self): return len(self.data)
        def __getitem__(self, i): return self.data[i], self.targets[i]
    for m in samples:
        pick = torch.randperm(len(x))[:m]
        loader = torch.utils.data.DataLoader(Data(x[pick], y[pick]), batch_size=1000)
        for name, solver in [("lstsq", LeastSquareSolver()),
                             ("admm", ADMMSolver(num_epoch_ab=150, num_epoch_cd=60, lambda_y=1.0, lambda_z=1.0,
                                                 rho_ab=1.0, rho_cd=1.0, batch_feature_size=120))]:
            sim = SIM(activation_fn=F.relu, device="cpu")
            t = time.perf_counter()
            sim.train(solver=solver, model=teacher, dataloader=loader)
            seconds = time.perf_counter() - t
            label = f"{m:,}".replace(",", " ")
            rows.append([f"SIM fit, {label} samples ({name})", "torchidl", f"{seconds:.2f}", "s"])
            print(rows[-1], flush=True)
    return rows


def main():
    args = sys.argv[1:]
    note = ""
    if "--note" in args:
        i = args.index("--note")
        note = args[i + 1]
        del args[i : i + 2]
    quick = "--quick" in args
    args = [a for a in args if a != "--quick"]
    if not args or any(a not in ("numpy", "torchidl", "scaling") for a in args):
        sys.exit(__doc__)
    if quick:
        note = (note + "; " if note else "") + "quick grid (--quick): a test of the setup"
    new = []
    for what in args:
        if what == "numpy":
            new += numpy_rows()
        elif what == "torchidl":
            new += torchidl_rows()
        else:
            new += scaling_rows(quick)
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
