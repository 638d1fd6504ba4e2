import Foundation
import IDL

/// A grid of small greyscale images, one per matrix column (e.g. FashionMNIST samples,
/// 784×m with each column a 28×28 image stored row by row, as the IDX files hold them), with
/// optional captions: the true label, and the prediction in green when right and red when
/// wrong.
///
/// Pixel values are mapped linearly from ``valueRange`` (default: the finite data's range)
/// to black … white (or through ``colormap``); NaN and ±∞ pixels are drawn mid grey and
/// counted in ``nonFiniteCount``. Images are enlarged by a whole factor to fill the canvas;
/// when there are more images than fit even at one screen pixel per image pixel, those that
/// do not fit are left out (see ``shownCount(width:height:)``).
///
/// ```swift
/// let grid = try ImageGrid(images: testImages, imageWidth: 28, labels: labels, predictions: predicted,
///                          classNames: fashionClassNames, title: "Test images")
/// try grid.write(to: URL(fileURLWithPath: "results/samples.png"), width: 800, height: 520)
/// ```
public struct ImageGrid<T: BLASScalar>: Figure, Sendable {
    /// Title drawn above the grid.
    public var title: String
    /// Images per row of the grid; `nil` (default) picks a near-square arrangement that
    /// suits the canvas.
    public var columns: Int? = nil
    /// The value shown black and the value shown white; `nil` uses the data's finite range.
    public var valueRange: ClosedRange<Double>? = nil
    /// How values are coloured (default ``Colormap/gray``: low black, high white).
    public var colormap: Colormap = .gray

    /// Width of each image in pixels.
    public let imageWidth: Int
    /// Height of each image in pixels (rows of the matrix / `imageWidth`).
    public let imageHeight: Int
    /// Number of images (columns of the matrix).
    public let count: Int
    /// True labels, one per image, or `[]`.
    public let labels: [Int]
    /// Predicted labels, one per image, or `[]`.
    public let predictions: [Int]
    /// Names of the classes (index = label), or `[]` to print the numbers.
    public let classNames: [String]
    /// Number of NaN or infinite pixels.
    public let nonFiniteCount: Int
    /// The images, one per column (shared, not copied).
    public let images: Matrix<T>

    /// A grid of the columns of `images`.
    /// - Parameters:
    ///   - images: one image per column, each stored row by row (pixel (r, c) of image j is
    ///     entry (r · imageWidth + c, j)).
    ///   - imageWidth: the width of an image; the matrix's row count must be a multiple.
    ///   - labels: the true label of each image, or empty.
    ///   - predictions: the predicted label of each image, or empty.
    ///   - classNames: names for the label values, or empty.
    ///   - title: the title drawn above the grid.
    /// - Throws: `IDLError.invalidArgument` for a non-positive width, labels outside
    ///   `classNames`; `IDLError.shapeMismatch` if the rows are not a multiple of
    ///   the width or the label arrays do not have one entry per image.
    public init(
        images: Matrix<T>, imageWidth: Int, labels: [Int] = [], predictions: [Int] = [],
        classNames: [String] = [], title: String = ""
    ) throws {
        guard imageWidth >= 1 else {
            throw IDLError.invalidArgument("imageWidth must be at least 1, got \(imageWidth)")
        }
        guard images.rows % imageWidth == 0, images.rows > 0 else {
            throw IDLError.shapeMismatch(
                "images have \(images.rows) pixels each (matrix rows), not a positive multiple of imageWidth \(imageWidth)"
            )
        }
        for (name, list) in [("labels", labels), ("predictions", predictions)] where !list.isEmpty {
            guard list.count == images.cols else {
                throw IDLError.shapeMismatch("\(list.count) \(name) for \(images.cols) images")
            }
            if !classNames.isEmpty, let bad = list.first(where: { $0 < 0 || $0 >= classNames.count }) {
                throw IDLError.invalidArgument("\(name) contain \(bad), outside the \(classNames.count) class names")
            }
        }
        self.title = title
        self.imageWidth = imageWidth
        self.imageHeight = images.rows / imageWidth
        self.count = images.cols
        self.labels = labels
        self.predictions = predictions
        self.classNames = classNames
        self.images = images
        self.nonFiniteCount = images.storage.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
    }

    func name(_ label: Int) -> String { classNames.isEmpty ? String(label) : classNames[label] }

    /// Caption lines of image j: (text, colour).
    func captions(_ j: Int) -> [(String, Color)] {
        var lines: [(String, Color)] = []
        if !labels.isEmpty { lines.append((name(labels[j]), .ink)) }
        if !predictions.isEmpty {
            let right = labels.isEmpty || predictions[j] == labels[j]
            let text = labels.isEmpty ? name(predictions[j]) : "pred: " + name(predictions[j])
            lines.append((text, labels.isEmpty ? .ink : (right ? Color(hex: 0x2CA02C) : Color(hex: 0xD62728))))
        }
        return lines
    }

    struct Layout {
        var theme: Theme
        var columns: Int
        var rows: Int
        var scale: Int  // points per image pixel
        var captionSize: Double
        var cellW: Int
        var cellH: Int
        var origin: (x: Int, y: Int)
        var top: Int
    }

    func layout(width: Int, height: Int, _ measure: Renderer) -> Layout {
        let t = Theme(width: width, height: height, measure: measure)
        let top = t.pad + (title.isEmpty ? 0 : t.titleHeight + t.pad)
        let nLines = (labels.isEmpty ? 0 : 1) + (predictions.isEmpty ? 0 : 1)
        let gap = t.pad
        let availW = max(1, width - 2 * t.pad)
        let availH = max(1, height - top - t.pad)
        let n = max(1, count)
        func lineH(_ size: Double) -> Int { Int((size * 1.2).rounded(.up)) }
        let large = t.sizes.annotation
        let small = TextSizes.compact.annotation
        func fit(_ cols: Int, _ cs: Double) -> Int {  // image scale that fits cols columns
            let rows = (n + cols - 1) / cols
            let capH = nLines * (lineH(cs) + 1)
            let byW = (availW / cols - gap) / imageWidth
            let byH = (availH / rows - gap - capH) / imageHeight
            return min(byW, byH)
        }
        var bestCols = columns.map { max(1, min($0, n)) } ?? 1
        var bestCS = large
        if columns == nil {
            var bestScore = -1.0
            for cs in Set([large, small]).sorted(by: >) {
                for cols in 1...n {
                    let s = fit(cols, cs)
                    // Prefer bigger images, then the larger caption size.
                    let score = Double(max(0, s)) + (cs == large ? 0.5 : 0)
                    if score > bestScore {
                        bestScore = score
                        bestCols = cols
                        bestCS = cs
                    }
                }
            }
        }
        var scale = fit(bestCols, bestCS)
        if scale < 1 && bestCS > small {
            bestCS = small
            scale = fit(bestCols, small)
        }
        if scale < 1 && columns == nil {
            // Too many images for the canvas: as many columns as fit at one pixel per pixel.
            bestCols = max(1, min(n, availW / (imageWidth + gap)))
        }
        scale = max(1, scale)
        let rows = (n + bestCols - 1) / bestCols
        // Smaller caption text when the captions are wider than the images.
        let widest =
            (0..<count).flatMap { captions($0).map { $0.0 } }.map { t.width($0, size: bestCS) }.max() ?? 0
        if bestCS > small && widest > imageWidth * scale + gap { bestCS = small }
        let capH = nLines * (lineH(bestCS) + 1)
        let cellW = imageWidth * scale + gap
        let cellH = imageHeight * scale + capH + gap
        let ox = (width - bestCols * cellW + gap) / 2
        let oy = top + max(0, (availH - rows * cellH + gap) / 2)
        return Layout(
            theme: t, columns: bestCols, rows: rows, scale: scale, captionSize: bestCS,
            cellW: cellW, cellH: cellH, origin: (ox, oy), top: top)
    }

    /// How many images are drawn on a figure of this size (all of them unless too many fit).
    public func shownCount(width: Int, height: Int) -> Int {
        let L = layout(width: width, height: height, .measuring())
        return (0..<count).filter { j in
            let r = imageRect(j, L)
            return r.maxY <= height && r.maxX <= width
        }.count
    }

    /// The rectangle (in points) of image `index` (before its caption), on a figure of this size.
    public func imageRect(_ index: Int, width: Int, height: Int) -> PixelRect {
        imageRect(index, layout(width: width, height: height, .measuring()))
    }

    func imageRect(_ index: Int, _ L: Layout) -> PixelRect {
        return PixelRect(
            x: L.origin.x + (index % L.columns) * L.cellW, y: L.origin.y + (index / L.columns) * L.cellH,
            width: imageWidth * L.scale, height: imageHeight * L.scale)
    }

    /// Draws the grid in a `width`×`height`-point box.
    public func draw(on c: Renderer, width: Int, height: Int) {
        let L = layout(width: width, height: height, c)
        let t = L.theme
        if !title.isEmpty {
            Frame(title: title).drawTitle(c, theme: t, center: width / 2, top: L.origin.y - t.titleHeight - t.pad)
        }
        var lo = Double.infinity
        var hi = -Double.infinity
        if let r = valueRange, r.lowerBound.isFinite, r.upperBound.isFinite, r.upperBound > r.lowerBound {
            lo = r.lowerBound
            hi = r.upperBound
        } else {
            for x in images.storage where x.isFinite {
                let v = Double(x)
                lo = min(lo, v)
                hi = max(hi, v)
            }
            if !lo.isFinite {
                lo = 0
                hi = 1
            } else if lo == hi {
                lo -= 0.5
                hi += 0.5
            }
        }
        let per = imageWidth * imageHeight
        for j in 0..<count {
            let x0 = L.origin.x + (j % L.columns) * L.cellW
            let y0 = L.origin.y + (j / L.columns) * L.cellH
            // Images that do not fit on the canvas even at one pixel per pixel are left out.
            guard y0 + imageHeight * L.scale <= height, x0 + imageWidth * L.scale <= width else { continue }
            let colors = (0..<per).map { k in
                let v = Double(images.storage[j * per + k])
                return v.isFinite ? colormap.color(at: (v - lo) / (hi - lo)) : Color.midGray
            }
            c.image(
                colors, columns: imageWidth, rows: imageHeight,
                in: PixelRect(x: x0, y: y0, width: imageWidth * L.scale, height: imageHeight * L.scale))
            c.stroke(
                PixelRect(x: x0 - 1, y: y0 - 1, width: imageWidth * L.scale + 2, height: imageHeight * L.scale + 2),
                Color(hex: 0xBFBFBF))
            let lineH = Int((L.captionSize * 1.2).rounded(.up))
            var y = y0 + imageHeight * L.scale + 3 + lineH / 5
            let cx = x0 + imageWidth * L.scale / 2
            for (text, color) in captions(j) {
                var s = text
                while s.count > 1 && t.width(s, size: L.captionSize) > L.cellW - 2 { s.removeLast() }
                c.drawText(s, x: cx, y: y, size: L.captionSize, color: color, align: .center)
                y += lineH + 1
            }
        }
    }
}
