// IDLPlot: figures written as PNG through libpng.
//
// A small plotting library of the project's own: an RGBA `Canvas` with anti-aliased
// lines, discs, rectangles and a built-in bitmap font (`BitmapFont`), written and read by
// libpng (`PNGImage`); on top of it the charts, each a value type conforming to `Figure`
// (`render(width:height:) -> Canvas`, `write(to:width:height:)`):
//
//   LinePlot     loss curves, optional log-scale axes
//   ScatterPlot  accuracy vs sparsity frontiers, with point annotations
//   BarChart     grouped bars over named categories
//   Heatmap      matrix entries with a diverging colour bar around zero
//   SpyPlot      nonzero structure of a matrix, with block boundaries
//   ImageGrid    small images (matrix columns) with label/prediction captions
//
// Output is deterministic (same data, same bytes), files are written atomically, and
// bad data (NaN, ±∞, non-positive values on log axes) is skipped and counted, never a crash.
import CPNG
import IDL

/// The version of libpng the plotting library is linked against.
public var libpngVersion: String { String(cString: png_get_libpng_ver(nil)) }
