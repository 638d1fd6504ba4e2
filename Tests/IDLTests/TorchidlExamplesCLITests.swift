import Foundation
import IDL
import Testing

/// `idl train --dataset cifar10|mnist --log` and `idl rnn`, torchidl's examples/idl and
/// examples/idl_rnn scripts.
@Suite struct TorchidlExamplesCLITests {
    /// CIFAR-10 binary batches of 3 072-pixel records: class 0 dark, class 1 bright.
    func writeSyntheticCIFAR(_ dir: URL) throws {
        var g = SeededGenerator(seed: 9)
        func records(_ count: Int) throws -> Data {
            var pixels = [UInt8]()
            var labels = [[UInt8]]()
            for k in 0..<count {
                let label = k % 2
                labels.append([UInt8(label)])
                for _ in 0..<3072 {
                    pixels.append(UInt8(label == 0 ? g.integer(below: 90) : 165 + g.integer(below: 90)))
                }
            }
            return try CIFAR.encodeRecords(images: pixels, labels: labels)
        }
        for b in 1...5 { try records(12).write(to: dir.appendingPathComponent("data_batch_\(b).bin")) }
        try records(20).write(to: dir.appendingPathComponent("test_batch.bin"))
    }

    @Test func trainOnCIFAR10RecordsWithTheLog() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("cifar-10-batches-bin")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try writeSyntheticCIFAR(data)
        let logDir = dir.appendingPathComponent("log")
        let r = try runTool(
            "idl",
            [
                "train", "--dataset", "cifar10", "--data-dir", data.path, "--epochs", "3", "--hidden-dim", "6",
                "--batch-size", "10", "--log", "--log-dir", logDir.path, "--output",
                dir.appendingPathComponent("m.safetensors").path, "--json",
            ])
        #expect(r.status == 0, "\(r.err)")
        let epochLines = r.out.split(separator: "\n").filter {
            $0.contains("train accuracy") && $0.contains("test loss")
        }
        #expect(epochLines.count == 3, "\(r.out)")
        let json = try lastJSON(r.out)
        #expect((json["test_accuracy"] as? Double ?? 0) > 0.9)
        let log = try String(contentsOf: logDir.appendingPathComponent("train.log"), encoding: .utf8)
        let lines = log.split(separator: "\n")
        // A run header, the model, the column names, then one line per epoch.
        #expect(lines.count == 6 && lines[0].hasPrefix("# run ") && lines[2].hasSuffix("train_accuracy,test_loss"))
        let last = lines[5].split(separator: ",").compactMap { Double($0) }
        #expect(last.count == 9 && last[7] > 0.9 && last[8] >= 0 && last[8].isFinite)
        let missing = try runTool("idl", ["train", "--dataset", "cifar10"])
        #expect(missing.status != 0 && missing.err.contains("--data-dir"))
    }

    @Test func trainOnMNISTFormatFilesAsMnist() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var g = SeededGenerator(seed: 2)
        for (split, count) in [("train", 60), ("t10k", 20)] {
            var pixels = [UInt8]()
            var labels = [UInt8]()
            for k in 0..<count {
                labels.append(UInt8(k % 2))
                for _ in 0..<16 {
                    pixels.append(UInt8(k % 2 == 0 ? g.integer(below: 100) : 155 + g.integer(below: 100)))
                }
            }
            try IDXArray.encode(pixels, shape: [count, 4, 4]).write(
                to: dir.appendingPathComponent("\(split)-images-idx3-ubyte"))
            try IDXArray.encode(labels, shape: [count]).write(
                to: dir.appendingPathComponent("\(split)-labels-idx1-ubyte"))
        }
        let r = try runTool(
            "idl",
            [
                "train", "--dataset", "mnist", "--data-dir", dir.path, "--epochs", "2", "--hidden-dim", "4",
                "--batch-size", "10", "--log-dir", dir.appendingPathComponent("log").path, "--output",
                dir.appendingPathComponent("m.safetensors").path, "--json", "--quiet",
            ])
        #expect(r.status == 0, "\(r.err)")
        #expect(try lastJSON(r.out)["epochs"] as? Int == 2)
    }

    @Test func rnnTrainsOnTheSpikySeriesAndOnAUserSeries() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("rnn.safetensors")
        let r = try runTool(
            "idl",
            [
                "rnn", "--epochs", "3", "--look-back", "8", "--hidden-dim", "5", "--implicit-hidden-dim", "4",
                "--rank", "2", "--output", model.path, "--json", "--quiet",
            ])
        #expect(r.status == 0, "\(r.err)")
        let json = try lastJSON(r.out)
        for key in ["train_mse", "test_mse", "test_r2", "test_mape"] {
            #expect((json[key] as? Double)?.isFinite == true, "\(key)")
        }
        // The saved state_dict is torchidl's layout, which `idl predict` runs.
        let file = try SafeTensors(contentsOf: model)
        #expect(
            Set(file.names) == [
                "recurrent.layer.L", "recurrent.layer.R", "recurrent.layer.B", "recurrent.layer.C",
                "recurrent.layer.D", "linear.weight", "linear.bias",
            ])
        let steps = try NpyArray(shape: [2, 7, 1], values: (0..<14).map { Float($0) / 14 })
        let input = dir.appendingPathComponent("x.npy")
        try steps.write(to: input)
        let p = try runTool(
            "idl",
            [
                "predict", "--model", model.path, "--input", input.path, "--output",
                dir.appendingPathComponent("y.npy").path,
            ])
        #expect(p.status == 0, "\(p.err)")
        // A user series: 300 points of a sine wave.
        let series = dir.appendingPathComponent("series.npy")
        try writeNpy(Matrix<Double>(column: (0..<300).map { sin(Double($0) / 5) }), to: series)
        let s = try runTool(
            "idl",
            [
                "rnn", "--series", series.path, "--epochs", "2", "--look-back", "10", "--hidden-dim", "4",
                "--implicit-hidden-dim", "3", "--rank", "0", "--json", "--quiet",
            ])
        #expect(s.status == 0, "\(s.err)")
        #expect((try lastJSON(s.out)["test_mse"] as? Double)?.isFinite == true)
        let bad = try runTool("idl", ["rnn", "--rank", "9", "--implicit-hidden-dim", "4"])
        #expect(bad.status != 0 && bad.err.contains("--rank"))
    }
}
