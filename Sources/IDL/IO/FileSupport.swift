import CZlib
import Foundation

#if _endian(big)
    #error("The IDL file readers and writers assume a little-endian host (x86-64, arm64).")
#endif

/// Writing files so that a reader never sees a half-written file.
///
/// The bytes go to a temporary file in the destination's directory (same file system), which is
/// then renamed over the destination with POSIX `rename(2)`, an atomic replacement. An
/// interrupted run leaves either the old file or the new one, never a truncated mix.
///
/// Temporary files are hidden and recognisable: `.<name>.tmp-<pid>-<random>` next to `<name>`
/// (``isTemporaryFileName(_:)``), so nothing takes them for results. A run killed while writing
/// (SIGKILL, power cut) cannot remove its own; the next successful write of the same file removes
/// those left by processes that no longer exist.
public enum AtomicFile {
    /// Writes `data` to `url` atomically (temporary file in the same directory, then rename).
    /// - Parameters:
    ///   - data: the complete file contents.
    ///   - url: the destination; its directory must exist.
    /// - Throws: ``IDLError/io(_:)`` if the directory is missing or not writable, or the
    ///   rename fails; the temporary file is removed in that case.
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            throw IDLError.io(
                "cannot write \(url.path): the directory \(directory.path) does not exist; create it first")
        }
        let temporary = directory.appendingPathComponent(
            temporaryPrefix(for: url.lastPathComponent) + "\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try data.write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw IDLError.io(
                "cannot write \(url.path) (temporary file \(temporary.lastPathComponent)): \(error.localizedDescription)"
            )
        }
        if rename(temporary.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw IDLError.io("cannot move the finished file into place at \(url.path): \(reason)")
        }
        removeStaleTemporaries(for: url)
    }

    /// The start of the temporary files' names for a destination named `name`: `.<name>.tmp-`.
    static func temporaryPrefix(for name: String) -> String { ".\(name).tmp-" }

    /// Whether a file name is one of the temporary files ``write(_:to:)`` creates
    /// (`.<name>.tmp-<pid>-<random>`), e.g. left over by a killed run.
    public static func isTemporaryFileName(_ fileName: String) -> Bool {
        guard fileName.hasPrefix("."), let range = fileName.range(of: ".tmp-", options: .backwards),
            range.lowerBound > fileName.index(after: fileName.startIndex)
        else { return false }
        let tail = fileName[range.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        return tail.count == 2 && tail.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }

    /// Removes the temporary files of `url` whose writing process no longer exists.
    static func removeStaleTemporaries(for url: URL) {
        let directory = url.deletingLastPathComponent()
        let prefix = temporaryPrefix(for: url.lastPathComponent)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names where name.hasPrefix(prefix) && isTemporaryFileName(name) {
            guard let pid = Int32(name.dropFirst(prefix.count).split(separator: "-").first ?? ""), pid > 0,
                pid != getpid()
            else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                unlink(directory.appendingPathComponent(name).path)
            }
        }
    }
}

/// gzip (RFC 1952) compression and decompression through zlib.
public enum Gzip {
    /// Whether `bytes` start with the gzip magic number 1f 8b.
    public static func isCompressed(_ bytes: Data) -> Bool {
        bytes.count >= 2 && bytes[bytes.startIndex] == 0x1f && bytes[bytes.startIndex + 1] == 0x8b
    }

    /// The default bound on the decompressed size, 4 GiB: far above the largest data set
    /// file read here (CIFAR-100's `train.bin`, 150 MB), far below what a "gzip bomb" of a few
    /// megabytes would otherwise expand to.
    public static let defaultLimit = 1 << 32

    /// Decompresses a gzip (or zlib) stream, including files of several concatenated gzip
    /// members, as `gzip -d` does.
    /// - Parameters:
    ///   - compressed: the compressed bytes.
    ///   - source: a name for error messages (usually the file path).
    ///   - limit: the most bytes the output may have (default ``defaultLimit``); a stream that
    ///     expands beyond it is refused before more memory is taken.
    /// - Returns: the decompressed bytes.
    /// - Throws: ``IDLError/io(_:)`` when the stream is corrupt or ends early (truncated file)
    ///   or expands to more than `limit` bytes.
    public static func decompress(_ compressed: Data, source: String = "gzip data", limit: Int = defaultLimit) throws
        -> [UInt8]
    {
        if compressed.isEmpty { return [] }
        // The last four bytes of a gzip member hold the uncompressed size modulo 2^32: a good
        // first guess for the output buffer. A corrupt trailer may lie, so the guess is capped
        // by deflate's largest possible expansion (about 1032:1) and by `limit`; the buffer
        // grows as output arrives.
        let plausible = compressed.count.multipliedReportingOverflow(by: 1032)
        let limit = max(limit, 0)
        let tooLarge = IDLError.io(
            "\(source): the compressed data expands to more than \(limit) bytes, the limit for decompression; the file is corrupt or not a data file (pass a larger limit if it is genuine)"
        )
        let ceiling = min(plausible.overflow ? Int.max : plausible.partialValue, limit == Int.max ? limit : limit + 1)
        var capacity = min(max(compressed.count * 2, 1 << 16), ceiling)
        if compressed.count >= 18 {
            let e = compressed.endIndex
            let isize =
                Int(compressed[e - 4]) | Int(compressed[e - 3]) << 8
                | Int(compressed[e - 2]) << 16 | Int(compressed[e - 1]) << 24
            if isize > 0 { capacity = min(isize, ceiling) }
        }
        var output = [UInt8](repeating: 0, count: capacity)
        var produced = 0
        var stream = z_stream()
        var status = inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw IDLError.io("\(source): zlib could not start (inflateInit2 returned \(status))")
        }
        defer { inflateEnd(&stream) }

        try compressed.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            guard let base = input.baseAddress else { return }
            var consumed = 0
            while true {
                if produced == output.count {
                    guard output.count <= limit else {
                        throw tooLarge
                    }
                    output.append(
                        contentsOf: [UInt8](
                            repeating: 0, count: min(max(output.count / 2, 1 << 16), (limit - output.count) + 1)))
                }
                let inAvailable = min(input.count - consumed, Int(UInt32.max))
                let outAvailable = min(output.count - produced, Int(UInt32.max))
                stream.next_in = UnsafeMutablePointer(
                    mutating: base.advanced(by: consumed).assumingMemoryBound(to: Bytef.self))
                stream.avail_in = uInt(inAvailable)
                status = output.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress!.advanced(by: produced)
                    stream.avail_out = uInt(outAvailable)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                consumed += inAvailable - Int(stream.avail_in)
                produced += outAvailable - Int(stream.avail_out)
                switch status {
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress possible: either the output is full (grow it above) or the
                    // input ended in the middle of the stream.
                    if produced < output.count {
                        throw IDLError.io(
                            "\(source): the compressed data ends early (truncated file?) after \(consumed) of \(input.count) bytes; download or copy the file again"
                        )
                    }
                case Z_STREAM_END:
                    // Skip zero padding some tools leave after the last member.
                    var rest = consumed
                    while rest < input.count && input[rest] == 0 { rest += 1 }
                    if rest >= input.count { return }
                    consumed = rest
                    inflateReset(&stream)  // another gzip member follows
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    throw IDLError.io(
                        "\(source): the compressed data is corrupt (zlib: \(message)); download or copy the file again")
                }
            }
        }
        guard produced <= limit else {
            throw tooLarge
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Compresses bytes into a single-member gzip stream (what `gzip` writes).
    /// - Parameters:
    ///   - bytes: the data to compress.
    ///   - level: zlib compression level 0–9 (6 is gzip's default).
    /// - Returns: the gzip file contents.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a level outside 0–9,
    ///   ``IDLError/io(_:)`` if zlib fails.
    public static func compress(_ bytes: Data, level: Int = 6) throws -> Data {
        guard (0...9).contains(level) else {
            throw IDLError.invalidArgument("gzip level must be in 0...9, got \(level)")
        }
        var stream = z_stream()
        var status = deflateInit2_(
            &stream, Int32(level), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw IDLError.io("zlib could not start compressing (deflateInit2 returned \(status))")
        }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(bytes.count))) + 64
        var output = [UInt8](repeating: 0, count: bound)
        status = bytes.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> Int32 in
            output.withUnsafeMutableBufferPointer { out in
                var empty: UInt8 = 0
                stream.next_in =
                    input.baseAddress.map {
                        UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self))
                    } ?? withUnsafeMutablePointer(to: &empty) { $0 }
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress!
                stream.avail_out = uInt(out.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw IDLError.io("zlib failed to compress (deflate returned \(status))") }
        return Data(output[0..<Int(stream.total_out)])
    }
}

/// Internal helpers shared by the file readers.
enum BinaryIO {
    /// Reads a whole file, with an error that names the file and what to do.
    static func readFile(_ url: URL, what: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw IDLError.io("\(what) not found: \(url.path) does not exist; check the path")
        }
        guard !isDirectory.boolValue else {
            throw IDLError.io("\(what): \(url.path) is a directory, expected a file")
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw IDLError.io("cannot read \(what) \(url.path): \(error.localizedDescription)")
        }
    }

    /// Product of dimensions, or nil for a negative entry or a shape too large for `Int`.
    ///
    /// "Too large" ignores zeros: the product of the non-zero dimensions must fit too, since
    /// readers compute partial products (rows × columns of a matrix view) of shapes such as
    /// (0, 2⁴⁰, 2⁴⁰), whose element count is 0 but whose trailing dimensions overflow.
    static func elementCount(_ shape: [Int]) -> Int? {
        var nonZero = 1
        var hasZero = false
        for d in shape {
            guard d >= 0 else { return nil }
            if d == 0 {
                hasZero = true
                continue
            }
            let (p, overflow) = nonZero.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            nonZero = p
        }
        return hasZero ? 0 : nonZero
    }

    /// A shape as numpy prints it: `(10, 16)`, `(5,)`, `()`.
    static func describe(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
}
