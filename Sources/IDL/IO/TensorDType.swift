import Foundation

/// The element type of a stored tensor (`.npy`, `.safetensors`). All are little-endian on disk.
///
/// Reading converts any of them to `Float` or `Double` (``TensorDType/float16`` and
/// ``TensorDType/bfloat16`` included, so half-precision checkpoints load); integer and boolean
/// types can also be read as `[Int]` (labels).
public enum TensorDType: String, Sendable, CaseIterable, CustomStringConvertible {
    /// IEEE half precision (numpy `<f2`, safetensors `F16`); converted to Float/Double on reading.
    case float16
    /// bfloat16 (safetensors `BF16` only; numpy has no such type); converted on reading.
    case bfloat16
    /// IEEE single precision (`<f4`, `F32`).
    case float32
    /// IEEE double precision (`<f8`, `F64`).
    case float64
    /// Signed 8-bit integer (`|i1`, `I8`).
    case int8
    /// Signed 16-bit integer (`<i2`, `I16`).
    case int16
    /// Signed 32-bit integer (`<i4`, `I32`).
    case int32
    /// Signed 64-bit integer (`<i8`, `I64`; PyTorch's `long`, class labels).
    case int64
    /// Unsigned 8-bit integer (`|u1`, `U8`; image pixels).
    case uint8
    /// Unsigned 16-bit integer (`<u2`, `U16`).
    case uint16
    /// Unsigned 32-bit integer (`<u4`, `U32`).
    case uint32
    /// Unsigned 64-bit integer (`<u8`, `U64`).
    case uint64
    /// Boolean, one byte 0 or 1 (`|b1`, `BOOL`).
    case bool

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .int8, .uint8, .bool: return 1
        case .float16, .bfloat16, .int16, .uint16: return 2
        case .float32, .int32, .uint32: return 4
        case .float64, .int64, .uint64: return 8
        }
    }

    /// Whether the type holds floating-point numbers.
    public var isFloatingPoint: Bool {
        switch self {
        case .float16, .bfloat16, .float32, .float64: return true
        default: return false
        }
    }

    /// The name, such as `float32`.
    public var description: String { rawValue }

    /// The numpy `descr` string (`<f4`, `|u1`, …), or nil for `bfloat16`, which numpy lacks.
    public var npyDescriptor: String? {
        switch self {
        case .float16: return "<f2"
        case .bfloat16: return nil
        case .float32: return "<f4"
        case .float64: return "<f8"
        case .int8: return "|i1"
        case .int16: return "<i2"
        case .int32: return "<i4"
        case .int64: return "<i8"
        case .uint8: return "|u1"
        case .uint16: return "<u2"
        case .uint32: return "<u4"
        case .uint64: return "<u8"
        case .bool: return "|b1"
        }
    }

    /// The safetensors dtype name (`F32`, `I64`, `BOOL`, …).
    public var safetensorsName: String {
        switch self {
        case .float16: return "F16"
        case .bfloat16: return "BF16"
        case .float32: return "F32"
        case .float64: return "F64"
        case .int8: return "I8"
        case .int16: return "I16"
        case .int32: return "I32"
        case .int64: return "I64"
        case .uint8: return "U8"
        case .uint16: return "U16"
        case .uint32: return "U32"
        case .uint64: return "U64"
        case .bool: return "BOOL"
        }
    }

    /// The type with the given safetensors name, or nil if unknown/unsupported (e.g. `F8_E4M3`).
    public init?(safetensorsName name: String) {
        guard let match = TensorDType.allCases.first(where: { $0.safetensorsName == name }) else { return nil }
        self = match
    }
}

/// Swift types that can be stored element for element in a tensor file.
public protocol TensorElement: Sendable {
    /// The stored element type matching this Swift type.
    static var tensorDType: TensorDType { get }
}

extension Float: TensorElement { public static var tensorDType: TensorDType { .float32 } }
extension Double: TensorElement { public static var tensorDType: TensorDType { .float64 } }
extension Int8: TensorElement { public static var tensorDType: TensorDType { .int8 } }
extension Int16: TensorElement { public static var tensorDType: TensorDType { .int16 } }
extension Int32: TensorElement { public static var tensorDType: TensorDType { .int32 } }
extension Int64: TensorElement { public static var tensorDType: TensorDType { .int64 } }
extension UInt8: TensorElement { public static var tensorDType: TensorDType { .uint8 } }
extension UInt16: TensorElement { public static var tensorDType: TensorDType { .uint16 } }
extension UInt32: TensorElement { public static var tensorDType: TensorDType { .uint32 } }
extension UInt64: TensorElement { public static var tensorDType: TensorDType { .uint64 } }
extension Bool: TensorElement { public static var tensorDType: TensorDType { .bool } }

/// Conversions between raw little-endian bytes and Swift arrays.
enum TensorBytes {
    /// The raw bytes of an array of elements (host order, which is little-endian).
    static func encode<E: TensorElement>(_ values: [E]) -> Data {
        values.withUnsafeBytes { Data($0) }
    }

    /// Decodes `count` elements of `dtype` from `data` as `T`, converting the precision.
    /// The caller has checked that `data.count == count * dtype.byteCount`.
    static func decode<T: BLASScalar>(_ data: Data, dtype: TensorDType, count: Int, as _: T.Type) -> [T] {
        precondition(data.count == count * dtype.byteCount, "tensor byte count was not validated")
        if count == 0 { return [] }
        return data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [T] in
            // Same precision: a plain copy of the bytes.
            if (dtype == .float32 && T.self == Float.self) || (dtype == .float64 && T.self == Double.self) {
                return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
                    initialized = count
                }
            }
            return [T](unsafeUninitializedCapacity: count) { out, initialized in
                func fill<S>(_: S.Type, _ convert: (S) -> T) {
                    for k in 0..<count {
                        out[k] = convert(raw.loadUnaligned(fromByteOffset: k * MemoryLayout<S>.stride, as: S.self))
                    }
                }
                switch dtype {
                case .float16: fill(UInt16.self) { T(halfToFloat($0)) }
                case .bfloat16: fill(UInt16.self) { T(Float(bitPattern: UInt32($0) << 16)) }
                case .float32: fill(Float.self) { T($0) }
                case .float64: fill(Double.self) { T($0) }
                case .int8: fill(Int8.self) { T($0) }
                case .int16: fill(Int16.self) { T($0) }
                case .int32: fill(Int32.self) { T($0) }
                case .int64: fill(Int64.self) { T($0) }
                case .uint8: fill(UInt8.self) { T($0) }
                case .uint16: fill(UInt16.self) { T($0) }
                case .uint32: fill(UInt32.self) { T($0) }
                case .uint64: fill(UInt64.self) { T($0) }
                case .bool: fill(UInt8.self) { $0 != 0 ? 1 : 0 }
                }
                initialized = count
            }
        }
    }

    /// Decodes integer or boolean elements as `Int`.
    /// - Throws: ``IDLError/unsupported(_:)`` for floating-point dtypes, ``IDLError/io(_:)`` for
    ///   an unsigned 64-bit value that does not fit in `Int`.
    static func decodeIntegers(_ data: Data, dtype: TensorDType, count: Int, source: String) throws -> [Int] {
        precondition(data.count == count * dtype.byteCount, "tensor byte count was not validated")
        guard !dtype.isFloatingPoint else {
            throw IDLError.unsupported(
                "\(source) holds \(dtype) values, expected an integer or bool dtype for integer data (labels); read it as a matrix instead"
            )
        }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [Int] in
            var out = [Int](repeating: 0, count: count)
            func fill<S: BinaryInteger>(_: S.Type) {
                for k in 0..<count {
                    out[k] = Int(raw.loadUnaligned(fromByteOffset: k * MemoryLayout<S>.stride, as: S.self))
                }
            }
            switch dtype {
            case .int8: fill(Int8.self)
            case .int16: fill(Int16.self)
            case .int32: fill(Int32.self)
            case .int64: fill(Int64.self)
            case .uint8, .bool: fill(UInt8.self)
            case .uint16: fill(UInt16.self)
            case .uint32: fill(UInt32.self)
            case .uint64:
                for k in 0..<count {
                    let v = raw.loadUnaligned(fromByteOffset: k * 8, as: UInt64.self)
                    guard let i = Int(exactly: v) else {
                        throw IDLError.io("\(source): element \(k) is \(v), which does not fit in a signed 64-bit Int")
                    }
                    out[k] = i
                }
            default: break
            }
            return out
        }
    }

    /// IEEE 754 half precision to `Float`, by bit manipulation (portable to every platform).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int(h >> 10) & 0x1f
        let mantissa = UInt32(h & 0x3ff)
        if exponent == 0 {
            // zero or subnormal: mantissa · 2^-24
            let value = Float(mantissa) * 0x1p-24
            return sign != 0 ? -value : value
        }
        if exponent == 31 {
            return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }

    /// Permutes elements stored in Fortran (column-major) order into C (row-major) order for a
    /// tensor of the given shape; element size `stride` bytes.
    static func fortranToC(_ data: Data, shape: [Int], stride: Int) -> Data {
        guard shape.count > 1, let count = BinaryIO.elementCount(shape), count > 0 else { return data }
        var out = Data(count: data.count)
        // Fortran strides (in elements) of each axis.
        var fStride = [Int](repeating: 1, count: shape.count)
        for a in 1..<shape.count { fStride[a] = fStride[a - 1] * shape[a - 1] }
        data.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            out.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
                var index = [Int](repeating: 0, count: shape.count)
                var fOffset = 0
                let last = shape.count - 1
                for c in 0..<count {
                    dst.baseAddress!.advanced(by: c * stride)
                        .copyMemory(from: src.baseAddress!.advanced(by: fOffset * stride), byteCount: stride)
                    // Advance the C-order odometer (last axis fastest).
                    var a = last
                    while a >= 0 {
                        index[a] += 1
                        fOffset += fStride[a]
                        if index[a] < shape[a] { break }
                        fOffset -= fStride[a] * shape[a]
                        index[a] = 0
                        a -= 1
                    }
                }
            }
        }
        return out
    }

    /// Transposes a row-major r×c block of `stride`-byte elements to column-major (and back,
    /// with r and c swapped).
    static func transpose(_ data: Data, rows: Int, cols: Int, stride: Int) -> Data {
        fortranToC(data, shape: [cols, rows], stride: stride)
    }
}
