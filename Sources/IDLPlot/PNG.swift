import CPNG
import CZlib
import Foundation
import IDL

#if canImport(Glibc)
    import Glibc
#endif

/// An 8-bit image as PNG files hold it: grey, grey + alpha, RGB or RGBA, row-major from the
/// top-left corner. Written and read through libpng.
///
/// **Errors and libpng.** libpng reports errors by `longjmp`, which Swift cannot catch. So
/// nothing reaches libpng unchecked: the writer validates sizes and buffers first and lets
/// libpng write only to memory (a write callback that cannot fail); the file itself is then
/// written by Swift, atomically (temporary file in the same directory, then `rename`). The
/// reader loads the file into memory and checks the signature, the header, every chunk's
/// length and CRC, the chunk order, and the compressed image data itself (inflated by zlib
/// to check its size and row filters) before libpng sees it; damaged files throw
/// `IDLError.io`. Should libpng still find fault while reading, its error returns through
/// small C functions (in the CPNG module) that hold libpng's jump target, and becomes
/// `IDLError.io` too. When writing, libpng's error callback, should it ever run, stops the
/// program with libpng's message rather than jumping through Swift frames.
///
/// **Determinism.** The encoder writes no time stamp or text chunks and uses fixed zlib and
/// filter settings, so the same pixels always give the same bytes.
public struct PNGImage: Equatable, Sendable {
    /// PNG colour types (the values of the IHDR chunk).
    public enum ColorType: UInt8, Sendable {
        /// One channel: grey.
        case gray = 0
        /// Three channels: red, green, blue.
        case rgb = 2
        /// An indexed (palette) image; only ever reported as ``PNGImage/fileColorType``.
        case palette = 3
        /// Two channels: grey, alpha.
        case grayAlpha = 4
        /// Four channels: red, green, blue, alpha.
        case rgba = 6

        /// Channels per pixel after decoding (a palette decodes to RGB).
        public var channels: Int {
            switch self {
            case .gray: return 1
            case .grayAlpha: return 2
            case .rgb, .palette: return 3
            case .rgba: return 4
            }
        }
    }

    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// The layout of ``pixels`` (never `.palette`).
    public let colorType: ColorType
    /// The colour type stored in the file this image was read from (equal to ``colorType``
    /// for images created in memory).
    public let fileColorType: ColorType
    /// The bit depth stored in the file (8 for images created in memory; 1, 2, 4 and 16-bit
    /// files are converted to 8 bits per channel when read).
    public let fileBitDepth: Int
    /// The samples, `channels` bytes per pixel, rows from the top.
    public let pixels: [UInt8]

    /// Channels per pixel of ``pixels``.
    public var channels: Int { colorType.channels }

    /// An image over existing samples.
    /// - Throws: `IDLError.invalidArgument` for a size outside 1...16384 or a
    ///   palette colour type; `IDLError.shapeMismatch` if `pixels.count` is not
    ///   `width * height * channels`.
    public init(width: Int, height: Int, colorType: ColorType, pixels: [UInt8]) throws {
        guard width >= 1, height >= 1, width <= Canvas.maximumSide, height <= Canvas.maximumSide else {
            throw IDLError.invalidArgument(
                "PNG size must be 1...\(Canvas.maximumSide) pixels on each side, got \(width)×\(height)")
        }
        guard colorType != .palette else {
            throw IDLError.invalidArgument("palette images are not written; use gray, grayAlpha, rgb or rgba")
        }
        guard pixels.count == width * height * colorType.channels else {
            throw IDLError.shapeMismatch(
                "a \(width)×\(height) \(colorType) image needs \(width * height * colorType.channels) bytes, got \(pixels.count)"
            )
        }
        self.init(unchecked: width, height, colorType, colorType, 8, pixels)
    }

    init(
        unchecked width: Int, _ height: Int, _ colorType: ColorType, _ fileColorType: ColorType, _ depth: Int,
        _ pixels: [UInt8]
    ) {
        self.width = width
        self.height = height
        self.colorType = colorType
        self.fileColorType = fileColorType
        self.fileBitDepth = depth
        self.pixels = pixels
    }

    /// The colour of pixel (x, y), grey expanded to RGB and missing alpha taken as opaque.
    /// - Precondition: the pixel is inside the image.
    public func color(_ x: Int, _ y: Int) -> Color {
        precondition(
            x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside a \(width)×\(height) image")
        let o = (y * width + x) * channels
        switch colorType {
        case .gray: return Color(gray: pixels[o])
        case .grayAlpha: return Color(r: pixels[o], g: pixels[o], b: pixels[o], a: pixels[o + 1])
        case .rgb, .palette: return Color(r: pixels[o], g: pixels[o + 1], b: pixels[o + 2])
        case .rgba: return Color(r: pixels[o], g: pixels[o + 1], b: pixels[o + 2], a: pixels[o + 3])
        }
    }

    /// An 8-bit greyscale image of a matrix, one pixel per entry: entry (i, j) becomes pixel
    /// (x = j, y = i), `range.lowerBound` black and `range.upperBound` white (values outside
    /// are clamped). The default range is the matrix's minimum to maximum.
    /// - Throws: `IDLError.nonFinite` if an entry is NaN or ±∞;
    ///   `IDLError.invalidArgument` for an empty or too large matrix or an empty range.
    public init<T: BLASScalar>(grayscale matrix: Matrix<T>, range: ClosedRange<Double>? = nil) throws {
        guard matrix.isFinite else {
            throw IDLError.nonFinite(
                "a \(matrix.shapeDescription) matrix with NaN or infinite entries cannot be shown as a greyscale image")
        }
        var lo = range?.lowerBound ?? Double(matrix.storage.min() ?? 0)
        var hi = range?.upperBound ?? Double(matrix.storage.max() ?? 1)
        guard lo.isFinite, hi.isFinite, range == nil || hi > lo else {
            throw IDLError.invalidArgument("the grey range must be finite and non-empty, got \(lo)...\(hi)")
        }
        if hi == lo {
            lo -= 0.5
            hi += 0.5
        }
        let (r, c) = (matrix.rows, matrix.cols)
        var pixels = [UInt8](repeating: 0, count: r * c)
        for j in 0..<c {
            for i in 0..<r {
                let t = (Double(matrix.storage[i + j * r]) - lo) / (hi - lo)
                pixels[i * c + j] = UInt8((min(1, max(0, t)) * 255).rounded())
            }
        }
        try self.init(width: c, height: r, colorType: .gray, pixels: pixels)
    }

    // MARK: Encoding

    /// The PNG file bytes (8 bits per channel, no interlacing, zlib level 9, libpng's
    /// default adaptive filtering, no ancillary chunks).
    public func pngData() -> [UInt8] {
        let sink = ByteSink()
        let ver = png_get_libpng_ver(nil)
        guard let png = png_create_write_struct(ver, nil, pngErrorCallback, pngWarningCallback) else {
            fatalError("libpng could not allocate a write structure (out of memory)")
        }
        var pngOpt: png_structp? = png
        var info: png_infop? = png_create_info_struct(png)
        defer { png_destroy_write_struct(&pngOpt, &info) }
        guard info != nil else { fatalError("libpng could not allocate an info structure (out of memory)") }
        let box = Unmanaged.passUnretained(sink).toOpaque()
        png_set_write_fn(png, box, pngWriteCallback, pngFlushCallback)
        // Bit depth 8; interlace, compression and filter types 0: PNG_INTERLACE_NONE,
        // PNG_COMPRESSION_TYPE_BASE, PNG_FILTER_TYPE_BASE.
        png_set_IHDR(
            png, info, png_uint_32(width), png_uint_32(height), 8, Int32(colorType.rawValue), 0, 0, 0)
        png_set_compression_level(png, 9)
        png_set_compression_mem_level(png, 8)
        png_set_compression_strategy(png, 0)  // Z_DEFAULT_STRATEGY
        png_set_compression_window_bits(png, 15)
        png_write_info(png, info)
        let rowBytes = width * channels
        var copy = pixels
        copy.withUnsafeMutableBufferPointer { buf in
            var rows: [png_bytep?] = (0..<height).map { buf.baseAddress! + $0 * rowBytes }
            rows.withUnsafeMutableBufferPointer { r in png_write_image(png, r.baseAddress) }
        }
        png_write_end(png, nil)
        return sink.bytes
    }

    /// Writes the image as a PNG file, atomically (a temporary file in the same directory,
    /// then renamed over `url`).
    /// - Throws: `IDLError.io` if the directory does not exist or is not writable,
    ///   or the file cannot be written.
    public func write(to url: URL) throws {
        try writeFileAtomically(pngData(), to: url)
    }

    // MARK: Decoding

    /// Reads a PNG file. Pixels come back with 8 bits per channel: palette images are
    /// expanded to RGB (RGBA if they have transparency), 16-bit samples are reduced to 8 bits.
    /// - Throws: `IDLError.io` if the file cannot be read or is not a valid PNG;
    ///   `IDLError.unsupported` for interlaced images or sides above 16384.
    public static func read(from url: URL) throws -> PNGImage {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: url))
        } catch {
            throw IDLError.io("cannot read PNG file \(url.path): \(error.localizedDescription)")
        }
        return try decode(bytes, name: url.path)
    }

    /// Decodes PNG bytes held in memory (see ``read(from:)``).
    ///
    /// - Parameters:
    ///   - bytes: The complete contents of a PNG file.
    ///   - name: What error messages call the data (a path, for instance).
    /// - Returns: The image, 8 bits per channel.
    /// - Throws: `IDLError.io` if the bytes are not a valid PNG;
    ///   `IDLError.unsupported` for interlaced images or sides above 16384.
    public static func decode(_ bytes: [UInt8], name: String = "PNG data") throws -> PNGImage {
        let header = try validatePNG(bytes, name: name)
        let source = ByteSource(bytes)
        // libpng's errors come back as return values of the C helpers in CPNG's shim.h, with
        // the message here (libpng would otherwise longjmp through Swift frames).
        let error = UnsafeMutablePointer<idl_png_error>.allocate(capacity: 1)
        error.initialize(to: idl_png_error())
        defer { error.deallocate() }
        func failure() -> IDLError {
            let message = withUnsafeBytes(of: error.pointee.message) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            return IDLError.io("\(name): libpng cannot decode it: \(message) (corrupt or unusual PNG file)")
        }
        guard let png = idl_png_create_read_struct(error) else {
            fatalError("libpng could not allocate a read structure (out of memory)")
        }
        var pngOpt: png_structp? = png
        var info: png_infop? = png_create_info_struct(png)
        defer { png_destroy_read_struct(&pngOpt, &info, nil) }
        guard info != nil else { fatalError("libpng could not allocate an info structure (out of memory)") }
        png_set_read_fn(png, Unmanaged.passUnretained(source).toOpaque(), pngReadCallback)
        // Palette → RGB, grey < 8 bits → 8 bits, tRNS → alpha, 16 → 8 bits.
        guard idl_png_read_header(png, info) != 0 else { throw failure() }
        let channels = Int(png_get_channels(png, info))
        let rowBytes = Int(png_get_rowbytes(png, info))
        let w = header.width
        let h = header.height
        guard rowBytes == w * channels, (1...4).contains(channels) else {
            throw IDLError.unsupported(
                "\(name): unexpected decoded layout (\(channels) channels, \(rowBytes) bytes per row)")
        }
        var pixels = [UInt8](repeating: 0, count: rowBytes * h)
        let read = pixels.withUnsafeMutableBufferPointer { buf in
            var rows: [png_bytep?] = (0..<h).map { buf.baseAddress! + $0 * rowBytes }
            return rows.withUnsafeMutableBufferPointer { r in idl_png_read_rows(png, r.baseAddress) }
        }
        guard read != 0 else { throw failure() }
        let decoded: ColorType = [1: .gray, 2: .grayAlpha, 3: .rgb, 4: .rgba][channels]!
        return PNGImage(unchecked: w, h, decoded, header.colorType, header.bitDepth, pixels)
    }

    /// Checks the signature, IHDR and every chunk's length and CRC, so libpng is only ever
    /// handed structurally sound data.
    static func validatePNG(_ b: [UInt8], name: String) throws -> (
        width: Int, height: Int, colorType: ColorType, bitDepth: Int
    ) {
        let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
        guard b.count >= 8 + 25 + 12, Array(b[0..<8]) == signature else {
            throw IDLError.io("\(name) is not a PNG file (missing PNG signature)")
        }
        func u32(_ o: Int) -> Int { Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3]) }
        var offset = 8
        var sawIHDR = false
        var sawIDAT = false
        var sawIEND = false
        var sawPLTE = false
        var idatEnded = false
        var idat: [(offset: Int, length: Int)] = []
        var result: (Int, Int, ColorType, Int) = (0, 0, .gray, 8)
        while offset < b.count {
            guard offset + 12 <= b.count else { throw IDLError.io("\(name): truncated chunk at byte \(offset)") }
            let length = u32(offset)
            guard length <= 0x7FFF_FFFF, offset + 12 + length <= b.count else {
                throw IDLError.io(
                    "\(name): chunk at byte \(offset) claims \(length) bytes but the file ends first (truncated file?)")
            }
            let typeBytes = b[(offset + 4)..<(offset + 8)]
            guard typeBytes.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                let hex = typeBytes.map { String(format: "%02x", $0) }.joined(separator: " ")
                throw IDLError.io(
                    "\(name): chunk at byte \(offset) has the type bytes \(hex), not four ASCII letters (corrupt file)")
            }
            let type = String(decoding: typeBytes, as: UTF8.self)
            let stored = UInt32(u32(offset + 8 + length))
            let computed = crc32(b, from: offset + 4, count: length + 4)
            guard stored == computed else {
                throw IDLError.io("\(name): CRC mismatch in chunk \(type) at byte \(offset) (corrupt file)")
            }
            if !sawIHDR {
                guard type == "IHDR", length == 13 else {
                    throw IDLError.io("\(name): first chunk is \(type), expected IHDR")
                }
                let w = u32(offset + 8)
                let h = u32(offset + 12)
                let depth = Int(b[offset + 16])
                let ct = b[offset + 17]
                let compression = b[offset + 18]
                let filter = b[offset + 19]
                let interlace = b[offset + 20]
                guard let colorType = ColorType(rawValue: ct) else {
                    throw IDLError.io("\(name): invalid colour type \(ct)")
                }
                let allowed: [ColorType: [Int]] = [
                    .gray: [1, 2, 4, 8, 16], .rgb: [8, 16], .palette: [1, 2, 4, 8],
                    .grayAlpha: [8, 16], .rgba: [8, 16],
                ]
                guard allowed[colorType]!.contains(depth) else {
                    throw IDLError.io("\(name): bit depth \(depth) is invalid for colour type \(colorType)")
                }
                guard w >= 1, h >= 1 else { throw IDLError.io("\(name): invalid size \(w)×\(h)") }
                guard w <= Canvas.maximumSide, h <= Canvas.maximumSide else {
                    throw IDLError.unsupported(
                        "\(name): \(w)×\(h) exceeds the \(Canvas.maximumSide)-pixel limit per side")
                }
                guard compression == 0, filter == 0 else {
                    throw IDLError.io("\(name): unknown compression or filter method")
                }
                guard interlace == 0 else {
                    throw IDLError.unsupported("\(name): interlaced PNG files are not supported")
                }
                result = (w, h, colorType, depth)
                sawIHDR = true
            } else if type == "IHDR" {
                throw IDLError.io("\(name): a second IHDR chunk")
            } else if type == "IDAT" {
                guard !idatEnded else { throw IDLError.io("\(name): IDAT chunks are not consecutive") }
                if result.2 == .palette && !sawPLTE {
                    throw IDLError.io("\(name): palette image without a PLTE chunk before its data")
                }
                sawIDAT = true
                idat.append((offset + 8, length))
            } else if type == "IEND" {
                sawIEND = true
                break
            } else if type == "PLTE" {
                guard !sawPLTE, !sawIDAT, length % 3 == 0, length > 0, length <= 768 else {
                    throw IDLError.io("\(name): invalid, repeated or misplaced PLTE chunk")
                }
                sawPLTE = true
            } else if b[offset + 4] & 0x20 == 0 {  // unknown critical chunk
                throw IDLError.unsupported("\(name): unknown critical chunk \(type)")
            }
            if sawIDAT && type != "IDAT" { idatEnded = true }
            offset += 12 + length
        }
        guard sawIDAT, sawIEND else {
            throw IDLError.io("\(name): missing \(sawIDAT ? "IEND" : "IDAT") chunk (truncated file?)")
        }
        let channels = result.2 == .palette ? 1 : result.2.channels
        let rowBytes = (result.0 * channels * result.3 + 7) / 8
        try checkImageData(b, idat, rows: result.1, rowBytes: rowBytes, name: name)
        return result
    }

    /// Inflates the image data (without keeping it) to check that the zlib stream is intact,
    /// has exactly `rows × (1 + rowBytes)` bytes and valid filter types (0–4), so libpng's
    /// own decoding cannot fail.
    static func checkImageData(
        _ b: [UInt8], _ idat: [(offset: Int, length: Int)], rows: Int, rowBytes: Int,
        name: String
    ) throws {
        let expected = rows * (rowBytes + 1)
        var stream = z_stream()
        guard inflateInit_(&stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw IDLError.io("\(name): zlib could not be initialised")
        }
        defer { inflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: 1 << 16)
        var produced = 0
        var nextRow = 0
        var finished = false
        let corrupt = IDLError.io("\(name): the compressed image data is corrupt")
        try b.withUnsafeBufferPointer { bp in
            for chunk in idat {
                if finished {
                    if chunk.length > 0 { throw IDLError.io("\(name): data after the end of the compressed image") }
                    continue
                }
                stream.next_in = UnsafeMutablePointer(mutating: bp.baseAddress! + chunk.offset)
                stream.avail_in = UInt32(chunk.length)
                repeat {
                    let rc = out.withUnsafeMutableBufferPointer { op -> Int32 in
                        stream.next_out = op.baseAddress
                        stream.avail_out = UInt32(op.count)
                        return inflate(&stream, Z_NO_FLUSH)
                    }
                    let n = out.count - Int(stream.avail_out)
                    while nextRow < produced + n {
                        if out[nextRow - produced] > 4 {
                            throw IDLError.io("\(name): invalid filter type in row \(nextRow / (rowBytes + 1))")
                        }
                        nextRow += rowBytes + 1
                    }
                    produced += n
                    guard produced <= expected else {
                        throw IDLError.io("\(name): more image data than \(rows) rows hold")
                    }
                    if rc == Z_STREAM_END {
                        finished = true
                        break
                    }
                    if rc == Z_BUF_ERROR && stream.avail_in == 0 { break }  // needs the next chunk
                    guard rc == Z_OK else { throw corrupt }
                } while stream.avail_in > 0 || stream.avail_out == 0
                if finished && stream.avail_in > 0 {
                    throw IDLError.io("\(name): data after the end of the compressed image")
                }
            }
        }
        guard finished, produced == expected else {
            throw IDLError.io(
                "\(name): image data holds \(produced) bytes, \(expected) expected (truncated or corrupt)")
        }
    }
}

extension Canvas {
    /// The canvas as a ``PNGImage``: 8-bit RGB when every pixel is opaque (a rendered
    /// figure), else RGBA.
    public var pngImage: PNGImage {
        guard isOpaque else { return PNGImage(unchecked: width, height, .rgba, .rgba, 8, pixels) }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            rgb[3 * i] = pixels[4 * i]
            rgb[3 * i + 1] = pixels[4 * i + 1]
            rgb[3 * i + 2] = pixels[4 * i + 2]
        }
        return PNGImage(unchecked: width, height, .rgb, .rgb, 8, rgb)
    }

    /// The PNG file bytes of the canvas (8-bit RGB when opaque, else RGBA).
    public func pngData() -> [UInt8] { pngImage.pngData() }

    /// Writes the canvas as an 8-bit RGB(A) PNG file (as ``pngData()``), atomically.
    /// - Throws: `IDLError.io` for a missing or unwritable directory.
    public func write(to url: URL) throws { try pngImage.write(to: url) }
}

// MARK: - libpng callbacks (C calling convention, no captured context)

private final class ByteSink { var bytes: [UInt8] = [] }

private final class ByteSource {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

private let pngWriteCallback: @convention(c) (png_structp?, png_bytep?, Int) -> Void = { png, data, length in
    guard let png, let data, let io = png_get_io_ptr(png) else { return }
    let sink = Unmanaged<ByteSink>.fromOpaque(io).takeUnretainedValue()
    sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: length))
}

private let pngFlushCallback: @convention(c) (png_structp?) -> Void = { _ in }

private let pngReadCallback: @convention(c) (png_structp?, png_bytep?, Int) -> Void = { png, data, length in
    guard let png, let data, let io = png_get_io_ptr(png) else { return }
    let source = Unmanaged<ByteSource>.fromOpaque(io).takeUnretainedValue()
    // The chunk structure was validated, so libpng never asks for more than the file holds;
    // should it, the missing bytes read as zeros (and fail libpng's own checks).
    let available = max(0, min(length, source.bytes.count - source.offset))
    source.bytes.withUnsafeBufferPointer { b in
        if available > 0 { (data).update(from: b.baseAddress! + source.offset, count: available) }
    }
    if available < length { (data + available).update(repeating: 0, count: length - available) }
    source.offset += available
}

private let pngErrorCallback: @convention(c) (png_structp?, png_const_charp?) -> Void = { _, message in
    // Returning would make libpng longjmp through Swift frames; stop cleanly instead.
    let text = message.map { String(cString: $0) } ?? "unknown error"
    fatalError("libpng error: \(text)")
}

private let pngWarningCallback: @convention(c) (png_structp?, png_const_charp?) -> Void = { _, _ in }

// MARK: - CRC-32 (ISO 3309, as PNG chunks use)

private let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

func crc32(_ b: [UInt8], from start: Int, count: Int) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for i in start..<(start + count) { c = crcTable[Int((c ^ UInt32(b[i])) & 0xFF)] ^ (c >> 8) }
    return c ^ 0xFFFF_FFFF
}

// MARK: - Atomic file writing

/// Writes `bytes` to a temporary file next to `url` and renames it over `url`, so readers
/// never see a half-written file (``AtomicFile/write(_:to:)``, shared by every writer).
func writeFileAtomically(_ bytes: [UInt8], to url: URL) throws {
    guard url.isFileURL else { throw IDLError.io("\(url) is not a file URL") }
    try AtomicFile.write(Data(bytes), to: url)
}
