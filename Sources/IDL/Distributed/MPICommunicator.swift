#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// OpenMPI, opened with `dlopen` when a distributed run starts rather than linked, so that the
/// package builds and `idl` runs on machines without MPI.
///
/// OpenMPI's `MPI_COMM_WORLD`, `MPI_DOUBLE`, `MPI_MIN`, … are macros for the addresses of
/// exported objects (`ompi_mpi_comm_world`, `ompi_mpi_double`, `ompi_mpi_op_min`), found here
/// with `dlsym`; the library must therefore be OpenMPI (Debian's `libopenmpi-dev`,
/// `libmpi.so.40`).
struct OpenMPILibrary {
    typealias Handle = UnsafeMutableRawPointer
    typealias InitThread =
        @convention(c) (
            UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, Int32,
            UnsafeMutablePointer<Int32>?
        ) -> Int32
    typealias NoArguments = @convention(c) () -> Int32
    typealias Flag = @convention(c) (UnsafeMutablePointer<Int32>?) -> Int32
    typealias CommInt = @convention(c) (Handle, UnsafeMutablePointer<Int32>?) -> Int32
    typealias Bcast = @convention(c) (UnsafeMutableRawPointer?, Int32, Handle, Int32, Handle) -> Int32
    typealias Gatherv =
        @convention(c) (
            UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, UnsafePointer<Int32>?,
            UnsafePointer<Int32>?, Handle, Int32, Handle
        ) -> Int32
    typealias Allreduce =
        @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle) -> Int32
    typealias Barrier = @convention(c) (Handle) -> Int32
    typealias Abort = @convention(c) (Handle, Int32) -> Int32

    let handle: UnsafeMutableRawPointer
    let initThread: InitThread, finalize: NoArguments, initialized: Flag, finalized: Flag
    let commRank: CommInt, commSize: CommInt
    let bcast: Bcast, gatherv: Gatherv, allreduce: Allreduce, barrier: Barrier, abort: Abort
    let world: Handle, opMin: Handle

    /// The library named by `IDL_MPI_LIBRARY`, else `libmpi.so.40`, `libmpi.so` or `libmpi.dylib`.
    static func load() throws -> OpenMPILibrary {
        let names: [String]
        if let path = getenv("IDL_MPI_LIBRARY").map({ String(cString: $0) }), !path.isEmpty {
            names = [path]
        } else {
            names = ["libmpi.so.40", "libmpi.so", "libmpi.dylib"]
        }
        var handle: UnsafeMutableRawPointer? = nil
        var reason = ""
        for name in names {
            // RTLD_GLOBAL: OpenMPI's own plug-ins resolve their symbols against libmpi.
            handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL)
            if handle != nil { break }
            reason = dlerror().map { String(cString: $0) } ?? "not found"
        }
        guard let handle else {
            throw IDLError.unsupported(
                "--distributed needs OpenMPI, but \(names.joined(separator: ", ")) could not be loaded (\(reason)); install the Debian packages openmpi-bin and libopenmpi-dev (scripts/bootstrap.sh does this) and start the run with mpirun"
            )
        }
        func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
            guard let p = dlsym(handle, name) else {
                throw IDLError.unsupported(
                    "the MPI library loaded for --distributed lacks \(name): it must be OpenMPI (Debian libopenmpi-dev, libmpi.so.40)"
                )
            }
            return p
        }
        func function<F>(_ name: String, as _: F.Type) throws -> F { unsafeBitCast(try symbol(name), to: F.self) }
        return try OpenMPILibrary(
            handle: handle,
            initThread: function("MPI_Init_thread", as: InitThread.self),
            finalize: function("MPI_Finalize", as: NoArguments.self),
            initialized: function("MPI_Initialized", as: Flag.self),
            finalized: function("MPI_Finalized", as: Flag.self),
            commRank: function("MPI_Comm_rank", as: CommInt.self),
            commSize: function("MPI_Comm_size", as: CommInt.self),
            bcast: function("MPI_Bcast", as: Bcast.self),
            gatherv: function("MPI_Gatherv", as: Gatherv.self),
            allreduce: function("MPI_Allreduce", as: Allreduce.self),
            barrier: function("MPI_Barrier", as: Barrier.self),
            abort: function("MPI_Abort", as: Abort.self),
            world: symbol("ompi_mpi_comm_world"), opMin: symbol("ompi_mpi_op_min"))
    }

    func datatype<T: CommunicatorScalar>(_: T.Type) throws -> Handle {
        guard let p = dlsym(handle, T.mpiDatatypeSymbol) else {
            throw IDLError.unsupported("the MPI library lacks the datatype \(T.mpiDatatypeSymbol); it must be OpenMPI")
        }
        return p
    }
}

/// The processes `mpirun` started (MPI_COMM_WORLD), through OpenMPI loaded at run time.
///
/// ``start()`` loads OpenMPI and initialises MPI (thread level *funneled*: only the thread that
/// started MPI calls it) and divides the machine's ``ThreadPolicy/workers`` among the ranks
/// that share it (unless `IDL_THREADS` is set); ``finalize()`` ends it. Without OpenMPI, ``start()`` throws one line
/// naming the Debian packages to install. The environment variable `IDL_MPI_LIBRARY` names
/// another OpenMPI library file to load.
public final class MPICommunicator: Communicator {
    private let mpi: OpenMPILibrary
    /// This process's rank in MPI_COMM_WORLD.
    public let rank: Int
    /// The number of processes in MPI_COMM_WORLD.
    public let size: Int

    private init(_ mpi: OpenMPILibrary, rank: Int, size: Int) {
        self.mpi = mpi
        self.rank = rank
        self.size = size
    }

    /// Loads OpenMPI and initialises MPI.
    /// - Throws: ``IDLError/unsupported(_:)`` when OpenMPI cannot be loaded (naming the Debian
    ///   packages openmpi-bin and libopenmpi-dev) or is not OpenMPI; ``IDLError/io(_:)`` when
    ///   MPI fails to start.
    public static func start() throws -> MPICommunicator {
        let mpi = try OpenMPILibrary.load()
        var done: Int32 = 0
        _ = mpi.initialized(&done)
        if done == 0 {
            var provided: Int32 = 0
            let code = mpi.initThread(nil, nil, 1, &provided)  // MPI_THREAD_FUNNELED
            guard code == 0 else { throw IDLError.io("MPI_Init_thread failed with error code \(code)") }
        }
        var rank: Int32 = 0
        var size: Int32 = 0
        _ = mpi.commRank(mpi.world, &rank)
        _ = mpi.commSize(mpi.world, &size)
        // The ranks on one machine share its cores (unless IDL_THREADS says otherwise).
        if getenv("IDL_THREADS") == nil, let text = getenv("OMPI_COMM_WORLD_LOCAL_SIZE"),
            let local = Int(String(cString: text)), local > 1
        {
            ThreadPolicy.workers = Swift.max(1, ThreadPolicy.workers / local)
        }
        return MPICommunicator(mpi, rank: Int(rank), size: Int(size))
    }

    /// Ends MPI (MPI_Finalize); call once, on every rank, after the last collective operation.
    public func finalize() {
        var done: Int32 = 0
        _ = mpi.finalized(&done)
        if done == 0 { _ = mpi.finalize() }
    }

    /// Ends every process of the run at once (MPI_Abort) with exit status `code`.
    public func abort(_ code: Int32) -> Never {
        _ = mpi.abort(mpi.world, code)
        exit(code)
    }

    private func check(_ code: Int32, _ operation: String) throws {
        guard code == 0 else { throw IDLError.io("\(operation) failed with MPI error code \(code) on rank \(rank)") }
    }

    private func count32(_ n: Int) throws -> Int32 {
        guard let c = Int32(exactly: n) else {
            throw IDLError.unsupported("MPI moves at most \(Int32.max) values in one call, asked for \(n)")
        }
        return c
    }

    /// MPI_Bcast.
    /// - Throws: ``IDLError/unsupported(_:)`` for more than 2³¹ − 1 values; ``IDLError/io(_:)`` when MPI
    ///   returns an error code (its default handler usually ends the job first).
    public func broadcast<T: CommunicatorScalar>(_ values: inout [T], root: Int) throws {
        let type = try mpi.datatype(T.self)
        let n = try count32(values.count)
        let code = values.withUnsafeMutableBytes { p in
            mpi.bcast(p.baseAddress, n, type, Int32(root), mpi.world)
        }
        try check(code, "MPI_Bcast")
    }

    /// MPI_Gatherv.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` when `counts` does not fit the ranks or `values`;
    ///   ``IDLError/io(_:)`` when MPI returns an error code (its default handler usually ends the job first).
    public func gather<T: CommunicatorScalar>(_ values: [T], counts: [Int], root: Int) throws -> [T] {
        guard counts.count == size, counts[rank] == values.count else {
            throw IDLError.shapeMismatch(
                "gather on rank \(rank): \(values.count) values, but the counts \(counts) of \(size) ranks")
        }
        let type = try mpi.datatype(T.self)
        let counts32 = try counts.map(count32)
        var displacements = [Int32](repeating: 0, count: size)
        var total = 0
        for r in 0..<size {
            displacements[r] = try count32(total)
            total += counts[r]
        }
        let n = try count32(values.count)
        let buffer = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(1, rank == root ? total : 0))
        defer { buffer.deallocate() }
        let code = values.withUnsafeBytes { s in
            mpi.gatherv(s.baseAddress, n, type, buffer, counts32, displacements, type, Int32(root), mpi.world)
        }
        try check(code, "MPI_Gatherv")
        return rank == root ? Array(UnsafeBufferPointer(start: buffer, count: total)) : []
    }

    /// MPI_Allreduce with MPI_MIN on one 64-bit integer.
    /// - Throws: ``IDLError/io(_:)`` when MPI returns an error code (its default handler usually ends the job
    ///   first).
    public func minimum(_ value: Int64) throws -> Int64 {
        let type = try mpi.datatype(Int64.self)
        var send = value
        var result: Int64 = 0
        let code = withUnsafePointer(to: &send) { s in
            withUnsafeMutablePointer(to: &result) { r in mpi.allreduce(s, r, 1, type, mpi.opMin, mpi.world) }
        }
        try check(code, "MPI_Allreduce")
        return result
    }

    /// MPI_Barrier.
    /// - Throws: ``IDLError/io(_:)`` when MPI returns an error code (its default handler usually ends the job
    ///   first).
    public func barrier() throws { try check(mpi.barrier(mpi.world), "MPI_Barrier") }
}
