import Foundation

/// A `.safetensors` file: named tensors plus an optional string→string metadata map.
///
/// The format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype": "F32", "shape": [r, c], "data_offsets": [begin, end]}, …,
/// "__metadata__": {"key": "value"}}`, then the data section; offsets are relative to the
/// start of the data section and each tensor's bytes are row-major (C order), little-endian.
///
/// **Matrices.** PyTorch stores a weight of shape (r, c) row-major; ``matrix(_:as:)`` returns
/// the same r×c matrix (transposing the bytes into our column-major storage), a 1-D tensor of
/// length n becomes an n×1 column. Writing a r×c ``Matrix`` stores shape [r, c] row-major, so
/// `safetensors.torch.load_file` gives PyTorch the same matrix.
///
/// Reading validates everything before touching the data: the header length against the file
/// size, well-formed JSON, known dtypes, non-negative shapes, offsets inside the data section,
/// `end − begin = product(shape) × dtype size`, and no two tensors overlapping.
public struct SafeTensors: Sendable, Equatable {
    /// One stored tensor: element type, shape and row-major little-endian bytes.
    public struct Tensor: Sendable, Equatable {
        /// Element type.
        public let dtype: TensorDType
        /// Shape (row-major; `[]` is a scalar).
        public let shape: [Int]
        /// The elements' bytes, row-major and little-endian.
        public let data: Data

        /// Number of elements, the product of `shape`.
        public var elementCount: Int { BinaryIO.elementCount(shape) ?? 0 }

        /// A tensor over raw bytes.
        /// - Throws: ``IDLError/shapeMismatch(_:)`` if `data.count` is not
        ///   product(shape) × dtype size; ``IDLError/invalidArgument(_:)`` for negative dimensions.
        public init(dtype: TensorDType, shape: [Int], data: Data) throws {
            guard let count = BinaryIO.elementCount(shape) else {
                throw IDLError.invalidArgument("tensor shape \(shape) has a negative dimension or too many elements")
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteCount)
            guard !overflow, bytes == data.count else {
                throw IDLError.shapeMismatch(
                    "a \(dtype) tensor of shape \(shape) needs \(count) × \(dtype.byteCount) bytes, but \(data.count) were given"
                )
            }
            self.dtype = dtype
            self.shape = shape
            self.data = Data(data)
        }

        /// A tensor of Swift values in row-major order.
        /// - Throws: ``IDLError/shapeMismatch(_:)`` if `values.count` ≠ product(shape).
        public init<E: TensorElement>(shape: [Int], values: [E]) throws {
            try self.init(dtype: E.tensorDType, shape: shape, data: TensorBytes.encode(values))
        }

        /// A r×c matrix as a tensor of shape [r, c] (row-major, as PyTorch stores a weight).
        public init<T: BLASScalar>(_ matrix: Matrix<T>) {
            dtype = T.self == Float.self ? .float32 : .float64
            shape = [matrix.rows, matrix.cols]
            data = matrix.transposed.storage.withUnsafeBytes { Data($0) }
        }

        /// A vector as a 1-D tensor of shape [n] (a PyTorch bias).
        public init<T: BLASScalar>(vector: [T]) {
            dtype = T.self == Float.self ? .float32 : .float64
            shape = [vector.count]
            data = vector.withUnsafeBytes { Data($0) }
        }

        /// All elements in row-major order, converted to `T`.
        public func values<T: BLASScalar>(as _: T.Type = T.self) -> [T] {
            TensorBytes.decode(data, dtype: dtype, count: elementCount, as: T.self)
        }

        /// All elements in row-major order as integers (integer and bool dtypes only).
        /// - Throws: ``IDLError/unsupported(_:)`` for floating-point tensors.
        public func integers() throws -> [Int] {
            try TensorBytes.decodeIntegers(data, dtype: dtype, count: elementCount, source: "safetensors tensor")
        }

        /// The tensor as a matrix: shape (r, c) → r×c; (n) → n×1; () → 1×1;
        /// (r, d₁, …, d_k) → r×(d₁⋯d_k) (each row flattened in C order).
        public func matrix<T: BLASScalar>(as _: T.Type = T.self) -> Matrix<T> {
            let count = elementCount
            let rows = shape.first ?? 1
            let cols = shape.count <= 1 ? 1 : shape.dropFirst().reduce(1, *)
            let rowMajor = values(as: T.self)
            // Row-major r×c values are the column-major storage of the c×r transpose.
            precondition(rowMajor.count == count && rows * cols == count)
            if cols == 1 || rows == 1 {
                return Matrix(uncheckedRows: rows, cols: cols, storage: rowMajor)
            }
            return Matrix(uncheckedRows: cols, cols: rows, storage: rowMajor).transposed
        }
    }

    /// The tensors by name.
    public var tensors: [String: Tensor]
    /// The optional `__metadata__` map (e.g. `{"format": "pt"}`).
    public var metadata: [String: String]

    /// The tensor names, sorted.
    public var names: [String] { tensors.keys.sorted() }

    /// A collection of tensors to write.
    /// - Parameters:
    ///   - tensors: tensors by name (the name `__metadata__` is reserved).
    ///   - metadata: string→string metadata.
    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Reads a `.safetensors` file.
    /// - Throws: ``IDLError/io(_:)`` for a missing, truncated or corrupt file (header length
    ///   larger than the file, malformed JSON, offsets outside the data or overlapping, sizes
    ///   that disagree with shapes); ``IDLError/unsupported(_:)`` for dtypes such as `F8_E4M3`.
    public init(contentsOf url: URL) throws {
        let bytes = try BinaryIO.readFile(url, what: "safetensors file")
        try self.init(safetensorsData: bytes, source: url.path)
    }

    /// Parses the contents of a `.safetensors` file.
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - source: a name for error messages.
    /// - Throws: as ``init(contentsOf:)``.
    public init(safetensorsData bytes: Data, source: String = "safetensors data") throws {
        let file = Data(bytes)
        let layout = try Layout(prefix: file, fileSize: file.count, source: source)
        var parsed: [String: Tensor] = [:]
        for (name, entry) in layout.entries {
            parsed[name] = try Tensor(
                dtype: entry.dtype, shape: entry.shape,
                data: file.subdata(in: (layout.dataStart + entry.begin)..<(layout.dataStart + entry.end)))
        }
        tensors = parsed
        metadata = layout.metadata
    }

    /// Where each tensor of a `.safetensors` file lies, from its header alone (validated as
    /// ``SafeTensors/init(contentsOf:)`` validates it), so that parts of large tensors can be
    /// read without loading the file: see ``rows(of:tensor:_:as:)``.
    struct Layout {
        /// One tensor: its dtype, shape and bytes begin..<end of the data section.
        struct Entry {
            let dtype: TensorDType
            let shape: [Int]
            let begin: Int
            let end: Int
        }
        let entries: [String: Entry]
        let metadata: [String: String]
        /// The file offset of the data section (8 + the header length).
        let dataStart: Int

        /// The layout of a file of `fileSize` bytes whose first bytes (at least its 8-byte length
        /// field and its header, when the file has them) are `prefix`.
        init(prefix file: Data, fileSize: Int, source: String) throws {
            guard file.count >= 8 else {
                throw IDLError.io(
                    "\(source): \(file.count) bytes is too short for a safetensors file (it starts with an 8-byte header length); the file is truncated or not safetensors"
                )
            }
            let n = file.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            let available = UInt64(fileSize - 8)
            guard n <= available else {
                throw IDLError.io(
                    "\(source): the header length field says \(n) bytes, but only \(available) bytes follow it; the file is truncated or not a safetensors file"
                )
            }
            guard n <= 100_000_000 else {
                throw IDLError.io(
                    "\(source): the header length \(n) exceeds the 100 MB limit of the format; the file is corrupt")
            }
            let headerEnd = 8 + Int(n)
            guard file.count >= headerEnd else {
                throw IDLError.io(
                    "\(source): the header ends after the bytes that could be read; the file is truncated")
            }
            let headerData = file[(file.startIndex + 8)..<(file.startIndex + headerEnd)]
            guard headerData.first(where: { $0 != 0x20 }) == UInt8(ascii: "{") else {
                throw IDLError.io(
                    "\(source): the header must be a JSON object starting with '{'; this is not a safetensors file or it is corrupt"
                )
            }
            let header: SafeTensorsHeader
            do {
                header = try JSONDecoder().decode(SafeTensorsHeader.self, from: headerData)
            } catch let error as IDLError {
                throw IDLError.io("\(source): \(error)")
            } catch {
                throw IDLError.io(
                    "\(source): the JSON header is malformed: \(SafeTensors.describe(error)); expected {\"name\": {\"dtype\": …, \"shape\": […], \"data_offsets\": [begin, end]}, …}"
                )
            }
            if let duplicate = JSONKeys.firstDuplicate(in: [UInt8](headerData)) {
                throw IDLError.io(
                    "\(source): the JSON header names the key '\(duplicate)' twice in one object; a reader could take either value, so the file is refused (write it again with one entry per key)"
                )
            }
            let dataSize = fileSize - headerEnd
            var parsed: [String: Entry] = [:]
            var ranges: [(begin: Int, end: Int, name: String)] = []
            for (name, info) in header.entries {
                guard let dtype = TensorDType(safetensorsName: info.dtype) else {
                    throw IDLError.unsupported(
                        "\(source): tensor '\(name)' has dtype \(info.dtype); supported are F16, BF16, F32, F64, I8–I64, U8–U64 and BOOL. Convert it (tensor.float()) before saving"
                    )
                }
                guard let count = BinaryIO.elementCount(info.shape) else {
                    throw IDLError.io(
                        "\(source): tensor '\(name)' has an invalid shape \(info.shape) (negative or too large)")
                }
                guard info.offsets.count == 2 else {
                    throw IDLError.io(
                        "\(source): tensor '\(name)' has data_offsets \(info.offsets); expected [begin, end]")
                }
                let begin = info.offsets[0]
                let end = info.offsets[1]
                guard begin >= 0, begin <= end, end <= dataSize else {
                    throw IDLError.io(
                        "\(source): tensor '\(name)' claims bytes \(begin)..<\(end) of a data section of \(dataSize) bytes; the file is truncated or its header is corrupt"
                    )
                }
                let (needed, overflow) = count.multipliedReportingOverflow(by: dtype.byteCount)
                guard !overflow, needed == end - begin else {
                    throw IDLError.io(
                        "\(source): tensor '\(name)' of shape \(info.shape) and dtype \(info.dtype) needs \(overflow ? "too many" : String(needed)) bytes, but its data_offsets span \(end - begin); the header is corrupt"
                    )
                }
                ranges.append((begin, end, name))
                parsed[name] = Entry(dtype: dtype, shape: info.shape, begin: begin, end: end)
            }
            ranges.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
            for k in ranges.indices.dropFirst() where ranges[k].begin < ranges[k - 1].end {
                throw IDLError.io(
                    "\(source): tensors '\(ranges[k - 1].name)' (bytes \(ranges[k - 1].begin)..<\(ranges[k - 1].end)) and '\(ranges[k].name)' (bytes \(ranges[k].begin)..<\(ranges[k].end)) overlap; the header is corrupt"
                )
            }
            entries = parsed
            metadata = header.metadata
            dataStart = headerEnd
        }

        /// The layout of the file at `url`, reading only its header.
        init(contentsOf url: URL) throws {
            let handle: FileHandle
            do { handle = try FileHandle(forReadingFrom: url) } catch {
                throw IDLError.io("cannot open the safetensors file \(url.path): \(error.localizedDescription)")
            }
            defer { try? handle.close() }
            do {
                let size = Int(try handle.seekToEnd())
                try handle.seek(toOffset: 0)
                let lengthField = try handle.read(upToCount: 8) ?? Data()
                var prefix = lengthField
                if lengthField.count == 8 {
                    let n = lengthField.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                    if n <= UInt64(size - 8) && n <= 100_000_000 {
                        prefix += try handle.read(upToCount: Int(n)) ?? Data()
                    }
                }
                try self.init(prefix: prefix, fileSize: size, source: url.path)
            } catch let error as IDLError { throw error } catch {
                throw IDLError.io("cannot read the safetensors file \(url.path): \(error.localizedDescription)")
            }
        }

        /// Rows `range` of tensor `name` of the file at `url` (this layout's file).
        func rows<T: BLASScalar>(of url: URL, tensor name: String, _ range: Range<Int>, as _: T.Type) throws -> Matrix<
            T
        > {
            guard let entry = entries[name] else {
                throw IDLError.invalidArgument(
                    "\(url.path) has no tensor named '\(name)'; it holds: \(entries.keys.sorted().joined(separator: ", "))"
                )
            }
            guard let first = entry.shape.first, range.lowerBound >= 0, range.upperBound <= first else {
                throw IDLError.invalidArgument(
                    "\(url.path): rows \(range) of tensor '\(name)' of shape \(entry.shape) do not exist; it has \(entry.shape.first.map(String.init) ?? "no") rows"
                )
            }
            let rowBytes = first == 0 ? 0 : (entry.end - entry.begin) / first
            let offset = dataStart + entry.begin + range.lowerBound * rowBytes
            let count = range.count * rowBytes
            let data: Data
            do {
                let handle = try FileHandle(forReadingFrom: url)
                defer { try? handle.close() }
                try handle.seek(toOffset: UInt64(offset))
                data = count == 0 ? Data() : try handle.read(upToCount: count) ?? Data()
            } catch {
                throw IDLError.io("cannot read tensor '\(name)' of \(url.path): \(error.localizedDescription)")
            }
            guard data.count == count else {
                throw IDLError.io(
                    "\(url.path): tensor '\(name)' ended after \(data.count) of \(count) bytes; the file was truncated while it was read"
                )
            }
            return try Tensor(dtype: entry.dtype, shape: [range.count] + entry.shape.dropFirst(), data: data).matrix(
                as: T.self)
        }
    }

    /// Rows `range` of the named tensor of the file at `url` (its first dimension, e.g. the
    /// samples of a batch-first tensor), as a matrix the way ``Tensor/matrix(as:)`` shapes it;
    /// only the header and those rows' bytes are read.
    /// - Throws: ``IDLError/io(_:)`` for a file that cannot be read or a corrupt header (as
    ///   ``init(contentsOf:)``); ``IDLError/invalidArgument(_:)`` for a missing tensor, a scalar
    ///   tensor or rows outside it.
    public static func rows<T: BLASScalar>(
        of url: URL, tensor name: String, _ range: Range<Int>, as _: T.Type = T.self
    ) throws -> Matrix<T> {
        let layout = try Layout(contentsOf: url)
        return try layout.rows(of: url, tensor: name, range, as: T.self)
    }

    /// The shape of each tensor of the file at `url` and its metadata, read from its header alone.
    /// - Throws: ``IDLError/io(_:)`` for a file that cannot be read or a corrupt header (as
    ///   ``init(contentsOf:)``).
    public static func shapes(of url: URL) throws -> (shapes: [String: [Int]], metadata: [String: String]) {
        let layout = try Layout(contentsOf: url)
        return (layout.entries.mapValues(\.shape), layout.metadata)
    }

    /// The named tensor as a matrix of `T` (see ``Tensor/matrix(as:)``): a PyTorch weight of
    /// shape (r, c) becomes our r×c matrix, a 1-D tensor of length n an n×1 column.
    /// - Throws: ``IDLError/invalidArgument(_:)`` if there is no tensor of that name (the
    ///   message lists the names there are).
    public func matrix<T: BLASScalar>(_ name: String, as _: T.Type = T.self) throws -> Matrix<T> {
        try tensor(name).matrix(as: T.self)
    }

    /// The named tensor.
    /// - Throws: ``IDLError/invalidArgument(_:)`` if there is no tensor of that name.
    public func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else {
            throw IDLError.invalidArgument(
                "no tensor named '\(name)'; the file holds: \(names.joined(separator: ", "))")
        }
        return t
    }

    /// Stores a matrix under `name` as a [rows, cols] row-major tensor of its precision.
    public mutating func setMatrix<T: BLASScalar>(_ name: String, _ matrix: Matrix<T>) {
        tensors[name] = Tensor(matrix)
    }

    /// The complete file contents: tensors in name order, header padded with spaces to a
    /// multiple of 8 bytes.
    /// - Throws: ``IDLError/invalidArgument(_:)`` if a tensor is named `__metadata__`.
    public func encoded() throws -> Data {
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map {
                "\(SafeTensors.jsonString($0)):\(SafeTensors.jsonString(metadata[$0]!))"
            }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for name in names {
            guard name != "__metadata__" else {
                throw IDLError.invalidArgument(
                    "'__metadata__' is reserved by the safetensors format; rename the tensor")
            }
            let t = tensors[name]!
            let shape = t.shape.map(String.init).joined(separator: ",")
            entries.append(
                "\(SafeTensors.jsonString(name)):{\"dtype\":\"\(t.dtype.safetensorsName)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + t.data.count)]}"
            )
            offset += t.data.count
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for name in names { out.append(tensors[name]!.data) }
        return out
    }

    /// Writes the file atomically (temporary file in the same directory, then rename).
    /// - Throws: ``IDLError/io(_:)`` if it cannot be written; as ``encoded()``.
    public func write(to url: URL) throws {
        try AtomicFile.write(try encoded(), to: url)
    }

    /// A JSON string literal with the required escapes.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// A short description of a decoding error.
    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c): return c.debugDescription
        case DecodingError.keyNotFound(let k, let c):
            return "missing key '\(k.stringValue)' at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            return "\(c.debugDescription) at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
        default: return "\(error)"
        }
    }
}

/// The JSON header, decoded strictly (integers must be integers, keys must be present).
struct SafeTensorsHeader: Decodable {
    struct Entry: Decodable {
        let dtype: String
        let shape: [Int]
        let offsets: [Int]
        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case offsets = "data_offsets"
        }
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    var entries: [String: Entry] = [:]
    var metadata: [String: String] = [:]

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for key in container.allKeys {
            if key.stringValue == "__metadata__" {
                metadata = try container.decode([String: String].self, forKey: key)
            } else {
                entries[key.stringValue] = try container.decode(Entry.self, forKey: key)
            }
        }
    }
}

/// Finds keys repeated within one JSON object, which JSON parsers resolve differently (first or
/// last wins) and Foundation's decoder resolves silently.
enum JSONKeys {
    /// The first key that appears twice in the same object of `json` (escapes decoded before
    /// comparing), or nil. `json` is assumed to be well-formed (decoded successfully before).
    static func firstDuplicate(in json: [UInt8]) -> String? {
        // One entry per open object or array: the keys seen (objects) and whether a key comes next.
        var stack: [(isObject: Bool, keys: Set<String>, expectingKey: Bool)] = []
        var i = 0
        while i < json.count {
            let c = json[i]
            switch c {
            case UInt8(ascii: "{"):
                stack.append((true, [], true))
            case UInt8(ascii: "["):
                stack.append((false, [], false))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !stack.isEmpty { stack.removeLast() }
            case UInt8(ascii: ","):
                if let top = stack.last, top.isObject { stack[stack.count - 1].expectingKey = true }
            case UInt8(ascii: "\""):
                let (text, end) = string(json, from: i + 1)
                if let top = stack.last, top.isObject, top.expectingKey {
                    if top.keys.contains(text) { return text }
                    stack[stack.count - 1].keys.insert(text)
                    stack[stack.count - 1].expectingKey = false
                }
                i = end
            default:
                break
            }
            i += 1
        }
        return nil
    }

    /// The decoded string whose first byte after the opening quote is at `start`, and the index
    /// of its closing quote.
    static func string(_ json: [UInt8], from start: Int) -> (String, Int) {
        var units: [UInt16] = []
        var bytes: [UInt8] = []
        func flush() {
            units.append(contentsOf: String(decoding: bytes, as: UTF8.self).utf16)
            bytes.removeAll()
        }
        var i = start
        while i < json.count && json[i] != UInt8(ascii: "\"") {
            if json[i] == UInt8(ascii: "\\"), i + 1 < json.count {
                flush()
                let e = json[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "u"):
                    let hex = String(decoding: json[i..<min(i + 4, json.count)], as: UTF8.self)
                    units.append(UInt16(hex, radix: 16) ?? 0xFFFD)
                    i += 4
                case UInt8(ascii: "n"): units.append(10)
                case UInt8(ascii: "t"): units.append(9)
                case UInt8(ascii: "r"): units.append(13)
                case UInt8(ascii: "b"): units.append(8)
                case UInt8(ascii: "f"): units.append(12)
                default: units.append(UInt16(e))  // \" \\ \/
                }
                continue
            }
            bytes.append(json[i])
            i += 1
        }
        flush()
        return (String(decoding: units, as: UTF16.self), i)
    }
}
