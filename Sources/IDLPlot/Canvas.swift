/// A point in canvas coordinates: x to the right, y downwards, in pixels. Pixel (i, j) covers
/// the square [i, i+1) × [j, j+1), so its centre is (i + 0.5, j + 0.5).
public struct Point: Equatable, Sendable {
    /// Horizontal position in pixels.
    public var x: Double
    /// Vertical position in pixels (downwards).
    public var y: Double
    /// A point from its coordinates.
    public init(_ x: Double, _ y: Double) {
        self.x = x
        self.y = y
    }
}

/// An axis-aligned rectangle of whole pixels.
public struct PixelRect: Equatable, Sendable {
    /// Left column.
    public var x: Int
    /// Top row.
    public var y: Int
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// A rectangle from its top-left corner and size.
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
    /// One past the right column.
    public var maxX: Int { x + width }
    /// One past the bottom row.
    public var maxY: Int { y + height }
    /// Whether the pixel (px, py) lies inside.
    public func contains(_ px: Int, _ py: Int) -> Bool { px >= x && px < maxX && py >= y && py < maxY }
}

/// Horizontal placement of text relative to its anchor point.
public enum TextAlign: Sendable {
    /// The text starts at the anchor.
    case left
    /// The text is centred on the anchor.
    case center
    /// The text ends at the anchor.
    case right
}
/// Vertical placement of text relative to its anchor point: the top of the line (cap line),
/// the middle of the capitals, or the baseline.
public enum TextBaseline: Sendable {
    /// The top of the capitals is at the anchor.
    case top
    /// The middle of the capitals is at the anchor.
    case middle
    /// The baseline (bottom of the capitals) is at the anchor.
    case bottom
}
/// Orientation of text: normal, or rotated 90° counter-clockwise (read bottom to top, as a
/// y-axis label).
public enum TextRotation: Sendable {
    /// Horizontal, left to right.
    case none
    /// Rotated 90° counter-clockwise: reads from bottom to top.
    case up
}

/// An RGBA raster image with 8 bits per channel, row-major from the top-left corner, that
/// the charts draw into. Drawing blends with anti-aliased coverage (source-over).
///
/// The canvas is a value type: copying it copies the pixels (copy-on-write).
public struct Canvas: Equatable, Sendable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Pixels as R, G, B, A bytes, row by row from the top: pixel (x, y) starts at
    /// `4 * (y * width + x)`.
    public internal(set) var pixels: [UInt8]

    /// The largest width or height accepted (a 16384×16384 RGBA canvas is 1 GiB).
    public static let maximumSide = 16384

    /// A canvas filled with `background`.
    /// - Precondition: `1 ≤ width, height ≤ Canvas.maximumSide` (``PNGImage`` and the charts'
    ///   `write` functions check sizes and throw before they get here).
    public init(width: Int, height: Int, background: Color = .white) {
        precondition(
            width >= 1 && height >= 1 && width <= Canvas.maximumSide && height <= Canvas.maximumSide,
            "canvas size must be 1...\(Canvas.maximumSide) on each side, got \(width)×\(height)")
        self.width = width
        self.height = height
        var p = [UInt8](repeating: 0, count: width * height * 4)
        for i in 0..<(width * height) {
            p[4 * i] = background.r
            p[4 * i + 1] = background.g
            p[4 * i + 2] = background.b
            p[4 * i + 3] = background.a
        }
        self.pixels = p
    }

    /// The colour of pixel (x, y). - Precondition: the pixel is inside the canvas.
    public func pixel(_ x: Int, _ y: Int) -> Color {
        precondition(
            x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside a \(width)×\(height) canvas")
        let o = 4 * (y * width + x)
        return Color(r: pixels[o], g: pixels[o + 1], b: pixels[o + 2], a: pixels[o + 3])
    }

    /// Sets pixel (x, y) to `color` exactly (no blending); pixels outside are ignored.
    public mutating func setPixel(_ x: Int, _ y: Int, _ color: Color) {
        guard x >= 0 && x < width && y >= 0 && y < height else { return }
        let o = 4 * (y * width + x)
        pixels[o] = color.r
        pixels[o + 1] = color.g
        pixels[o + 2] = color.b
        pixels[o + 3] = color.a
    }

    /// Blends `color` over pixel (x, y) with the given coverage in [0, 1]; outside is ignored.
    public mutating func blend(_ x: Int, _ y: Int, _ color: Color, coverage: Double = 1) {
        guard x >= 0 && x < width && y >= 0 && y < height, coverage > 0 else { return }
        let alpha = Double(color.a) / 255 * min(1, coverage)
        if alpha <= 0 { return }
        let o = 4 * (y * width + x)
        if alpha >= 1 {
            pixels[o] = color.r
            pixels[o + 1] = color.g
            pixels[o + 2] = color.b
            pixels[o + 3] = 255
            return
        }
        let da = Double(pixels[o + 3]) / 255
        let outA = alpha + da * (1 - alpha)
        func ch(_ s: UInt8, _ d: UInt8) -> UInt8 {
            let v = (Double(s) * alpha + Double(d) * da * (1 - alpha)) / outA
            return UInt8(min(255, max(0, v.rounded())))
        }
        pixels[o] = ch(color.r, pixels[o])
        pixels[o + 1] = ch(color.g, pixels[o + 1])
        pixels[o + 2] = ch(color.b, pixels[o + 2])
        pixels[o + 3] = UInt8(min(255, (outA * 255).rounded()))
    }

    // MARK: Rectangles

    /// Fills the whole-pixel rectangle `rect` (clipped to the canvas).
    public mutating func fill(_ rect: PixelRect, _ color: Color) {
        let x0 = max(0, rect.x)
        let x1 = min(width, rect.maxX)
        let y0 = max(0, rect.y)
        let y1 = min(height, rect.maxY)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 { for x in x0..<x1 { blend(x, y, color) } }
    }

    /// Fills the rectangle [x0, x1] × [y0, y1] given in fractional pixels; edge pixels get
    /// partial coverage, so bars of any position look smooth.
    public mutating func fillRect(x0: Double, y0: Double, x1: Double, y1: Double, _ color: Color) {
        guard x0.isFinite, x1.isFinite, y0.isFinite, y1.isFinite else { return }
        let w = Double(width) + 2
        let h = Double(height) + 2
        let lx = max(-2, min(x0, x1))
        let hx = min(w, max(x0, x1))
        let ly = max(-2, min(y0, y1))
        let hy = min(h, max(y0, y1))
        guard lx < hx, ly < hy else { return }
        let ix0 = max(0, Int(lx.rounded(.down)))
        let ix1 = min(width - 1, Int(hx.rounded(.up)) - 1)
        let iy0 = max(0, Int(ly.rounded(.down)))
        let iy1 = min(height - 1, Int(hy.rounded(.up)) - 1)
        guard ix0 <= ix1, iy0 <= iy1 else { return }
        for y in iy0...iy1 {
            let cy = min(hy, Double(y + 1)) - max(ly, Double(y))
            if cy <= 0 { continue }
            for x in ix0...ix1 {
                let cx = min(hx, Double(x + 1)) - max(lx, Double(x))
                if cx > 0 { blend(x, y, color, coverage: cx * cy) }
            }
        }
    }

    /// Draws the one-pixel outline of a whole-pixel rectangle.
    public mutating func stroke(_ rect: PixelRect, _ color: Color) {
        guard rect.width > 0, rect.height > 0 else { return }
        fill(PixelRect(x: rect.x, y: rect.y, width: rect.width, height: 1), color)
        fill(PixelRect(x: rect.x, y: rect.maxY - 1, width: rect.width, height: 1), color)
        if rect.height > 2 {
            fill(PixelRect(x: rect.x, y: rect.y + 1, width: 1, height: rect.height - 2), color)
            fill(PixelRect(x: rect.maxX - 1, y: rect.y + 1, width: 1, height: rect.height - 2), color)
        }
    }

    // MARK: Lines and circles

    /// Draws an anti-aliased straight line of the given width (round caps).
    public mutating func drawLine(
        from a: Point, to b: Point, color: Color, width lineWidth: Double = 1, clip: PixelRect? = nil
    ) {
        strokePolyline([a, b], color: color, width: lineWidth, clip: clip)
    }

    /// Draws an anti-aliased polyline of the given width with round joins and caps.
    ///
    /// Coverage is computed per pixel from the distance of its centre to the nearest segment
    /// (a pixel at distance d from the centre line of a line of width w is covered
    /// `clamp(w/2 + 1/2 − d, 0, 1)`), and the maximum over segments is blended once, so joins
    /// are not darkened by double blending. Non-finite points break the line into pieces.
    /// Only pixels inside `clip` (default: the canvas) are touched.
    public mutating func strokePolyline(
        _ points: [Point], color: Color, width lineWidth: Double = 1, clip: PixelRect? = nil
    ) {
        guard !points.isEmpty, lineWidth.isFinite, lineWidth > 0 else { return }
        // Far-away points are pulled in to ±10⁷ pixels: safe integer maths, invisible change.
        let points = points.map { p in
            p.x.isFinite && p.y.isFinite ? Point(max(-1e7, min(1e7, p.x)), max(-1e7, min(1e7, p.y))) : Point(.nan, .nan)
        }
        let lineWidth = min(lineWidth, 1000)
        let w = max(1, lineWidth)
        let fade = min(1, lineWidth)  // thinner than a pixel: fainter, not thinner
        let half = w / 2
        let box = clip ?? PixelRect(x: 0, y: 0, width: width, height: height)
        let cx0 = max(0, box.x)
        let cx1 = min(width, box.maxX)
        let cy0 = max(0, box.y)
        let cy1 = min(height, box.maxY)
        guard cx0 < cx1, cy0 < cy1 else { return }
        // Bounding box of the finite points, padded by the half width, then clipped.
        var minX = Double.infinity
        var maxX = -Double.infinity
        var minY = Double.infinity
        var maxY = -Double.infinity
        for p in points where p.x.isFinite && p.y.isFinite {
            minX = min(minX, p.x)
            maxX = max(maxX, p.x)
            minY = min(minY, p.y)
            maxY = max(maxY, p.y)
        }
        guard minX.isFinite else { return }
        let bx0 = max(cx0, Int((minX - half - 1).rounded(.down)))
        let bx1 = min(cx1, Int((maxX + half + 1).rounded(.up)))
        let by0 = max(cy0, Int((minY - half - 1).rounded(.down)))
        let by1 = min(cy1, Int((maxY + half + 1).rounded(.up)))
        guard bx0 < bx1, by0 < by1 else { return }
        let mw = bx1 - bx0
        var mask = [Float](repeating: 0, count: mw * (by1 - by0))

        func segment(_ a: Point, _ b: Point) {
            let sx0 = max(bx0, Int((min(a.x, b.x) - half - 1).rounded(.down)))
            let sx1 = min(bx1, Int((max(a.x, b.x) + half + 1).rounded(.up)))
            let sy0 = max(by0, Int((min(a.y, b.y) - half - 1).rounded(.down)))
            let sy1 = min(by1, Int((max(a.y, b.y) + half + 1).rounded(.up)))
            guard sx0 < sx1, sy0 < sy1 else { return }
            let dx = b.x - a.x
            let dy = b.y - a.y
            let len2 = dx * dx + dy * dy
            for y in sy0..<sy1 {
                let py = Double(y) + 0.5
                for x in sx0..<sx1 {
                    let px = Double(x) + 0.5
                    var t = len2 > 0 ? ((px - a.x) * dx + (py - a.y) * dy) / len2 : 0
                    t = min(1, max(0, t))
                    let ex = px - (a.x + t * dx)
                    let ey = py - (a.y + t * dy)
                    let d = (ex * ex + ey * ey).squareRoot()
                    let c = Float(min(1, max(0, half + 0.5 - d)))
                    let k = (y - by0) * mw + (x - bx0)
                    if c > mask[k] { mask[k] = c }
                }
            }
        }
        var previous: Point? = nil
        for p in points {
            guard p.x.isFinite && p.y.isFinite else {
                previous = nil
                continue
            }
            segment(previous ?? p, p)
            previous = p
        }
        for y in by0..<by1 {
            for x in bx0..<bx1 {
                let c = mask[(y - by0) * mw + (x - bx0)]
                if c > 0 { blend(x, y, color, coverage: Double(c) * fade) }
            }
        }
    }

    /// Fills an anti-aliased disc.
    public mutating func fillCircle(center: Point, radius: Double, color: Color) {
        guard center.x.isFinite, center.y.isFinite, radius.isFinite, radius > 0, radius < 1e5 else { return }
        guard center.x > -radius - 2, center.x < Double(width) + radius + 2,
            center.y > -radius - 2, center.y < Double(height) + radius + 2
        else { return }
        let x0 = max(0, Int((center.x - radius - 1).rounded(.down)))
        let x1 = min(width - 1, Int((center.x + radius + 1).rounded(.up)))
        let y0 = max(0, Int((center.y - radius - 1).rounded(.down)))
        let y1 = min(height - 1, Int((center.y + radius + 1).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            for x in x0...x1 {
                let dx = Double(x) + 0.5 - center.x
                let dy = Double(y) + 0.5 - center.y
                let c = radius + 0.5 - (dx * dx + dy * dy).squareRoot()
                if c > 0 { blend(x, y, color, coverage: min(1, c)) }
            }
        }
    }

    // MARK: Text

    /// Draws `text` in the built-in bitmap font (see ``BitmapFont``), each font pixel a
    /// `scale`×`scale` block, anchored at (x, y) according to `align` and `baseline`.
    /// With `rotation: .up` the text reads from bottom to top and the alignments refer to the
    /// text's own direction (`.center` centres it vertically on y).
    public mutating func drawText(
        _ text: String, x: Int, y: Int, scale: Int = 1, color: Color = .ink,
        align: TextAlign = .left, baseline: TextBaseline = .top,
        rotation: TextRotation = .none
    ) {
        let s = max(1, scale)
        let w = BitmapFont.width(of: text, scale: s)
        let u0: Int
        switch align {
        case .left: u0 = 0
        case .center: u0 = -w / 2
        case .right: u0 = -w
        }
        let v0: Int
        switch baseline {
        case .top: v0 = 0
        case .middle: v0 = -(BitmapFont.capHeight * s) / 2
        case .bottom: v0 = -BitmapFont.capHeight * s
        }
        BitmapFont.forEachPixel(text) { fx, fy in
            let u = u0 + fx * s
            let v = v0 + fy * s
            switch rotation {
            case .none:
                fill(PixelRect(x: x + u, y: y + v, width: s, height: s), color)
            case .up:
                fill(PixelRect(x: x + v, y: y - u - s, width: s, height: s), color)
            }
        }
    }
}
