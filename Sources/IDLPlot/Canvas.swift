/// A point in figure coordinates: x to the right, y downwards, in points from the top-left
/// corner. On a figure rendered at scale 1, pixel (i, j) covers the square [i, i+1) × [j, j+1),
/// so its centre is (i + 0.5, j + 0.5); at scale s it covers s × s pixels.
public struct Point: Equatable, Sendable {
    /// Horizontal position in points.
    public var x: Double
    /// Vertical position in points (downwards).
    public var y: Double
    /// A point from its coordinates.
    public init(_ x: Double, _ y: Double) {
        self.x = x
        self.y = y
    }
}

/// An axis-aligned rectangle of whole points (whole pixels on a figure rendered at scale 1).
public struct PixelRect: Equatable, Sendable {
    /// Left column.
    public var x: Int
    /// Top row.
    public var y: Int
    /// Width in points.
    public var width: Int
    /// Height in points.
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
    /// Whether the unit square at (px, py) lies inside.
    public func contains(_ px: Int, _ py: Int) -> Bool { px >= x && px < maxX && py >= y && py < maxY }
}

/// Horizontal placement of text relative to its anchor point.
enum TextAlign: Sendable {
    /// The text starts at the anchor.
    case left
    /// The text is centred on the anchor.
    case center
    /// The text ends at the anchor.
    case right
}
/// Vertical placement of text relative to its anchor point: the top of the line (cap line),
/// the middle of the capitals, or the baseline.
enum TextBaseline: Sendable {
    /// The top of the capitals is at the anchor.
    case top
    /// The middle of the capitals is at the anchor.
    case middle
    /// The baseline (bottom of the capitals) is at the anchor.
    case bottom
}
/// Orientation of text: normal, or rotated 90° counter-clockwise (read bottom to top, as a
/// y-axis label).
enum TextRotation: Sendable {
    /// Horizontal, left to right.
    case none
    /// Rotated 90° counter-clockwise: reads from bottom to top.
    case up
}

/// An RGBA raster image with 8 bits per channel (straight alpha), row-major from the top-left
/// corner: what ``Figure/render(width:height:scale:)`` returns, drawn by Cairo, and what the
/// libpng writer encodes.
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
    /// - Precondition: `1 ≤ width, height ≤ Canvas.maximumSide`.
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

    init(width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The colour of pixel (x, y). - Precondition: the pixel is inside the canvas.
    public func pixel(_ x: Int, _ y: Int) -> Color {
        precondition(
            x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside a \(width)×\(height) canvas")
        let o = 4 * (y * width + x)
        return Color(r: pixels[o], g: pixels[o + 1], b: pixels[o + 2], a: pixels[o + 3])
    }

    /// Sets pixel (x, y) to `color` exactly; pixels outside are ignored.
    public mutating func setPixel(_ x: Int, _ y: Int, _ color: Color) {
        guard x >= 0 && x < width && y >= 0 && y < height else { return }
        let o = 4 * (y * width + x)
        pixels[o] = color.r
        pixels[o + 1] = color.g
        pixels[o + 2] = color.b
        pixels[o + 3] = color.a
    }

    /// Whether every pixel is opaque (then the PNG is written as RGB, without alpha).
    var isOpaque: Bool { stride(from: 3, to: pixels.count, by: 4).allSatisfy { pixels[$0] == 255 } }
}
