/// A tutorial chapter's `main.swift`, read as a literate program.
///
/// The layout it expects (every rule is about lines that start in column 0):
///
/// ```swift
/// // # Chapter 2 · Title                 ← title: the first line, a Markdown heading
/// //
/// // Introduction, in Markdown.          ← the comment block from the top is the introduction
/// import IDL                             ← setup code, up to the first step's prose
/// let tutorial = Tutorial("name")
///
/// // Prose of step 1, in Markdown.      ← the comment block right above a step( call
/// step("Make the data")                  ← a step: its title is the string literal
/// var x = ...                            ← the step's code, up to the next step's prose
///
/// // ## Exercises                        ← comment lines ending the file: closing prose
/// // 1. ...
/// ```
///
/// Comments inside code (indented, or not followed by a `step(` line) stay in the code.
public struct ChapterSource: Equatable, Sendable {
    /// One step: prose, then code.
    public struct Step: Equatable, Sendable {
        /// The title given to `step(...)`.
        public var title: String
        /// Markdown lines (the comment block above the call, comment markers removed).
        public var prose: [String]
        /// Swift lines after the call up to the next step's prose.
        public var code: [String]
    }

    /// The chapter title (the first line's heading text), e.g. `Chapter 2 · ImplicitModel`.
    public var title: String
    /// The chapter number read from the title (`Chapter N`), or nil.
    public var number: Int?
    /// The introduction (Markdown) after the title line.
    public var introduction: [String]
    /// The code before the first step (imports, the `Tutorial` value).
    public var setup: [String]
    /// The steps, in order.
    public var steps: [Step]
    /// Closing Markdown (the comment lines that end the file: remarks, exercises).
    public var closing: [String]

    /// Errors in the layout of a chapter file.
    public struct LayoutError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Reads a chapter's source text.
    /// - Throws: ``LayoutError`` when the file does not start with a `// # ` title line, has
    ///   no step, or a `step(` line whose title is not a plain string literal.
    public init(text: String) throws {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard let first = lines.first, first.hasPrefix("// # ") else {
            throw LayoutError(
                description:
                    "a chapter must start with a title line `// # Chapter N · Title`, found \(lines.first.map { "`\($0)`" } ?? "an empty file")"
            )
        }
        title = String(first.dropFirst("// # ".count)).trimmingTrailingWhitespace
        number = ChapterSource.chapterNumber(in: title)

        let stepLines = lines.indices.filter { lines[$0].hasPrefix("step(") }
        guard !stepLines.isEmpty else {
            throw LayoutError(description: "chapter \"\(title)\" has no `step(\"…\")` line in column 0")
        }
        // Where each step's prose starts: the comment lines directly above its call.
        let proseStarts = stepLines.map { s -> Int in
            var k = s
            while k > 1, ChapterSource.isComment(lines[k - 1]) { k -= 1 }  // line 0 is the title
            return k
        }
        // Closing prose: the comment (and blank) lines ending the file, after the last code line.
        var closingStart = lines.count
        while closingStart > stepLines.last! + 1,
            ChapterSource.isComment(lines[closingStart - 1]) || ChapterSource.isBlank(lines[closingStart - 1])
        {
            closingStart -= 1
        }
        while closingStart < lines.count, ChapterSource.isBlank(lines[closingStart]) { closingStart += 1 }

        // Header: title, introduction (the comment block from the top), setup code.
        var k = 1
        while k < proseStarts[0], ChapterSource.isComment(lines[k]) { k += 1 }
        introduction = trimBlankLines(lines[1..<k].map(ChapterSource.markdown))
        setup = trimBlankLines(Array(lines[k..<proseStarts[0]]))

        var steps: [Step] = []
        for (i, s) in stepLines.enumerated() {
            let end = i + 1 < stepLines.count ? proseStarts[i + 1] : closingStart
            steps.append(
                Step(
                    title: try ChapterSource.stepTitle(lines[s], line: s + 1),
                    prose: trimBlankLines(lines[proseStarts[i]..<s].map(ChapterSource.markdown)),
                    code: trimBlankLines(Array(lines[(s + 1)..<max(s + 1, end)]))
                ))
        }
        self.steps = steps
        closing = trimBlankLines(lines[closingStart...].map(ChapterSource.markdown))
    }

    /// Whether a line is a column-0 `//` comment (documentation comments `///` included).
    static func isComment(_ line: String) -> Bool { line.hasPrefix("//") }

    static func isBlank(_ line: String) -> Bool { line.allSatisfy(\.isWhitespace) }

    /// A comment line as Markdown: the `//` and one following space removed.
    static func markdown(_ line: String) -> String {
        guard line.hasPrefix("//") else { return line }
        var rest = line.dropFirst(2)
        if rest.first == " " { rest = rest.dropFirst() }
        return String(rest).trimmingTrailingWhitespace
    }

    /// The string literal of a `step("…")` line.
    static func stepTitle(_ line: String, line number: Int) throws -> String {
        guard line.hasPrefix("step(\"") else {
            throw LayoutError(
                description:
                    "line \(number): a step's title must be a string literal, as in step(\"Train the model\"), found `\(line)`"
            )
        }
        var title = ""
        var escaped = false
        for ch in line.dropFirst("step(\"".count) {
            if escaped {
                title.append(ch)
                escaped = false
                continue
            }
            if ch == "\\" {
                escaped = true
                continue
            }
            if ch == "\"" { return title }
            title.append(ch)
        }
        throw LayoutError(
            description: "line \(number): the step title's string literal is not closed on its line: `\(line)`")
    }

    /// N in a title such as `Chapter N · …`.
    static func chapterNumber(in title: String) -> Int? {
        guard title.hasPrefix("Chapter ") else { return nil }
        return Int(title.dropFirst("Chapter ".count).prefix { $0.isNumber })
    }
}

extension String {
    var trimmingTrailingWhitespace: String {
        var s = Substring(self)
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
