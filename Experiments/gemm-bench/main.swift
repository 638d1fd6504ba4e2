// GEMM throughput of the Matrix type (OpenBLAS through CBLAS) in Float and Double at three
// sizes, beside numpy's on the same machine in the same run when python3 with numpy is present.
//
//     swift run -c release gemm-bench [--repeats 7]
//
// Each figure is the median of `repeats` timed products after one warm-up.
import Foundation
import IDL

let repeats: Int = {
    if let i = CommandLine.arguments.firstIndex(of: "--repeats"), i + 1 < CommandLine.arguments.count,
        let r = Int(CommandLine.arguments[i + 1]), r > 0
    {
        return r
    }
    return 7
}()
let sizes = [256, 1024, 2048]
/// The environment as the user started us: the library may set OPENBLAS_CORETYPE for itself
/// when it opens OpenBLAS, and numpy must not inherit that choice.
let originalEnvironment = ProcessInfo.processInfo.environment

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func gflops<T: BLASScalar>(_: T.Type, n: Int) -> Double {
    var g = SeededGenerator(seed: UInt64(n))
    let a = Matrix<T>.randomNormal(n, n, using: &g)
    let b = Matrix<T>.randomNormal(n, n, using: &g)
    var c = Matrix<T>(rows: n, cols: n)
    gemm(a, b, into: &c)  // warm-up
    var times = [Double]()
    let inner = max(1, 2048 * 2048 * 2048 / (n * n * n) / 4)
    for _ in 0..<repeats {
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<inner { gemm(a, b, into: &c) }
        let t1 = DispatchTime.now().uptimeNanoseconds
        times.append(Double(t1 - t0) / 1e9 / Double(inner))
    }
    return 2 * Double(n) * Double(n) * Double(n) / median(times) / 1e9
}

/// numpy's figures for the same sizes, or nil when python3/numpy is missing.
func numpyFigures() -> [String: Double]? {
    let script = """
        import sys, time, json
        try:
            import numpy as np
        except ImportError:
            sys.exit(3)
        out = {}
        for dt in ("float32", "float64"):
            for n in \(sizes):
                rng = np.random.default_rng(n)
                a = rng.standard_normal((n, n)).astype(dt); b = rng.standard_normal((n, n)).astype(dt)
                a @ b
                inner = max(1, 2048**3 // n**3 // 4)
                ts = []
                for _ in range(\(repeats)):
                    t0 = time.perf_counter()
                    for _ in range(inner): a @ b
                    ts.append((time.perf_counter() - t0) / inner)
                ts.sort()
                out[f"{dt}-{n}"] = 2 * n**3 / ts[len(ts) // 2] / 1e9
        print(json.dumps(out))
        """
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script]
    p.environment = originalEnvironment
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0,
        let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Double]
    else { return nil }
    return obj
}

let machine = RunManifest.current()
print("GEMM throughput, median of \(repeats) runs on \(machine.cpuModel) (\(machine.cpuVendor)), \(blasConfiguration)")
print("thread policy: \(ThreadPolicy.description)")
var ours = [String: Double]()
for (name, f) in [("float32", { gflops(Float.self, n: $0) }), ("float64", { gflops(Double.self, n: $0) })]
    as [(String, (Int) -> Double)]
{
    for n in sizes { ours["\(name)-\(n)"] = f(n) }
}
let numpy = numpyFigures()
print("dtype     n      Swift GFLOP/s   numpy GFLOP/s   ratio")
for name in ["float32", "float64"] {
    for n in sizes {
        let key = "\(name)-\(n)"
        let s = ours[key]!
        var line = "\(name)  \(String(n).padding(toLength: 5, withPad: " ", startingAt: 0))  "
        line += formatFixed(s, decimals: 1).padding(toLength: 14, withPad: " ", startingAt: 0)
        if let np = numpy?[key] {
            line += "  " + formatFixed(np, decimals: 1).padding(toLength: 14, withPad: " ", startingAt: 0)
            line += "  " + formatFixed(s / np, decimals: 2)
        } else {
            line += "  (numpy not available)"
        }
        print(line)
    }
}
