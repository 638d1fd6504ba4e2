/// An 8-bit-per-channel colour with straight (non-premultiplied) alpha.
public struct Color: Equatable, Hashable, Sendable {
    /// Red, 0–255.
    public var r: UInt8
    /// Green, 0–255.
    public var g: UInt8
    /// Blue, 0–255.
    public var b: UInt8
    /// Opacity, 0 (transparent) to 255 (opaque).
    public var a: UInt8

    /// A colour from its four channels.
    public init(r: UInt8, g: UInt8, b: UInt8, a: UInt8 = 255) {
        self.r = r
        self.g = g
        self.b = b
        self.a = a
    }

    /// A colour from a 24-bit hexadecimal value such as `0x1F77B4`.
    public init(hex: UInt32, alpha: UInt8 = 255) {
        self.init(r: UInt8((hex >> 16) & 0xFF), g: UInt8((hex >> 8) & 0xFF), b: UInt8(hex & 0xFF), a: alpha)
    }

    /// A shade of grey (`level` 0 = black, 255 = white).
    public init(gray level: UInt8) { self.init(r: level, g: level, b: level) }

    /// The same colour with another opacity.
    public func withAlpha(_ alpha: UInt8) -> Color { Color(r: r, g: g, b: b, a: alpha) }

    /// Linear interpolation between two colours in sRGB space (`t` clamped to [0, 1]).
    public static func mix(_ c0: Color, _ c1: Color, _ t: Double) -> Color {
        let s = t.isNaN ? 0 : min(1, max(0, t))
        func lerp(_ x: UInt8, _ y: UInt8) -> UInt8 {
            UInt8((Double(x) + (Double(y) - Double(x)) * s).rounded())
        }
        return Color(r: lerp(c0.r, c1.r), g: lerp(c0.g, c1.g), b: lerp(c0.b, c1.b), a: lerp(c0.a, c1.a))
    }

    /// Opaque white.
    public static let white = Color(gray: 255)
    /// Opaque black.
    public static let black = Color(gray: 0)
    /// Fully transparent.
    public static let clear = Color(r: 0, g: 0, b: 0, a: 0)
    /// The near-black used for axes and text.
    public static let ink = Color(hex: 0x262626)
    /// The light grey used for grid lines.
    public static let grid = Color(hex: 0xE3E3E3)
    /// A mid grey for secondary text and frames.
    public static let midGray = Color(hex: 0x8C8C8C)

    /// The Tableau-10 palette (the default series colours of matplotlib), in order:
    /// blue, orange, green, red, purple, brown, pink, grey, olive, cyan.
    public static let tableau10: [Color] = [
        0x1F77B4, 0xFF7F0E, 0x2CA02C, 0xD62728, 0x9467BD,
        0x8C564B, 0xE377C2, 0x7F7F7F, 0xBCBD22, 0x17BECF,
    ].map { Color(hex: $0) }

    /// The `index`-th colour of ``tableau10``, cycling.
    public static func series(_ index: Int) -> Color {
        let n = tableau10.count
        return tableau10[((index % n) + n) % n]
    }
}

/// A map from a number in [0, 1] to a colour, for heatmaps and colour bars.
public enum Colormap: Sendable, Equatable {
    /// Blue – white – red (like matplotlib's "RdBu_r"): 0 is dark blue, 0.5 white, 1 dark red.
    /// Used with a range symmetric around zero, so zero weights are white.
    case diverging
    /// Perceptually uniform dark purple – blue – green – yellow (matplotlib's "viridis").
    case viridis
    /// White to black (for images: 0 white, 1 black).
    case grayInverted
    /// Black to white (for images: 0 black, 1 white).
    case gray

    /// The colour at position `t` (clamped to [0, 1]; NaN gives mid grey).
    public func color(at t: Double) -> Color {
        if t.isNaN { return Color.midGray }
        let s = min(1, max(0, t))
        let stops: [Color]
        switch self {
        case .diverging: stops = Colormap.divergingStops
        case .viridis: stops = Colormap.viridisStops
        case .gray: return Color(gray: UInt8((s * 255).rounded()))
        case .grayInverted: return Color(gray: UInt8(((1 - s) * 255).rounded()))
        }
        let x = s * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(x))
        return Color.mix(stops[i], stops[i + 1], x - Double(i))
    }

    // Anchor colours (ColorBrewer RdBu, reversed; viridis sampled at nine points).
    static let divergingStops: [Color] = [
        0x053061, 0x2166AC, 0x4393C3, 0x92C5DE, 0xD1E5F0, 0xFFFFFF,
        0xFDDBC7, 0xF4A582, 0xD6604D, 0xB2182B, 0x67001F,
    ].map { Color(hex: $0) }
    static let viridisStops: [Color] = [
        0x440154, 0x472D7B, 0x3B528B, 0x2C728E, 0x21918C,
        0x28AE80, 0x5EC962, 0xADDC30, 0xFDE725,
    ].map { Color(hex: $0) }
}
