// Loading speed of the FashionMNIST reader: gzip decompression (zlib), IDX parsing and the
// conversion of pixel bytes to a Float matrix scaled to [0, 1], one image per column.
// Prints the median of 5 loads of each split and, if python3 with numpy is available, the
// median time of the usual Python way (gzip.open + numpy.frombuffer + astype/255) beside it.
//
//   swift run -c release data-bench [directory]
import Foundation
import IDL

let directory =
    CommandLine.arguments.count > 1
    ? URL(fileURLWithPath: CommandLine.arguments[1]) : FashionMNIST.defaultDirectory

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func ms(_ s: Double) -> String { formatFixed(s * 1000, decimals: 1) + " ms" }

print("FashionMNIST load time (median of 5) from \(directory.path)")
var swiftTimes: [DataSplit: Double] = [:]
do {
    for split in DataSplit.allCases {
        var times: [Double] = []
        var shape = ""
        for _ in 0..<5 {
            times.append(
                try seconds {
                    let d = try FashionMNIST.load(split, from: directory, as: Float.self)
                    shape = "\(d.inputs.shapeDescription), \(d.count) labels"
                })
        }
        swiftTimes[split] = median(times)
        print(
            "  Swift  \(split.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)): \(ms(median(times)))  (\(shape))"
        )
    }
} catch {
    print("cannot load FashionMNIST: \(error)")
    exit(1)
}

// The Python reference, timed inside Python so interpreter start-up is not counted.
let script = """
    import gzip, time, sys, os
    import numpy as np
    d = sys.argv[1]
    for split, prefix in (("train", "train"), ("test", "t10k")):
        ts = []
        for _ in range(5):
            t = time.perf_counter()
            with gzip.open(os.path.join(d, prefix + "-images-idx3-ubyte.gz"), "rb") as f:
                x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255
            with gzip.open(os.path.join(d, prefix + "-labels-idx1-ubyte.gz"), "rb") as f:
                y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
            ts.append(time.perf_counter() - t)
        ts.sort()
        print(split, ts[len(ts) // 2], x.shape[0], y.shape[0])
    """
let process = Process()
process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
process.arguments = ["python3", "-c", script, directory.path]
let pipe = Pipe()
process.standardOutput = pipe
process.standardError = Pipe()
do {
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw IDLError.io("python3 exited with status \(process.terminationStatus)")
    }
    for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
        let parts = line.split(separator: " ")
        guard parts.count >= 2, let t = Double(parts[1]), let split = DataSplit(rawValue: String(parts[0])) else {
            continue
        }
        let ratio = t / (swiftTimes[split] ?? .nan)
        print(
            "  Python \(split.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)): \(ms(t))  (gzip + numpy; Swift is \(formatFixed(ratio, decimals: 2))× as fast)"
        )
    }
} catch {
    print("  Python comparison skipped (python3 with numpy not available: \(error))")
}
