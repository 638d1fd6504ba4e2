import Foundation

/// How the axes of a stored 2-D array map onto a ``Matrix``.
///
/// Our matrices are column-major and their **columns are samples**. numpy arrays of data are
/// usually **batch-first**: shape (m, p) = m samples of p features.
public enum NpyLayout: Sendable, Equatable {
    /// numpy shape (m, p) ↔ our **p×m** matrix (m samples as columns).
    ///
    /// A C-order (m, p) array has exactly the bytes of our p×m column-major matrix, so reading
    /// and writing copy bytes without reordering; a Fortran-order (m, p) array is transposed.
    /// 1-D shape (m) ↔ 1×m (m samples of one feature); N-D shape (m, d₁, …, d_k) ↔
    /// (d₁⋯d_k)×m, each sample flattened in C order (as `x.reshape(m, -1)` in numpy).
    case batchFirst
    /// numpy shape (r, c) ↔ our **r×c** matrix (weight matrices, `M[i, j]` = entry (i, j)).
    ///
    /// A Fortran-order (r, c) array has exactly the bytes of our r×c matrix (no reordering);
    /// a C-order one is transposed while reading. 1-D shape (n) ↔ n×1 column; N-D shape
    /// (r, d₁, …, d_k) ↔ r×(d₁⋯d_k). Writing uses Fortran order, so no bytes are reordered.
    case sameShape
}

/// An array in numpy's `.npy` format (versions 1.0, 2.0 and 3.0): shape, element type,
/// memory order and the raw little-endian element bytes.
///
/// Reading accepts little-endian (`<`), native (`=`, which is little-endian on supported
/// hosts) and byte-order-free (`|`) descriptors of bool, signed and unsigned integers of
/// 1–8 bytes and floats of 2, 4 and 8 bytes, in C or Fortran order and of any rank.
/// Big-endian data, structured dtypes and object arrays are refused with an error.
///
/// ```swift
/// let u: Matrix<Float> = try NpyArray(contentsOf: url).matrix()   // (m, p) file → p×m
/// try writeNpy(u, to: outURL)                                      // p×m → (m, p), C order
/// ```
public struct NpyArray: Sendable, Equatable {
    /// The array's shape as numpy reports it (`()` for a scalar).
    public var shape: [Int]
    /// The element type.
    public var dtype: TensorDType
    /// Whether the elements are stored in Fortran (column-major) order rather than C order.
    public var fortranOrder: Bool
    /// The elements' raw little-endian bytes, `elementCount * dtype.byteCount` of them.
    public private(set) var data: Data

    /// Number of elements, the product of `shape`.
    public var elementCount: Int { BinaryIO.elementCount(shape) ?? 0 }

    /// An array over raw element bytes.
    /// - Parameters:
    ///   - shape: numpy shape.
    ///   - dtype: element type (not `bfloat16`, which `.npy` cannot describe).
    ///   - fortranOrder: memory order of `data`.
    ///   - data: little-endian element bytes.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if `data` does not hold exactly
    ///   product(shape) elements, ``IDLError/invalidArgument(_:)`` for negative dimensions,
    ///   ``IDLError/unsupported(_:)`` for `bfloat16`.
    public init(shape: [Int], dtype: TensorDType, fortranOrder: Bool = false, data: Data) throws {
        guard let count = BinaryIO.elementCount(shape) else {
            throw IDLError.invalidArgument(
                "npy shape \(BinaryIO.describe(shape)) has a negative dimension or too many elements")
        }
        guard dtype.npyDescriptor != nil else {
            throw IDLError.unsupported("numpy has no \(dtype) dtype; convert to float32 before writing .npy")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteCount)
        guard !overflow, bytes == data.count else {
            throw IDLError.shapeMismatch(
                "an npy array of shape \(BinaryIO.describe(shape)) and dtype \(dtype) needs \(count) × \(dtype.byteCount) bytes, but \(data.count) bytes were given"
            )
        }
        self.shape = shape
        self.dtype = dtype
        self.fortranOrder = fortranOrder
        self.data = Data(data)  // rebased copy: indices start at 0
    }

    /// An array of Swift values.
    /// - Parameters:
    ///   - shape: numpy shape; its product must equal `values.count`.
    ///   - values: the elements in the memory order given by `fortranOrder`.
    ///   - fortranOrder: whether `values` are in Fortran (column-major) order.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the counts differ.
    public init<E: TensorElement>(shape: [Int], values: [E], fortranOrder: Bool = false) throws {
        try self.init(shape: shape, dtype: E.tensorDType, fortranOrder: fortranOrder, data: TensorBytes.encode(values))
    }

    /// The array holding a matrix, without reordering any bytes.
    /// - Parameters:
    ///   - matrix: a r×c matrix.
    ///   - layout: `.batchFirst` stores shape (c, r) in C order (c samples of r features);
    ///     `.sameShape` stores shape (r, c) in Fortran order.
    public init<T: BLASScalar>(_ matrix: Matrix<T>, layout: NpyLayout = .batchFirst) {
        shape = layout == .batchFirst ? [matrix.cols, matrix.rows] : [matrix.rows, matrix.cols]
        dtype = T.self == Float.self ? .float32 : .float64
        fortranOrder = layout == .sameShape
        data = matrix.storage.withUnsafeBytes { Data($0) }
    }

    /// Reads a `.npy` file.
    /// - Parameter url: the file.
    /// - Throws: ``IDLError/io(_:)`` for a missing, truncated or corrupt file (wrong magic,
    ///   bad header, wrong data size); ``IDLError/unsupported(_:)`` for big-endian, structured
    ///   or unknown dtypes and unknown format versions.
    public init(contentsOf url: URL) throws {
        let bytes = try BinaryIO.readFile(url, what: "npy file")
        try self.init(npyData: bytes, source: url.path)
    }

    /// Parses the contents of a `.npy` file.
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - source: a name for error messages.
    /// - Throws: as ``init(contentsOf:)``.
    public init(npyData bytes: Data, source: String = "npy data") throws {
        let file = Data(bytes)  // indices from 0
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard file.count >= 10 else {
            throw IDLError.io(
                "\(source): \(file.count) bytes is too short for an .npy file (the preamble alone is 10 bytes); the file is truncated or not .npy"
            )
        }
        guard Array(file[0..<6]) == magic else {
            let found = file[0..<6].map { String(format: "%02x", $0) }.joined(separator: " ")
            throw IDLError.io(
                "\(source): not an .npy file: expected the magic bytes 93 4e 55 4d 50 59 (\"\\x93NUMPY\"), found \(found); save the array with numpy.save"
            )
        }
        let major = file[6]
        let minor = file[7]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(file[8]) | Int(file[9]) << 8
            headerStart = 10
        case 2, 3:
            guard file.count >= 12 else {
                throw IDLError.io(
                    "\(source): truncated .npy preamble (\(file.count) bytes, version \(major).\(minor) needs 12)")
            }
            headerLength = Int(file[8]) | Int(file[9]) << 8 | Int(file[10]) << 16 | Int(file[11]) << 24
            headerStart = 12
        default:
            throw IDLError.unsupported(
                "\(source): .npy format version \(major).\(minor); versions 1.0, 2.0 and 3.0 are supported")
        }
        guard headerLength <= file.count - headerStart else {
            throw IDLError.io(
                "\(source): the .npy header claims \(headerLength) bytes but only \(file.count - headerStart) follow the preamble; the file is truncated or its header length is corrupt"
            )
        }
        let headerBytes = file[headerStart..<(headerStart + headerLength)]
        guard let header = String(bytes: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw IDLError.io("\(source): the .npy header is not valid text")
        }
        let dict = try NpyHeaderParser.parse(header, source: source)

        guard case .string(let descr)? = dict["descr"] else {
            if case .other? = dict["descr"] {
                throw IDLError.unsupported(
                    "\(source): structured (record) dtypes are not supported; save a plain numeric array")
            }
            throw IDLError.io(
                "\(source): the .npy header has no 'descr' string (found: \(header.trimmingCharacters(in: .whitespacesAndNewlines)))"
            )
        }
        guard case .bool(let fortran)? = dict["fortran_order"] else {
            throw IDLError.io("\(source): the .npy header has no 'fortran_order' True/False entry")
        }
        guard case .tuple(let shape)? = dict["shape"] else {
            throw IDLError.io("\(source): the .npy header has no 'shape' tuple")
        }
        let dtype = try NpyArray.dtype(fromDescriptor: descr, source: source)
        guard let count = BinaryIO.elementCount(shape) else {
            throw IDLError.io("\(source): shape \(BinaryIO.describe(shape)) is invalid (negative or too large)")
        }
        let dataStart = headerStart + headerLength
        let available = file.count - dataStart
        let (needed, overflow) = count.multipliedReportingOverflow(by: dtype.byteCount)
        guard !overflow, needed == available else {
            let what = !overflow && available < needed ? "the file is truncated" : "the header and data disagree"
            throw IDLError.io(
                "\(source): shape \(BinaryIO.describe(shape)) of \(dtype) needs \(overflow ? "more than Int.max" : String(needed)) data bytes, but \(available) follow the header (\(what)); write the file again"
            )
        }
        self.shape = shape
        self.dtype = dtype
        self.fortranOrder = fortran
        self.data = file.subdata(in: dataStart..<file.count)
    }

    /// The element type for a numpy descriptor such as `<f4`.
    static func dtype(fromDescriptor descr: String, source: String) throws -> TensorDType {
        let chars = Array(descr)
        guard chars.count >= 3, "<>=|".contains(chars[0]), let size = Int(String(chars[2...])) else {
            throw IDLError.unsupported(
                "\(source): dtype '\(descr)' is not a simple numeric type; expected something like '<f4', '<f8', '<i8', '|u1' or '|b1'"
            )
        }
        let kind = chars[1]
        if chars[0] == ">" && size > 1 {
            throw IDLError.unsupported(
                "\(source): dtype '\(descr)' is big-endian; only little-endian data is read. Convert it in numpy with a.astype(a.dtype.newbyteorder('<')) and save again"
            )
        }
        let table: [String: TensorDType] = [
            "f2": .float16, "f4": .float32, "f8": .float64,
            "i1": .int8, "i2": .int16, "i4": .int32, "i8": .int64,
            "u1": .uint8, "u2": .uint16, "u4": .uint32, "u8": .uint64, "b1": .bool,
        ]
        guard let dtype = table["\(kind)\(size)"] else {
            throw IDLError.unsupported(
                "\(source): dtype '\(descr)' is not supported; supported are float16/32/64 (f2, f4, f8), signed and unsigned integers of 1, 2, 4, 8 bytes and bool. Convert with a.astype(numpy.float32)"
            )
        }
        return dtype
    }

    /// The complete `.npy` file contents (format 1.0, or 2.0 if the header needs it).
    public func encoded() -> Data {
        let descr = dtype.npyDescriptor ?? "<f4"  // init refuses bfloat16
        var header =
            "{'descr': '\(descr)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(BinaryIO.describe(shape)), }"
        var preamble = 10
        if header.utf8.count + 1 + preamble > 65535 { preamble = 12 }
        let total = preamble + header.utf8.count + 1
        let padded = (total + 63) / 64 * 64
        header += String(repeating: " ", count: padded - total) + "\n"
        let length = header.utf8.count
        var out = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, preamble == 10 ? 1 : 2, 0])
        if preamble == 10 {
            out.append(contentsOf: [UInt8(length & 0xff), UInt8(length >> 8)])
        } else {
            out.append(contentsOf: (0..<4).map { UInt8((length >> (8 * $0)) & 0xff) })
        }
        out.append(contentsOf: Array(header.utf8))
        out.append(data)
        return out
    }

    /// Writes the array as a `.npy` file, atomically (temporary file, then rename).
    /// - Throws: ``IDLError/io(_:)`` if the file cannot be written.
    public func write(to url: URL) throws {
        try AtomicFile.write(encoded(), to: url)
    }

    /// All elements in C (row-major, last axis fastest) order, converted to `T`.
    public func values<T: BLASScalar>(as _: T.Type = T.self) -> [T] {
        TensorBytes.decode(cOrderData(), dtype: dtype, count: elementCount, as: T.self)
    }

    /// All elements in C order as integers (integer and bool dtypes only, e.g. labels).
    /// - Throws: ``IDLError/unsupported(_:)`` for floating-point arrays.
    public func integers() throws -> [Int] {
        try TensorBytes.decodeIntegers(cOrderData(), dtype: dtype, count: elementCount, source: "npy array")
    }

    /// The element bytes in C order (reordered if the array is stored in Fortran order).
    func cOrderData() -> Data {
        fortranOrder && shape.count > 1 ? TensorBytes.fortranToC(data, shape: shape, stride: dtype.byteCount) : data
    }

    /// The array as a matrix of `T`, converting the element type if needed.
    /// - Parameters:
    ///   - type: `Float` or `Double`.
    ///   - layout: how numpy's axes map to rows and columns; see ``NpyLayout``. With the
    ///     default `.batchFirst`, shape (m, p) becomes p×m (columns are samples).
    /// - Throws: nothing for numeric arrays of any rank; the signature throws so that future
    ///   layouts can refuse shapes.
    public func matrix<T: BLASScalar>(as type: T.Type = T.self, layout: NpyLayout = .batchFirst) throws -> Matrix<T> {
        let count = elementCount
        let first = shape.first ?? 1
        let restCount = shape.count <= 1 ? 1 : shape.dropFirst().reduce(1, *)
        switch layout {
        case .batchFirst:
            // C-order elements of (m, F) are the column-major storage of F×m.
            let cols = shape.isEmpty ? 1 : first
            let rows = shape.isEmpty ? 1 : (shape.count == 1 ? 1 : restCount)
            if fortranOrder && shape.count == 2 {
                // Fortran (m, p) bytes are our m×p matrix: transpose to p×m.
                let stored = TensorBytes.decode(data, dtype: dtype, count: count, as: T.self)
                return try Matrix(rows: first, cols: shape[1], storage: stored).transposed
            }
            return try Matrix(rows: rows, cols: cols, storage: values(as: T.self))
        case .sameShape:
            let rows = shape.isEmpty ? 1 : first
            let cols = shape.count <= 1 ? 1 : restCount
            if fortranOrder && shape.count == 2 {
                let stored = TensorBytes.decode(data, dtype: dtype, count: count, as: T.self)
                return try Matrix(rows: rows, cols: cols, storage: stored)
            }
            // C-order (r, F) values are the column-major storage of F×r: transpose.
            return try Matrix(rows: cols, cols: rows, storage: values(as: T.self)).transposed
        }
    }
}

/// Writes a matrix as a `.npy` file, atomically, without reordering bytes.
/// - Parameters:
///   - matrix: a r×c matrix of `Float` (`<f4`) or `Double` (`<f8`).
///   - url: destination file.
///   - layout: `.batchFirst` (default) writes shape (c, r) in C order, so numpy sees c samples
///     of r features; `.sameShape` writes shape (r, c) in Fortran order.
/// - Throws: ``IDLError/io(_:)`` if the file cannot be written.
public func writeNpy<T: BLASScalar>(_ matrix: Matrix<T>, to url: URL, layout: NpyLayout = .batchFirst) throws {
    try NpyArray(matrix, layout: layout).write(to: url)
}

/// Reads a `.npy` file as a matrix (see ``NpyArray/matrix(as:layout:)``).
/// - Parameters:
///   - url: the file.
///   - type: `Float` or `Double`; other stored dtypes are converted.
///   - layout: `.batchFirst` (default): shape (m, p) → p×m.
/// - Throws: as ``NpyArray/init(contentsOf:)``.
public func readNpy<T: BLASScalar>(_ url: URL, as type: T.Type = T.self, layout: NpyLayout = .batchFirst) throws
    -> Matrix<T>
{
    try NpyArray(contentsOf: url).matrix(as: type, layout: layout)
}

/// A parser for the Python dictionary literal in an `.npy` header, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (10, 16), }`. It understands exactly
/// strings, True/False, integers and tuples of integers; anything else becomes `.other`.
enum NpyHeaderParser {
    enum Value: Equatable {
        case string(String)
        case bool(Bool)
        case tuple([Int])
        case other
    }

    static func parse(_ text: String, source: String) throws -> [String: Value] {
        let chars = Array(text.unicodeScalars)
        var i = 0
        func fail(_ what: String) -> IDLError {
            IDLError.io(
                "\(source): malformed .npy header (\(what) at character \(i)): \(text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200))"
            )
        }
        func skipSpace() {
            while i < chars.count && (chars[i] == " " || chars[i] == "\n" || chars[i] == "\t" || chars[i] == "\r") {
                i += 1
            }
        }
        func expect(_ c: Unicode.Scalar) throws {
            skipSpace()
            guard i < chars.count && chars[i] == c else { throw fail("expected '\(c)'") }
            i += 1
        }
        func parseString() throws -> String {
            skipSpace()
            guard i < chars.count, chars[i] == "'" || chars[i] == "\"" else { throw fail("expected a quoted string") }
            let quote = chars[i]
            i += 1
            var s = String.UnicodeScalarView()
            while i < chars.count && chars[i] != quote {
                if chars[i] == "\\" {
                    i += 1
                    guard i < chars.count else { break }
                }
                s.append(chars[i])
                i += 1
            }
            guard i < chars.count else { throw fail("unterminated string") }
            i += 1
            return String(s)
        }
        func parseInt() throws -> Int {
            skipSpace()
            var digits = ""
            while i < chars.count && (("0"..."9").contains(chars[i]) || (digits.isEmpty && chars[i] == "-")) {
                digits.unicodeScalars.append(chars[i])
                i += 1
            }
            if i < chars.count && (chars[i] == "L" || chars[i] == "l") { i += 1 }  // Python 2 longs
            guard let v = Int(digits) else { throw fail("expected an integer") }
            return v
        }
        // Skips any value (used for unsupported constructs such as structured dtypes).
        func skipValue() throws {
            skipSpace()
            var depth = 0
            while i < chars.count {
                let c = chars[i]
                if c == "'" || c == "\"" {
                    _ = try parseString()
                    continue
                }
                if c == "(" || c == "[" || c == "{" { depth += 1 }
                if c == ")" || c == "]" || c == "}" {
                    if depth == 0 { return }
                    depth -= 1
                }
                if c == "," && depth == 0 { return }
                i += 1
            }
        }
        func parseValue() throws -> Value {
            skipSpace()
            guard i < chars.count else { throw fail("expected a value") }
            let c = chars[i]
            if c == "'" || c == "\"" { return .string(try parseString()) }
            func matches(_ word: String) -> Bool {
                let w = Array(word.unicodeScalars)
                return i + w.count <= chars.count && Array(chars[i..<(i + w.count)]) == w
            }
            if matches("True") {
                i += 4
                return .bool(true)
            }
            if matches("False") {
                i += 5
                return .bool(false)
            }
            if c == "(" {
                i += 1
                var items: [Int] = []
                while true {
                    skipSpace()
                    guard i < chars.count else { throw fail("unterminated tuple") }
                    if chars[i] == ")" {
                        i += 1
                        break
                    }
                    items.append(try parseInt())
                    skipSpace()
                    if i < chars.count && chars[i] == "," {
                        i += 1
                    } else if i < chars.count && chars[i] == ")" {
                        continue
                    } else {
                        throw fail("expected ',' or ')' in the shape")
                    }
                }
                return .tuple(items)
            }
            try skipValue()
            return .other
        }

        try expect("{")
        var result: [String: Value] = [:]
        while true {
            skipSpace()
            guard i < chars.count else { throw fail("unterminated dictionary") }
            if chars[i] == "}" {
                i += 1
                break
            }
            let key = try parseString()
            try expect(":")
            result[key] = try parseValue()
            skipSpace()
            if i < chars.count && chars[i] == "," {
                i += 1
            } else if i < chars.count && chars[i] == "}" {
                continue
            } else {
                throw fail("expected ',' or '}'")
            }
        }
        return result
    }
}
