import ExperimentSupport
import Testing

@Suite struct ExperimentOptionsTests {
    let values = ["--epochs", "--output", "--kappa", "--seed"]
    let flags = ["--quick"]

    @Test func readsValuesAndSwitches() throws {
        let options = try ExperimentOptions(
            ["/bin/rnn-bench", "--epochs", "5", "--quick", "--kappa", "0.5", "--output", "-"],
            values: values, flags: flags)
        #expect(options.program == "rnn-bench")
        #expect(options.flag("--quick"))
        #expect(try options.parsed("--epochs", as: Int.self) == 5)
        #expect(try options.parsed("--kappa", as: Double.self) == 0.5)
        #expect(options.string("--output") == "-")  // a value may look like anything
        #expect(options.string("--seed") == nil)
        #expect(options.usage == "[--quick] [--epochs VALUE] [--output VALUE] [--kappa VALUE] [--seed VALUE]")
    }

    @Test func nothingGivenMeansDefaults() throws {
        let options = try ExperimentOptions(["sim-sweep"], values: values, flags: flags)
        #expect(!options.flag("--quick"))
        #expect(try options.parsed("--epochs", as: Int.self) == nil)
    }

    @Test func refusesWhatItDoesNotKnow() {
        func failure(_ arguments: [String]) -> String? {
            do {
                _ = try ExperimentOptions(["prog"] + arguments, values: values, flags: flags)
                return nil
            } catch { return "\(error)" }
        }
        #expect(failure(["--epoch", "3"])?.contains("unknown argument '--epoch'; prog accepts [--quick]") == true)
        #expect(failure(["5"])?.contains("unknown argument '5'") == true)
        #expect(failure(["--epochs"]) == "--epochs needs a value after it")
        #expect(failure(["--quick", "--quick"]) == "--quick is given twice")
        #expect(failure(["--seed", "1", "--seed", "2"]) == "--seed is given twice")
    }

    @Test func refusesValuesOfTheWrongType() throws {
        let options = try ExperimentOptions(
            ["prog", "--epochs", "ten", "--seed", "-1", "--kappa", "0.9x"], values: values, flags: flags)
        #expect(throws: ExperimentOptions.Failure.self) { try options.parsed("--epochs", as: Int.self) }
        #expect(throws: ExperimentOptions.Failure.self) { try options.parsed("--seed", as: UInt64.self) }
        do {
            _ = try options.parsed("--kappa", as: Double.self)
            Issue.record("0.9x was read as a number")
        } catch {
            #expect("\(error)" == "--kappa expects a number, got '0.9x'")
        }
    }
}

@Suite struct FigureFormatOptionTests {
    @Test func readsTheFormatList() throws {
        let given = try ExperimentOptions(["p", "--formats", "svg, PNG,svg"], values: ["--formats"], flags: [])
        #expect(try given.parsedFigureFormats() == ["svg", "png"])
        let absent = try ExperimentOptions(["p"], values: ["--formats"], flags: [])
        #expect(try absent.parsedFigureFormats() == ["png", "pdf"])
    }

    @Test func refusesUnknownFormats() throws {
        for bad in ["jpeg", "png,,pdf", ""] {
            let options = try ExperimentOptions(["p", "--formats", bad], values: ["--formats"], flags: [])
            #expect(throws: ExperimentOptions.Failure.self) { try options.parsedFigureFormats() }
        }
    }
}
