import Foundation
import IDL
import Testing

/// `idl predict` and `idl sim --teacher` on the PyTorch teachers of `../shared/fixtures/teacher`.
@Suite struct TeacherCLITests {
    @Test(arguments: TeacherTests.cases) func predictWritesPyTorchsLogits(_ name: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = TeacherTests.folder(name)
        let y = dir.appendingPathComponent("logits.npy")
        let r = try runTool(
            "idl",
            [
                "predict", "--model", folder.appendingPathComponent("teacher.safetensors").path, "--activation", "relu",
                "--input", folder.appendingPathComponent("input.npy").path, "--output", y.path, "--json",
            ])
        #expect(r.status == 0, "\(r.err)")
        #expect(try lastJSON(r.out)["samples"] as? Int == 200)
        let got = try readNpy(y, as: Float.self)
        let want = try readNpy(folder.appendingPathComponent("expected_logits.npy"), as: Float.self)
        #expect(got.rows == want.rows && got.cols == want.cols)
        #expect((got - want).maxAbs <= 1e-5 * want.maxAbs)
        // Without --activation: a clear error, nothing written.
        let missing = dir.appendingPathComponent("none.npy")
        let bad = try runTool(
            "idl",
            [
                "predict", "--model", folder.appendingPathComponent("teacher.safetensors").path,
                "--input", folder.appendingPathComponent("input.npy").path, "--output", missing.path,
            ])
        #expect(bad.status != 0 && bad.err.contains("--activation"))
        #expect(!FileManager.default.fileExists(atPath: missing.path))
        // An input of the wrong width names the widths; --bias means nothing to a PyTorch network.
        let narrow = dir.appendingPathComponent("narrow.npy")
        try writeNpy(Matrix<Float>(rows: 2, cols: 3, repeating: 0.5), to: narrow)  // 3 samples of 2 features
        let wrong = try runTool(
            "idl",
            [
                "predict", "--model", folder.appendingPathComponent("teacher.safetensors").path, "--activation", "relu",
                "--input", narrow.path, "--output", missing.path,
            ])
        #expect(wrong.status != 0 && wrong.err.contains("2 features per sample"), "\(wrong.err)")
        #expect(!wrong.err.contains("--bias"), "\(wrong.err)")
        #expect(!FileManager.default.fileExists(atPath: missing.path))
    }

    @Test(arguments: TeacherTests.cases) func simFitsTheTeacherAndReportsItsAccuracy(_ name: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = TeacherTests.folder(name)
        let model = dir.appendingPathComponent("sim.safetensors")
        let r = try runTool(
            "idl",
            [
                "sim", "--teacher", folder.appendingPathComponent("teacher.safetensors").path, "--activation", "relu",
                "--samples", "300", "--output", model.path, "--json", "--quiet",
            ])
        #expect(r.status == 0, "\(r.err)")
        let json = try lastJSON(r.out)
        let theirs = try TeacherTests.meta(name)["test_accuracy"] as! Double
        #expect(Float(json["teacher_accuracy"] as? Double ?? -1) == Float(theirs))
        #expect(json["well_posed"] as? Bool == true)
        #expect((json["norm_A_inf"] as? Double ?? 9) <= 0.99 + 1e-9)
        #expect((json["test_accuracy"] as? Double ?? 0) > 0.6)
        // The saved model appends the constant row for a biased teacher by itself.
        let y = dir.appendingPathComponent("y.npy")
        let p = try runTool(
            "idl",
            [
                "predict", "--model", model.path, "--input", folder.appendingPathComponent("input.npy").path,
                "--output", y.path,
            ])
        #expect(p.status == 0, "\(p.err)")
        #expect(try readNpy(y, as: Float.self).cols == 200)
    }

    @Test func simTorchidlPresetAndLossPlot() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = TeacherTests.folder("seq_bias_relu_small").appendingPathComponent("teacher.safetensors")
        let plot = dir.appendingPathComponent("loss.png")
        let r = try runTool(
            "idl",
            [
                "sim", "--teacher", teacher.path, "--activation", "relu", "--samples", "200", "--solver", "admm",
                "--preset", "torchidl", "--admm-iterations", "30", "--admm-iterations-output", "10",
                "--loss-plot", plot.path, "--output", dir.appendingPathComponent("m.safetensors").path, "--json",
                "--quiet",
            ])
        #expect(r.status == 0, "\(r.err)")
        let bytes = try Data(contentsOf: plot)
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect((try lastJSON(r.out)["solver"] as? String) == "ADMM (consensus)")
        let bad = try runTool("idl", ["sim", "--preset", "pytorch"])
        #expect(bad.status != 0 && bad.err.contains("--preset"))
        let noPlot = try runTool("idl", ["sim", "--loss-plot", plot.path])
        #expect(noPlot.status != 0 && noPlot.err.contains("--solver admm"))
    }
}
