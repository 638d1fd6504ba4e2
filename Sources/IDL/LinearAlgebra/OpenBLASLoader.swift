import CBLAS

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// OpenBLAS, opened at first use rather than linked, so that its CPU kernels can be chosen first.
///
/// OpenBLAS picks its kernels once, when the library is loaded, from the CPU it recognises or
/// from the `OPENBLAS_CORETYPE` environment variable. Debian 12's OpenBLAS 0.3.21 does not know
/// recent Intel processors (e.g. Sapphire Rapids) and falls back to its oldest x86-64 kernels
/// (`Prescott`), which run matrix products about five times slower than the hardware allows.
/// Before opening the library we therefore set `OPENBLAS_CORETYPE`, **unless the user has set it**:
/// `SkylakeX` on Intel processors with AVX-512 (F, BW, VL, DQ), `Haswell` on Intel processors
/// with AVX2 and FMA; other processors are left to OpenBLAS's own detection.
/// ``blasCoreName`` reports the kernels in use.
@usableFromInline
struct OpenBLASLibrary: @unchecked Sendable {
    @usableFromInline typealias SGemm =
        @convention(c) (
            CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, Int32, Int32, Int32, Float,
            UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32
        ) -> Void
    @usableFromInline typealias DGemm =
        @convention(c) (
            CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, Int32, Int32, Int32, Double,
            UnsafePointer<Double>?, Int32, UnsafePointer<Double>?, Int32, Double, UnsafeMutablePointer<Double>?, Int32
        ) -> Void
    @usableFromInline typealias SGemv =
        @convention(c) (
            CBLAS_ORDER, CBLAS_TRANSPOSE, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
            UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32
        ) -> Void
    @usableFromInline typealias DGemv =
        @convention(c) (
            CBLAS_ORDER, CBLAS_TRANSPOSE, Int32, Int32, Double, UnsafePointer<Double>?, Int32,
            UnsafePointer<Double>?, Int32, Double, UnsafeMutablePointer<Double>?, Int32
        ) -> Void
    @usableFromInline typealias SAxpy =
        @convention(c) (Int32, Float, UnsafePointer<Float>?, Int32, UnsafeMutablePointer<Float>?, Int32) -> Void
    @usableFromInline typealias DAxpy =
        @convention(c) (Int32, Double, UnsafePointer<Double>?, Int32, UnsafeMutablePointer<Double>?, Int32) -> Void
    @usableFromInline typealias SDot =
        @convention(c) (Int32, UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32) -> Float
    @usableFromInline typealias DDot =
        @convention(c) (Int32, UnsafePointer<Double>?, Int32, UnsafePointer<Double>?, Int32) -> Double
    typealias SGelsd =
        @convention(c) (
            UnsafePointer<Int32>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Float>?,
            UnsafePointer<Int32>?,
            UnsafeMutablePointer<Float>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Float>?, UnsafePointer<Float>?,
            UnsafeMutablePointer<Int32>?,
            UnsafeMutablePointer<Float>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Int32>?,
            UnsafeMutablePointer<Int32>?
        ) -> Void
    typealias DGelsd =
        @convention(c) (
            UnsafePointer<Int32>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Double>?,
            UnsafePointer<Int32>?,
            UnsafeMutablePointer<Double>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Double>?, UnsafePointer<Double>?,
            UnsafeMutablePointer<Int32>?,
            UnsafeMutablePointer<Double>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Int32>?,
            UnsafeMutablePointer<Int32>?
        ) -> Void
    typealias SGesv =
        @convention(c) (
            UnsafePointer<Int32>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Float>?, UnsafePointer<Int32>?,
            UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Float>?, UnsafePointer<Int32>?,
            UnsafeMutablePointer<Int32>?
        ) -> Void
    typealias DGesv =
        @convention(c) (
            UnsafePointer<Int32>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Double>?, UnsafePointer<Int32>?,
            UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Double>?, UnsafePointer<Int32>?,
            UnsafeMutablePointer<Int32>?
        ) -> Void
    typealias SPosv =
        @convention(c) (
            UnsafePointer<CChar>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Float>?,
            UnsafePointer<Int32>?,
            UnsafeMutablePointer<Float>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Int32>?, Int
        ) -> Void
    typealias DPosv =
        @convention(c) (
            UnsafePointer<CChar>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Double>?,
            UnsafePointer<Int32>?,
            UnsafeMutablePointer<Double>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Int32>?, Int
        ) -> Void
    typealias SSyevd =
        @convention(c) (
            UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Float>?,
            UnsafePointer<Int32>?,
            UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, UnsafePointer<Int32>?,
            UnsafeMutablePointer<Int32>?,
            UnsafePointer<Int32>?, UnsafeMutablePointer<Int32>?, Int, Int
        ) -> Void
    typealias DSyevd =
        @convention(c) (
            UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Double>?,
            UnsafePointer<Int32>?,
            UnsafeMutablePointer<Double>?, UnsafeMutablePointer<Double>?, UnsafePointer<Int32>?,
            UnsafeMutablePointer<Int32>?,
            UnsafePointer<Int32>?, UnsafeMutablePointer<Int32>?, Int, Int
        ) -> Void
    typealias SetThreads = @convention(c) (Int32) -> Void
    typealias GetThreads = @convention(c) () -> Int32
    typealias CoreName = @convention(c) () -> UnsafeMutablePointer<CChar>?

    @usableFromInline let sgemm: SGemm
    @usableFromInline let dgemm: DGemm
    @usableFromInline let sgemv: SGemv
    @usableFromInline let dgemv: DGemv
    @usableFromInline let saxpy: SAxpy
    @usableFromInline let daxpy: DAxpy
    @usableFromInline let sdot: SDot
    @usableFromInline let ddot: DDot
    let sgelsd: SGelsd, dgelsd: DGelsd
    let sgesv: SGesv, dgesv: DGesv
    let sposv: SPosv, dposv: DPosv
    let ssyevd: SSyevd, dsyevd: DSyevd
    let setThreads: SetThreads, getThreads: GetThreads, coreName: CoreName, config: CoreName
    /// The core type this process asked OpenBLAS for (nil: OpenBLAS's own detection).
    let requestedCore: String?

    static func load() -> OpenBLASLibrary {
        let requested = chooseCoreType()
        if let requested { setenv("OPENBLAS_CORETYPE", requested, 0) }
        // One OpenBLAS thread, whatever the environment asks (see ThreadPolicy): OpenBLAS then
        // starts no threads, and no product's rounding depends on its thread count.
        let userThreads = getenv("OPENBLAS_NUM_THREADS").map { String(cString: $0) }
        setenv("OPENBLAS_NUM_THREADS", "1", 1)
        var handle: UnsafeMutableRawPointer? = nil
        for name in ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"] {
            handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL)
            if handle != nil { break }
        }
        guard let handle else {
            fatalError(
                "OpenBLAS could not be loaded (\(String(cString: dlerror()))). Install it with `apt-get install libopenblas-dev` (scripts/bootstrap.sh does this)."
            )
        }
        func symbol<F>(_ name: String, as _: F.Type) -> F {
            guard let p = dlsym(handle, name) else {
                fatalError(
                    "OpenBLAS lacks the symbol \(name); a full OpenBLAS with LAPACK is needed (Debian libopenblas-dev)")
            }
            return unsafeBitCast(p, to: F.self)
        }
        let library = OpenBLASLibrary(
            sgemm: symbol("cblas_sgemm", as: SGemm.self), dgemm: symbol("cblas_dgemm", as: DGemm.self),
            sgemv: symbol("cblas_sgemv", as: SGemv.self), dgemv: symbol("cblas_dgemv", as: DGemv.self),
            saxpy: symbol("cblas_saxpy", as: SAxpy.self), daxpy: symbol("cblas_daxpy", as: DAxpy.self),
            sdot: symbol("cblas_sdot", as: SDot.self), ddot: symbol("cblas_ddot", as: DDot.self),
            sgelsd: symbol("sgelsd_", as: SGelsd.self), dgelsd: symbol("dgelsd_", as: DGelsd.self),
            sgesv: symbol("sgesv_", as: SGesv.self), dgesv: symbol("dgesv_", as: DGesv.self),
            sposv: symbol("sposv_", as: SPosv.self), dposv: symbol("dposv_", as: DPosv.self),
            ssyevd: symbol("ssyevd_", as: SSyevd.self), dsyevd: symbol("dsyevd_", as: DSyevd.self),
            setThreads: symbol("openblas_set_num_threads", as: SetThreads.self),
            getThreads: symbol("openblas_get_num_threads", as: GetThreads.self),
            coreName: symbol("openblas_get_corename", as: CoreName.self),
            config: symbol("openblas_get_config", as: CoreName.self),
            requestedCore: requested)
        library.setThreads(1)
        // Children (the experiments `idl reproduce` runs) see the user's setting, not ours.
        if let userThreads { setenv("OPENBLAS_NUM_THREADS", userThreads, 1) } else { unsetenv("OPENBLAS_NUM_THREADS") }
        return library
    }

    /// The kernels to request, or nil to leave the choice to OpenBLAS (see the type's notes).
    static func chooseCoreType() -> String? {
        if getenv("OPENBLAS_CORETYPE") != nil { return nil }
        guard let info = try? String(contentsOfCPUInfo: ()) else { return nil }
        guard info.contains("GenuineIntel") else { return nil }
        guard let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
    }
}

extension String {
    /// The text of /proc/cpuinfo (Linux), read with the C library to stay free of Foundation.
    init(contentsOfCPUInfo _: Void) throws {
        guard let f = fopen("/proc/cpuinfo", "r") else { throw IDLError.io("cannot open /proc/cpuinfo") }
        defer { fclose(f) }
        var bytes = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
            if bytes.count > 1 << 20 { break }  // the first processors' entries are enough
        }
        self = String(decoding: bytes, as: UTF8.self)
    }
}

/// The process's OpenBLAS, loaded at first use.
@usableFromInline
let openBLAS = OpenBLASLibrary.load()

/// The name of the OpenBLAS kernels in use (e.g. "SkylakeX", "Haswell", "Prescott").
public var blasCoreName: String {
    openBLAS.coreName().map { String(cString: $0) } ?? "unknown"
}

/// OpenBLAS's build description (`openblas_get_config`), e.g.
/// "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64".
public var blasConfiguration: String {
    openBLAS.config().map { String(cString: $0) } ?? "unknown"
}

/// The number of threads OpenBLAS uses: always 1 (see ``ThreadPolicy``).
public var blasThreads: Int { Int(openBLAS.getThreads()) }
