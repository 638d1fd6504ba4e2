import Foundation
import IDL
import Testing

/// The repository root, found from this file's path (Tests/IDLTests/TestSupport.swift).
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `../shared/fixtures` relative to the repository root: numbers computed by torchidl and cvxpy.
let fixturesDirectory: URL = repositoryRoot.deletingLastPathComponent()
    .appendingPathComponent("shared").appendingPathComponent("fixtures")

/// Loads a JSON fixture as a dictionary.
func loadFixture(_ relativePath: String) throws -> [String: Any] {
    let url = fixturesDirectory.appendingPathComponent(relativePath)
    let data = try Data(contentsOf: url)
    guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw IDLError.io("fixture \(relativePath) is not a JSON object")
    }
    return object
}

/// A row-major nested JSON list (`M[i][j]` is row i, column j) as a matrix.
func fixtureMatrix<T: BLASScalar>(_ value: Any?, as _: T.Type = Double.self) throws -> Matrix<T> {
    if let nested = value as? [[Double]] {
        return try Matrix(rowMajor: nested.map { $0.map { T($0) } })
    }
    if let flat = value as? [Double] {  // a vector: one column
        return Matrix(column: flat.map { T($0) })
    }
    throw IDLError.io("fixture value is not a list of numbers: \(String(describing: value).prefix(80))")
}

/// A fresh temporary directory for a test's files.
func temporaryDirectory(_ name: String = #function) throws -> URL {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("idl-tests-\(safe)-\(UInt64.random(in: 0..<UInt64.max))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs `body`, expecting an `IDLError` whose description contains every one of `fragments`.
func expectFailure(
    _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record(
            "expected an IDLError mentioning \(fragments), but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as IDLError {
        let text = error.description
        for f in fragments {
            #expect(text.contains(f), "error \"\(text)\" should mention \"\(f)\"", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected an IDLError, got \(error)", sourceLocation: sourceLocation)
    }
}
