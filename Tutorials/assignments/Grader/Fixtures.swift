import Foundation
import IDL

/// The torchidl/cvxpy reference numbers the checks compare against: the folder named by the
/// environment variable `IDL_FIXTURES`, else `../shared/fixtures` beside the repository.
public enum Fixtures {
    /// The fixtures folder.
    public static var directory: URL {
        if let path = ProcessInfo.processInfo.environment["IDL_FIXTURES"] { return URL(fileURLWithPath: path) }
        // This file is Tutorials/assignments/Grader/Fixtures.swift.
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("shared/fixtures")
    }

    /// Loads one JSON fixture (`sim/l1ball_projection.json`).
    /// - Throws: ``CheckFailure`` naming the missing or unreadable file (the check then fails
    ///   with that message, which tells the instructor to set `IDL_FIXTURES`).
    public static func load(_ relativePath: String) throws -> [String: Any] {
        let url = directory.appendingPathComponent(relativePath)
        guard let data = try? Data(contentsOf: url),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw CheckFailure(
                input: "the fixture \(relativePath)", expected: "a JSON file at \(url.path)",
                got: "no readable file there; set IDL_FIXTURES to the folder of the torchidl/cvxpy fixtures")
        }
        return object
    }

    /// A row-major nested list (`M[i][j]` is row i, column j) as a matrix; a flat list as a column.
    /// - Throws: ``CheckFailure`` when the value is not a list of numbers.
    public static func matrix(_ value: Any?, _ name: String) throws -> Matrix<Double> {
        if let nested = value as? [[Double]], let m = try? Matrix(rowMajor: nested) { return m }
        if let flat = value as? [Double] { return Matrix(column: flat) }
        throw CheckFailure(input: "fixture entry \(name)", expected: "a list of numbers", got: "something else")
    }

    /// A number of a fixture.
    /// - Throws: ``CheckFailure`` when the value is not a number.
    public static func number(_ value: Any?, _ name: String) throws -> Double {
        guard let x = value as? Double else {
            throw CheckFailure(input: "fixture entry \(name)", expected: "a number", got: "something else")
        }
        return x
    }
}

/// Seeded random matrices for the checks (the same inputs on every run).
public func randomMatrix(_ rows: Int, _ cols: Int, seed: UInt64, scale: Double = 1) -> Matrix<Double> {
    var g = SeededGenerator(seed: seed)
    return Matrix<Double>.randomNormal(rows, cols, scale: scale, using: &g)
}
