import Foundation

/// A table of results, written as Markdown (for people) and CSV (for scripts), atomically, so
/// an interrupted run never leaves a half-written table behind.
public struct ResultTable: Sendable {
    /// Column headers.
    public let columns: [String]
    /// Rows of cells, already formatted.
    public private(set) var rows: [[String]] = []
    /// Columns whose values are timings (they differ between runs; documented in the Markdown).
    public var timingColumns: Set<String> = []
    /// A note printed under the table (e.g. what else may vary between runs).
    public var footnote: String?

    /// A table with these column headers.
    public init(columns: [String]) { self.columns = columns }

    /// Appends a row.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` when the cell count differs from the column count.
    public mutating func append(_ cells: [String]) throws {
        guard cells.count == columns.count else {
            throw IDLError.shapeMismatch(
                "a result row has \(cells.count) cells but the table has \(columns.count) columns (\(columns))")
        }
        rows.append(cells)
    }

    /// The Markdown rendering, with an optional caption line above.
    public func markdown(caption: String? = nil) -> String {
        var s = caption.map { $0 + "\n\n" } ?? ""
        s += "| " + columns.joined(separator: " | ") + " |\n"
        s += "|" + columns.map { _ in " --- |" }.joined() + "\n"
        for r in rows { s += "| " + r.joined(separator: " | ") + " |\n" }
        if !timingColumns.isEmpty {
            s +=
                "\nTiming columns (\(columns.filter { timingColumns.contains($0) }.joined(separator: ", "))) vary between runs\(footnote == nil ? "; all other cells are deterministic for the seed" : "").\n"
        }
        if let footnote { s += "\n" + footnote + "\n" }
        return s
    }

    /// The CSV rendering (RFC 4180 quoting where needed).
    public var csv: String {
        func quote(_ c: String) -> String {
            c.contains(",") || c.contains("\"") || c.contains("\n")
                ? "\"" + c.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : c
        }
        return ([columns] + rows).map { $0.map(quote).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// Writes `<base>.md` and `<base>.csv` atomically (creating the directory). The Markdown
    /// ends with a line saying what made it (``RunManifest/summary``: date, commit, compiler,
    /// CPU, BLAS kernels, thread policy); the CSV holds the cells only.
    ///
    /// - Parameters:
    ///   - base: The path without extension.
    ///   - caption: An optional line printed above the Markdown table.
    /// - Throws: A file-system error if the directory cannot be created; ``IDLError/io(_:)`` if a
    ///   file cannot be written.
    public func write(to base: URL, caption: String? = nil) throws {
        try FileManager.default.createDirectory(at: base.deletingLastPathComponent(), withIntermediateDirectories: true)
        let text = markdown(caption: caption) + "\n" + RunManifest.current().summary + "\n"
        try AtomicFile.write(Data(text.utf8), to: base.appendingPathExtension("md"))
        try AtomicFile.write(Data(csv.utf8), to: base.appendingPathExtension("csv"))
    }
}

/// The rows of a CSV file's text (RFC 4180: quoted cells may hold commas, quotes and newlines),
/// as read back from ``ResultTable/csv`` and the reference tables.
/// - Parameter text: The file's contents.
/// - Returns: One array of cells per row.
/// - Throws: ``IDLError/io(_:)`` when the text ends inside a quoted cell.
public func parseCSV(_ text: String) throws -> [[String]] {
    var rows = [[String]]()
    var row = [String]()
    var cell = ""
    var quoted = false
    var chars = Array(text).makeIterator()
    var pending: Character? = nil
    while let ch = pending ?? chars.next() {
        pending = nil
        if quoted {
            if ch == "\"" {
                if let next = chars.next() {
                    if next == "\"" {
                        cell.append("\"")
                    } else {
                        quoted = false
                        pending = next
                    }
                } else {
                    quoted = false
                }
            } else {
                cell.append(ch)
            }
            continue
        }
        switch ch {
        case "\"": quoted = true
        case ",":
            row.append(cell)
            cell = ""
        case "\n", "\r\n":
            row.append(cell)
            rows.append(row)
            row = []
            cell = ""
        default: cell.append(ch)
        }
    }
    if quoted { throw IDLError.io("a CSV file ends inside a quoted cell: close the quote or remove it") }
    if !cell.isEmpty || !row.isEmpty {
        row.append(cell)
        rows.append(row)
    }
    return rows
}
