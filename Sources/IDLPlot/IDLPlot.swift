import CPNG
import IDL

/// The version of libpng the plotting library is linked against.
public var libpngVersion: String { String(cString: png_get_libpng_ver(nil)) }
