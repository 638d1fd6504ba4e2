import CZlib
import Foundation

#if _endian(big)
    #error("The IDL file readers and writers assume a little-endian host (x86-64, arm64).")
#endif

/// File paths as the operating system sees them: bytes, not necessarily UTF-8.
///
/// Swift strings hold Unicode text, but a Linux file name is any sequence of bytes without `/`
/// and NUL. To carry such a name through `String` and `URL` APIs, each byte that is not part of
/// valid UTF-8 is stored as the private-use scalar U+10FF00 + byte (as Python's
/// "surrogateescape" does with lone surrogates); every reader and writer of this library turns
/// those scalars back into the original bytes before calling the system. The `idl` tool reads
/// its arguments this way, so `idl predict --output $'y\xff.npy'` writes exactly that name.
/// A genuine name containing the scalars U+10FF80–U+10FFFF (private use, not assigned to
/// anything) would be misread as raw bytes.
public enum FilePathBytes {
    /// The first private-use scalar of the escapes: U+10FF00 + byte.
    static let escapeBase: UInt32 = 0x10FF00

    /// A string for `bytes`: valid UTF-8 decoded as usual, each other byte escaped.
    /// - Parameter bytes: a path (or any argument) as the system gave it.
    /// - Returns: the string; ``fileSystemBytes(_:)`` gives the bytes back.
    public static func string(fromFileSystemBytes bytes: [UInt8]) -> String {
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < bytes.count {
            var taken = false
            for length in 1...4 where i + length <= bytes.count {
                if let s = String(validating: bytes[i..<(i + length)], as: UTF8.self), s.unicodeScalars.count == 1 {
                    let scalar = s.unicodeScalars.first!
                    // A genuine escape scalar in the input would be ambiguous: escape its bytes.
                    if scalar.value >= escapeBase + 0x80 && scalar.value <= escapeBase + 0xFF { break }
                    scalars.append(scalar)
                    i += length
                    taken = true
                    break
                }
            }
            if !taken {
                scalars.append(Unicode.Scalar(escapeBase + UInt32(bytes[i]))!)
                i += 1
            }
        }
        return String(scalars)
    }

    /// The bytes a path string stands for: UTF-8, with escaped bytes restored.
    /// - Parameter path: a path, possibly made by ``string(fromFileSystemBytes:)``.
    /// - Returns: the bytes to give the system (without a terminating NUL).
    public static func fileSystemBytes(_ path: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(path.utf8.count)
        for scalar in path.unicodeScalars {
            if scalar.value >= escapeBase + 0x80 && scalar.value <= escapeBase + 0xFF {
                out.append(UInt8(scalar.value - escapeBase))
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        return out
    }

    /// A path for messages: escaped bytes shown as `\xFF`.
    /// - Parameter path: a path string.
    /// - Returns: printable text.
    public static func display(_ path: String) -> String {
        var out = ""
        for scalar in path.unicodeScalars {
            if scalar.value >= escapeBase + 0x80 && scalar.value <= escapeBase + 0xFF {
                out += "\\x" + String(format: "%02X", scalar.value - escapeBase)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A path for messages from bytes.
    static func display(bytes: [UInt8]) -> String { display(string(fromFileSystemBytes: bytes)) }

    /// Calls `body` with the path as a NUL-terminated C string.
    static func withCString<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try (path + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    /// The directory part of a byte path (`.` for a bare name, `/` for the root).
    static func directory(of path: [UInt8]) -> [UInt8] {
        var p = path
        while p.count > 1 && p.last == UInt8(ascii: "/") { p.removeLast() }
        guard let slash = p.lastIndex(of: UInt8(ascii: "/")) else { return Array(".".utf8) }
        var d = Array(p[..<slash])
        while d.count > 1 && d.last == UInt8(ascii: "/") { d.removeLast() }
        return d.isEmpty ? [UInt8(ascii: "/")] : d
    }

    /// The last component of a byte path.
    static func name(of path: [UInt8]) -> [UInt8] {
        var p = path
        while p.count > 1 && p.last == UInt8(ascii: "/") { p.removeLast() }
        guard let slash = p.lastIndex(of: UInt8(ascii: "/")) else { return p }
        return Array(p[(slash + 1)...])
    }

    /// `directory/name`.
    static func join(_ directory: [UInt8], _ name: [UInt8]) -> [UInt8] {
        directory.last == UInt8(ascii: "/") ? directory + name : directory + [UInt8(ascii: "/")] + name
    }
}

/// What a path names, as `stat(2)` reports it.
enum FileKind: Equatable {
    case missing, regular, directory, symlink, characterDevice, blockDevice, fifo, socket, other

    init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFLNK: self = .symlink
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFIFO: self = .fifo
        case S_IFSOCK: self = .socket
        default: self = .other
        }
    }

    /// "a character device", "a directory", … for messages.
    var phrase: String {
        switch self {
        case .missing: return "missing"
        case .regular: return "a regular file"
        case .directory: return "a directory"
        case .symlink: return "a symbolic link"
        case .characterDevice: return "a character device"
        case .blockDevice: return "a block device"
        case .fifo: return "a pipe (FIFO)"
        case .socket: return "a socket"
        case .other: return "a special file"
        }
    }

    /// `stat` (following links) or `lstat`; `.missing` for ENOENT, nil with errno for other failures.
    static func of(_ path: [UInt8], followingLinks: Bool = true) -> (kind: FileKind, info: stat)? {
        var st = stat()
        let r = FilePathBytes.withCString(path) { followingLinks ? stat($0, &st) : lstat($0, &st) }
        if r != 0 { return errno == ENOENT ? (.missing, st) : nil }
        return (FileKind(mode: st.st_mode), st)
    }
}

/// Writing files so that a reader never sees a half-written file, and so that nothing but the
/// named output is ever changed.
///
/// What happens depends on what the output path names (one policy for every writer of the
/// library and the `idl` tool):
/// - nothing: a new file is created, atomically (see below), with mode 0666 less the umask;
/// - a regular file: it is replaced atomically, keeping its permission bits (and, for root,
///   its owner); a write-protected file (no write permission bit, or not writable by the user)
///   is refused instead;
/// - a symbolic link (also a chain of them, also a dangling one): the file it points to is
///   written, atomically next to that file; the link stays;
/// - a character device (`/dev/null`, a terminal, `/dev/stdout` on a terminal) or a pipe
///   (`/dev/stdout` into a pipe, a FIFO): the bytes are written through it; it is never replaced;
/// - anything else (a directory, a block device, a socket): refused with a message.
///
/// Atomically means: the bytes go to a temporary file in the destination's directory (same file
/// system), which is then renamed over the destination with POSIX `rename(2)`. An interrupted
/// run leaves either the old file or the new one, never a truncated mix.
///
/// Temporary files are hidden and recognisable: `.<name>.tmp-<pid>-<random>` next to `<name>`
/// (``isTemporaryFileName(_:)``), with `<name>` shortened so that the whole name fits the
/// 255-byte limit of a file name, so nothing takes them for results. A run killed while writing
/// (SIGKILL, power cut) cannot remove its own; the next successful write of the same file removes
/// those left by processes that no longer exist.
///
/// Paths are bytes (``FilePathBytes``): a name that is not UTF-8 is written under exactly that name.
public enum AtomicFile {
    /// Where bytes for an output path go.
    enum Destination {
        /// Create or replace `path` by renaming a temporary file over it; `existing` holds the
        /// mode and owner to keep.
        case replace(path: [UInt8], existing: stat?)
        /// Write through an existing character device or pipe.
        case writeThrough(path: [UInt8], kind: FileKind)
    }

    /// Writes `data` to `url` following the policy above.
    /// - Parameters:
    ///   - data: the complete file contents.
    ///   - url: the destination; its directory must exist.
    /// - Throws: ``IDLError/io(_:)`` if the directory is missing or not writable, the path names
    ///   something the policy refuses, or the write or the rename fails; a temporary file is
    ///   removed in that case.
    public static func write(_ data: Data, to url: URL) throws {
        switch try destination(url.path) {
        case .writeThrough(let path, _):
            try writeThrough(data, path: path, flags: O_WRONLY | O_TRUNC)
        case .replace(let path, let existing):
            try replace(path, with: data, keeping: existing)
        }
    }

    /// Appends `data` to `url` (a log), creating the file if needed; the same policy decides
    /// what may be written, but an existing file is extended in place, not replaced.
    /// - Parameters:
    ///   - data: the bytes to add at the end.
    ///   - url: the file.
    /// - Throws: ``IDLError/io(_:)`` as ``write(_:to:)``.
    public static func append(_ data: Data, to url: URL) throws {
        switch try destination(url.path) {
        case .writeThrough(let path, _):
            try writeThrough(data, path: path, flags: O_WRONLY | O_APPEND)
        case .replace(let path, _):
            try writeThrough(data, path: path, flags: O_WRONLY | O_APPEND | O_CREAT)
        }
    }

    /// Checks that ``write(_:to:)`` can write `url` now, before a long computation whose
    /// result would otherwise be lost: the policy accepts what is at the path, and a temporary
    /// file can be created (and is removed at once) in its directory, the test that also
    /// holds for root and for read-only file systems. With `creatingDirectories`, missing
    /// directories are created first (as the write would); otherwise a missing directory is an error.
    /// - Parameters:
    ///   - url: the output path.
    ///   - creatingDirectories: whether to create missing directories (``createDirectories(_:)``).
    /// - Throws: ``IDLError/io(_:)`` saying what is wrong with the path and what to do.
    public static func checkWritable(_ url: URL, creatingDirectories: Bool = false) throws {
        let shown = FilePathBytes.display(url.path)
        guard case .replace(let path, _) = try destination(url.path, requireDirectory: !creatingDirectories) else {
            return  // a device or a pipe, written through
        }
        let directory = FilePathBytes.directory(of: path)
        if creatingDirectories { try createDirectories(directory) }
        try probe(directory, name: FilePathBytes.name(of: path), for: shown)
    }

    /// Checks that `url` can be used as an output directory: it is created if missing (with its
    /// parents), and a temporary file can be created in it (and is removed at once).
    /// - Parameter url: the directory.
    /// - Throws: ``IDLError/io(_:)`` saying what is wrong.
    public static func checkDirectoryWritable(_ url: URL) throws {
        let path = FilePathBytes.fileSystemBytes(url.path)
        try createDirectories(path)
        try probe(path, name: Array("probe".utf8), for: FilePathBytes.display(url.path))
    }

    /// Creates and removes a temporary file (named as ``write(_:to:)`` names them) in `directory`.
    static func probe(_ directory: [UInt8], name: [UInt8], for shown: String) throws {
        let temporary = FilePathBytes.join(
            directory, temporaryPrefix(for: name) + Array("\(getpid())-\(UInt32.random(in: 0...UInt32.max))".utf8))
        let fd = FilePathBytes.withCString(temporary) { open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        guard fd >= 0 else {
            throw IDLError.io(
                "cannot write \(shown): the directory \(FilePathBytes.display(bytes: directory)) does not accept new files (\(String(cString: strerror(errno)))); choose another output path or fix its permissions"
            )
        }
        close(fd)
        FilePathBytes.withCString(temporary) { _ = unlink($0) }
    }

    /// Creates a directory and its missing parents (as `mkdir -p`).
    /// - Parameter url: the directory.
    /// - Throws: ``IDLError/io(_:)`` naming the component that could not be created and why.
    public static func createDirectories(_ url: URL) throws {
        try createDirectories(FilePathBytes.fileSystemBytes(url.path))
    }

    static func createDirectories(_ path: [UInt8]) throws {
        guard let (kind, _) = FileKind.of(path) else { throw failure("cannot use the directory", path) }
        if kind == .directory { return }
        if kind != .missing {
            throw IDLError.io(
                "cannot create the directory \(FilePathBytes.display(bytes: path)): it exists and is \(kind.phrase); choose another path"
            )
        }
        let parent = FilePathBytes.directory(of: path)
        if parent != path { try createDirectories(parent) }
        if FilePathBytes.withCString(path, { mkdir($0, 0o777) }) != 0 && errno != EEXIST {
            throw failure("cannot create the directory", path)
        }
    }

    /// Decides what writing `pathString` means (the policy in the type's documentation).
    static func destination(_ pathString: String, requireDirectory: Bool = true) throws -> Destination {
        let shown = FilePathBytes.display(pathString)
        var path = FilePathBytes.fileSystemBytes(pathString)
        guard !path.isEmpty else { throw IDLError.io("an empty output path was given; name a file") }
        for _ in 0..<40 {
            // Devices and pipes are judged by what the path finally names (`/dev/stdout` is a
            // link to /proc/self/fd/1, whose own target is not a path).
            if let (kind, _) = FileKind.of(path), kind == .characterDevice || kind == .fifo {
                return .writeThrough(path: path, kind: kind)
            }
            guard let (kind, info) = FileKind.of(path, followingLinks: false) else {
                throw failure("cannot write \(shown):", path)
            }
            switch kind {
            case .missing:
                let directory = FilePathBytes.directory(of: path)
                if requireDirectory, FileKind.of(directory)?.kind != .directory {
                    throw IDLError.io(
                        "cannot write \(shown): the directory \(FilePathBytes.display(bytes: directory)) does not exist; create it first"
                    )
                }
                return .replace(path: path, existing: nil)
            case .symlink:
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = FilePathBytes.withCString(path) { readlink($0, &buffer, buffer.count - 1) }
                guard n > 0 else { throw failure("cannot read the symbolic link", path) }
                let target = buffer[0..<n].map { UInt8(bitPattern: $0) }
                path =
                    target.first == UInt8(ascii: "/")
                    ? target : FilePathBytes.join(FilePathBytes.directory(of: path), target)
            case .regular:
                let writable = FilePathBytes.withCString(path) { access($0, W_OK) } == 0
                if info.st_mode & 0o222 == 0 || !writable {
                    throw IDLError.io(
                        "cannot write \(shown): \(FilePathBytes.display(bytes: path)) is write-protected (mode \(String(info.st_mode & 0o7777, radix: 8))\(writable ? "" : ", not writable by this user")); remove it or make it writable (chmod u+w) if it should be replaced"
                    )
                }
                return .replace(path: path, existing: info)
            default:
                throw IDLError.io(
                    "cannot write \(shown): \(FilePathBytes.display(bytes: path)) is \(kind.phrase); an output must be a regular file (replaced atomically), a character device such as /dev/null, or a pipe"
                )
            }
        }
        throw IDLError.io("cannot write \(shown): too many levels of symbolic links")
    }

    /// Writes all of `data` to an open file, retrying short writes and interruptions.
    static func writeAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Bool in
            var done = 0
            while done < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                done += n
            }
            return true
        }
    }

    static func writeThrough(_ data: Data, path: [UInt8], flags: Int32) throws {
        let fd = FilePathBytes.withCString(path) { open($0, flags | O_CLOEXEC, 0o666) }
        guard fd >= 0 else { throw failure("cannot open", path) }
        let ok = writeAll(fd, data)
        let reason = String(cString: strerror(errno))
        close(fd)
        guard ok else { throw IDLError.io("cannot write \(FilePathBytes.display(bytes: path)): \(reason)") }
    }

    /// The longest file name Linux file systems take (NAME_MAX).
    static let nameLimit = 255

    static func replace(_ path: [UInt8], with data: Data, keeping existing: stat?) throws {
        let directory = FilePathBytes.directory(of: path)
        let name = FilePathBytes.name(of: path)
        let temporaryName =
            temporaryPrefix(for: name) + Array("\(getpid())-\(UInt32.random(in: 0...UInt32.max))".utf8)
        let temporary = FilePathBytes.join(directory, temporaryName)
        let mode = existing.map { $0.st_mode & 0o7777 } ?? 0o666
        let fd = FilePathBytes.withCString(temporary) { open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) }
        guard fd >= 0 else {
            throw IDLError.io(
                "cannot write \(FilePathBytes.display(bytes: path)) (temporary file in \(FilePathBytes.display(bytes: directory))): \(String(cString: strerror(errno)))"
            )
        }
        var ok = true
        if let existing {
            // The umask applied to open's mode: set the old bits exactly; root keeps the owner too.
            ok = fchmod(fd, existing.st_mode & 0o7777) == 0
            if getuid() == 0 { _ = fchown(fd, existing.st_uid, existing.st_gid) }
        }
        ok = ok && writeAll(fd, data)
        let reason = String(cString: strerror(errno))
        ok = (close(fd) == 0) && ok
        guard ok else {
            FilePathBytes.withCString(temporary) { _ = unlink($0) }
            throw IDLError.io("cannot write \(FilePathBytes.display(bytes: path)): \(reason)")
        }
        let renamed = FilePathBytes.withCString(temporary) { t in FilePathBytes.withCString(path) { rename(t, $0) } }
        if renamed != 0 {
            let reason = String(cString: strerror(errno))
            FilePathBytes.withCString(temporary) { _ = unlink($0) }
            throw IDLError.io(
                "cannot move the finished file into place at \(FilePathBytes.display(bytes: path)): \(reason)")
        }
        removeStaleTemporaries(directory: directory, name: name)
    }

    /// An `IDLError.io` with `errno`'s text.
    static func failure(_ what: String, _ path: [UInt8]) -> IDLError {
        IDLError.io("\(what) \(FilePathBytes.display(bytes: path)): \(String(cString: strerror(errno)))")
    }

    /// The start of the temporary files' names for a destination named `name`: `.<name>.tmp-`,
    /// with `name` cut (at a byte) so that the prefix, a pid and a 32-bit random number fit in
    /// 255 bytes.
    static func temporaryPrefix(for name: [UInt8]) -> [UInt8] {
        let room = nameLimit - (1 + 5 + 10 + 1 + 10)  // ".", ".tmp-", pid, "-", random
        return [UInt8(ascii: ".")] + name.prefix(room) + Array(".tmp-".utf8)
    }

    /// Whether a file name is one of the temporary files ``write(_:to:)`` creates
    /// (`.<name>.tmp-<pid>-<random>`), e.g. left over by a killed run.
    public static func isTemporaryFileName(_ fileName: String) -> Bool {
        guard fileName.hasPrefix("."), let range = fileName.range(of: ".tmp-", options: .backwards),
            range.lowerBound > fileName.index(after: fileName.startIndex)
        else { return false }
        let tail = fileName[range.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        return tail.count == 2 && tail.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }

    /// Removes the temporary files of `name` in `directory` whose writing process no longer exists.
    static func removeStaleTemporaries(directory: [UInt8], name: [UInt8]) {
        let prefix = temporaryPrefix(for: name)
        guard let dir = FilePathBytes.withCString(directory, { opendir($0) }) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            // Read the name where it is, up to its NUL: a record can be shorter than the
            // 256-byte d_name field (copying the field reads past the directory buffer).
            let name = (UnsafeRawPointer(entry) + MemoryLayout<dirent>.offset(of: \dirent.d_name)!)
                .assumingMemoryBound(to: CChar.self)
            let entryName = Array(UnsafeRawBufferPointer(start: name, count: strlen(name)))
            guard entryName.starts(with: prefix),
                isTemporaryFileName(FilePathBytes.string(fromFileSystemBytes: entryName))
            else { continue }
            let tail = entryName.dropFirst(prefix.count)
            guard let pid = Int32(String(decoding: tail.prefix(while: { $0 != UInt8(ascii: "-") }), as: UTF8.self)),
                pid > 0, pid != getpid()
            else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                FilePathBytes.withCString(FilePathBytes.join(directory, entryName)) { _ = unlink($0) }
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
        try decompress(compressed, source: source, limit: limit, declaredSize: nil)
    }

    /// Decompresses as ``decompress(_:source:limit:)``, and stops as soon as the output exceeds
    /// the size its own header declares: `declaredSize` is asked about the output so far and
    /// answers nil while the header is incomplete, then the whole size the header implies.
    static func decompress(
        _ compressed: Data, source: String, limit: Int = defaultLimit, declaredSize: (([UInt8]) throws -> Int?)?
    ) throws -> [UInt8] {
        if compressed.isEmpty { return [] }
        // The last four bytes of a gzip member hold the uncompressed size modulo 2^32: a good
        // first guess for the output buffer. A corrupt trailer may lie, so the guess is capped
        // by deflate's largest possible expansion (about 1032:1) and by `limit`; the buffer
        // grows as output arrives.
        let plausible = compressed.count.multipliedReportingOverflow(by: 1032)
        var limit = max(limit, 0)
        var declared: Int? = nil
        var tooLarge: IDLError {
            if let declared {
                return IDLError.io(
                    "\(source): the compressed data expands beyond the \(declared) bytes its header declares; the file is corrupt (a truncated header or a decompression bomb), download or copy it again"
                )
            }
            return IDLError.io(
                "\(source): the compressed data expands to more than \(limit) bytes, the most this reader accepts; the file is corrupt or not a data file"
            )
        }
        let ceiling = min(plausible.overflow ? Int.max : plausible.partialValue, limit == Int.max ? limit : limit + 1)
        var capacity = min(max(compressed.count * 2, 1 << 16), ceiling)
        if compressed.count >= 18 {
            let e = compressed.endIndex
            let isize =
                Int(compressed[e - 4]) | Int(compressed[e - 3]) << 8
                | Int(compressed[e - 2]) << 16 | Int(compressed[e - 1]) << 24
            if isize > 0 { capacity = min(isize, ceiling) }
        }
        // Until the header has said how large the data is, take no more than 64 KiB on trust.
        if declaredSize != nil { capacity = min(capacity, 1 << 16) }
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
                if let declaredSize, declared == nil, let size = try declaredSize(Array(output[0..<produced])) {
                    declared = size
                    limit = min(limit, max(size, 0))
                    if output.count < limit + 1 {
                        output.append(contentsOf: [UInt8](repeating: 0, count: limit + 1 - output.count))
                    }
                }
                if produced > limit { throw tooLarge }
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
    ///
    /// Regular files are read whole; pipes (a FIFO, `<(…)` process substitution, `/dev/stdin`
    /// fed by a pipe) are read to their end, up to the memory available. Directories, devices
    /// and sockets are refused with a message saying what the path is.
    static func readFile(_ url: URL, what: String) throws -> Data {
        let shown = FilePathBytes.display(url.path)
        let path = FilePathBytes.fileSystemBytes(url.path)
        guard let (kind, _) = FileKind.of(path) else {
            throw IDLError.io("cannot read \(what) \(shown): \(String(cString: strerror(errno)))")
        }
        switch kind {
        case .missing:
            throw IDLError.io("\(what) not found: \(shown) does not exist; check the path")
        case .directory:
            throw IDLError.io("\(what): \(shown) is a directory, expected a file")
        case .regular, .fifo:
            break
        default:
            throw IDLError.io(
                "cannot read \(what) \(shown): it is \(kind.phrase); a regular file (or a pipe) is needed")
        }
        let fd = FilePathBytes.withCString(path) { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else {
            throw IDLError.io("cannot read \(what) \(shown): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        let size = fstat(fd, &st) == 0 && FileKind(mode: st.st_mode) == .regular ? Int(st.st_size) : 0
        // A stream has no size: read it in chunks, refusing one longer than the memory available.
        let ceiling = kind == .regular ? Int.max : (SystemMemory.availableBytes ?? Int.max)
        var bytes = [UInt8](repeating: 0, count: max(size + 1, 1 << 16))
        var count = 0
        while true {
            if count == bytes.count {
                guard count < ceiling else {
                    throw IDLError.io(
                        "cannot read \(what) \(shown): the stream is longer than the memory available (\(ceiling) bytes)"
                    )
                }
                bytes.append(contentsOf: [UInt8](repeating: 0, count: min(max(count, 1 << 16), ceiling - count)))
            }
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw IDLError.io("cannot read \(what) \(shown): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            count += n
        }
        return Data(bytes[0..<count])
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
