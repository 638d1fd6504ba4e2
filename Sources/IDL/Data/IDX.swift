import Foundation

/// An array in the IDX format of MNIST and FashionMNIST, plain or gzip-compressed.
///
/// Layout: two zero bytes, a type code (0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
/// 0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, each dimension as a
/// big-endian UInt32, then the elements big-endian in C order. Image files (`idx3`) have shape
/// (count, rows, cols); label files (`idx1`) have shape (count).
public struct IDXArray: Sendable {
    /// Element types of IDX files, by their type code.
    public enum ElementType: UInt8, Sendable {
        /// 0x08: unsigned byte (pixels, labels).
        case uint8 = 0x08
        /// 0x09: signed byte.
        case int8 = 0x09
        /// 0x0B: big-endian 16-bit integer.
        case int16 = 0x0B
        /// 0x0C: big-endian 32-bit integer.
        case int32 = 0x0C
        /// 0x0D: big-endian float32.
        case float32 = 0x0D
        /// 0x0E: big-endian float64.
        case float64 = 0x0E

        /// Bytes per element.
        public var byteCount: Int {
            switch self {
            case .uint8, .int8: return 1
            case .int16: return 2
            case .int32, .float32: return 4
            case .float64: return 8
            }
        }
    }

    /// The shape from the header, e.g. `[60000, 28, 28]`.
    public let shape: [Int]
    /// The element type from the header.
    public let elementType: ElementType
    /// The whole (decompressed) file; elements start at ``payloadOffset``.
    let bytes: [UInt8]
    /// Byte offset of the first element.
    let payloadOffset: Int

    /// Number of elements, the product of `shape`.
    public var elementCount: Int { BinaryIO.elementCount(shape) ?? 0 }

    /// Reads an IDX file, decompressing it first if it is gzip-compressed (by content, not
    /// by file name).
    /// - Throws: ``IDLError/io(_:)`` for a missing, truncated or corrupt file (wrong magic
    ///   number, data size that disagrees with the header), ``IDLError/unsupported(_:)`` for an
    ///   unknown type code.
    public init(contentsOf url: URL) throws {
        try self.init(fileContents: try BinaryIO.readFile(url, what: "IDX file"), source: url.path)
    }

    /// Parses the contents of an IDX file held in memory, decompressing them first if they are
    /// gzip-compressed (by content).
    /// - Parameters:
    ///   - raw: the bytes of the file, plain or gzip-compressed.
    ///   - source: a name for error messages.
    /// - Throws: as ``init(contentsOf:)``.
    public init(fileContents raw: Data, source: String = "IDX data") throws {
        // A compressed file inflates to no more than its IDX header declares (a bomb stops early).
        let bytes =
            Gzip.isCompressed(raw)
            ? try Gzip.decompress(
                raw, source: source,
                declaredSize: { prefix in
                    try Self.header(prefix, source: source, complete: false).map { $0.headerSize + $0.dataSize }
                }) : [UInt8](raw)
        try self.init(idxBytes: bytes, source: source)
    }

    /// Parses the (decompressed) contents of an IDX file.
    /// - Parameters:
    ///   - bytes: the file contents.
    ///   - source: a name for error messages.
    /// - Throws: as ``init(contentsOf:)``.
    public init(idxBytes bytes: [UInt8], source: String = "IDX data") throws {
        guard let header = try Self.header(bytes, source: source, complete: true) else {
            preconditionFailure("a complete header check returns a header or throws")
        }
        let (type, shape, headerSize, needed) = header
        let found = bytes.count - headerSize
        guard needed == found else {
            let why =
                found < needed
                ? "the file is truncated; download or copy it again"
                : "the file has extra bytes after the data; it is corrupt"
            throw IDLError.io("\(source): shape \(shape) needs \(needed) data bytes, found \(found) (\(why))")
        }
        self.shape = shape
        self.elementType = type
        self.bytes = bytes
        self.payloadOffset = headerSize
    }

    /// The header at the start of `bytes`: element type, shape, header size and data size.
    /// With `complete` false, nil while `bytes` is too short to hold the whole header (a
    /// decompressor asks as output arrives); otherwise a short header throws.
    static func header(_ bytes: [UInt8], source: String, complete: Bool) throws -> (
        type: ElementType, shape: [Int], headerSize: Int, dataSize: Int
    )? {
        guard bytes.count >= 4 else {
            guard complete else { return nil }
            throw IDLError.io(
                "\(source): \(bytes.count) bytes is too short for an IDX file (the magic number alone is 4 bytes); the file is truncated"
            )
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            let found = bytes[0..<4].map { String(format: "%02x", $0) }.joined(separator: " ")
            throw IDLError.io(
                "\(source): wrong magic number: an IDX file starts with 00 00 <type> <dims> (e.g. 00 00 08 03 for images, 00 00 08 01 for labels), found \(found); is this an MNIST-format file?"
            )
        }
        guard let type = ElementType(rawValue: bytes[2]) else {
            throw IDLError.unsupported(
                "\(source): IDX type code 0x\(String(format: "%02x", bytes[2])); known codes are 08, 09, 0B, 0C, 0D, 0E"
            )
        }
        let rank = Int(bytes[3])
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            guard complete else { return nil }
            throw IDLError.io(
                "\(source): the header declares \(rank) dimensions (\(headerSize) header bytes) but the file has \(bytes.count) bytes; the file is truncated"
            )
        }
        var shape: [Int] = []
        for d in 0..<rank {
            let o = 4 + 4 * d
            shape.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        guard let count = BinaryIO.elementCount(shape) else {
            throw IDLError.io("\(source): shape \(shape) is too large")
        }
        let (needed, overflow) = count.multipliedReportingOverflow(by: type.byteCount)
        guard !overflow, !needed.addingReportingOverflow(headerSize).overflow else {
            throw IDLError.io(
                "\(source): shape \(shape) of \(type.byteCount)-byte elements needs more than Int.max bytes; the header is corrupt"
            )
        }
        return (type, shape, headerSize, needed)
    }

    /// The elements in file order (C order) as `Double`s, decoding big-endian values.
    public func values() -> [Double] {
        let n = elementCount
        let o = payloadOffset
        return bytes.withUnsafeBytes { raw in
            (0..<n).map { k -> Double in
                switch elementType {
                case .uint8: return Double(raw[o + k])
                case .int8: return Double(Int8(bitPattern: raw[o + k]))
                case .int16:
                    return Double(Int16(bigEndian: raw.loadUnaligned(fromByteOffset: o + 2 * k, as: Int16.self)))
                case .int32:
                    return Double(Int32(bigEndian: raw.loadUnaligned(fromByteOffset: o + 4 * k, as: Int32.self)))
                case .float32:
                    return Double(
                        Float(
                            bitPattern: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: o + 4 * k, as: UInt32.self))
                        ))
                case .float64:
                    return Double(
                        bitPattern: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: o + 8 * k, as: UInt64.self)))
                }
            }
        }
    }

    /// The payload bytes (unsigned-byte files: pixels or labels).
    func withPayload<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[payloadOffset...])) }
    }

    /// Encodes unsigned bytes as an IDX file (big-endian header), e.g. to write test data.
    /// - Parameters:
    ///   - values: the elements in C order.
    ///   - shape: the dimensions; their product must equal `values.count`.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the counts differ.
    public static func encode(_ values: [UInt8], shape: [Int]) throws -> Data {
        guard shape.count < 256, BinaryIO.elementCount(shape) == values.count,
            shape.allSatisfy({ $0 <= Int(UInt32.max) })
        else {
            throw IDLError.shapeMismatch("IDX shape \(shape) does not hold \(values.count) elements")
        }
        var out = Data([0, 0, ElementType.uint8.rawValue, UInt8(shape.count)])
        for d in shape {
            out.append(contentsOf: [
                UInt8(d >> 24 & 0xff), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff),
            ])
        }
        out.append(contentsOf: values)
        return out
    }
}
