// IDLPlot: figures drawn with Cairo, written as PNG through libpng, and as PDF and SVG.
//
// A small plotting library of the project's own: axes, ticks, legends, chart types and their
// layout are ours; Cairo draws them (antialiased lines, markers, fills, and text in DejaVu Sans
// through fontconfig and FreeType) via one `Renderer`. Each chart is a value type conforming to
// `Figure` (`draw(on:width:height:)`, sizes in points), which gives
// `render(width:height:scale:) -> Canvas` (an RGBA raster), `pngData`, `pdfData`, `svgData`
// and `write(to:…)`:
//
//   LinePlot     loss curves, optional log-scale axes
//   ScatterPlot  accuracy vs sparsity frontiers, with point annotations
//   BarChart     grouped bars over named categories
//   Heatmap      matrix entries with a diverging colour bar around zero
//   SpyPlot      nonzero structure of a matrix, with block boundaries
//   ImageGrid    small images (matrix columns) with label/prediction captions
//
// PNG files are written by libpng (`PNGImage`), 8-bit RGB at 2 pixels per point by default;
// PDF and SVG come from Cairo's surfaces, the PDF with fixed dates. Output is deterministic (same
// data, same PNG and PDF bytes; the same SVG bytes when a program runs again), files are written atomically, and bad data (NaN, ±∞, non-positive values on
// log axes) is skipped and counted, never a crash.
import CPNG
import IDL

/// The version of libpng the plotting library is linked against.
public var libpngVersion: String { String(cString: png_get_libpng_ver(nil)) }
