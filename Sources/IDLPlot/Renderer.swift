import CCairo
import Foundation
import IDL

// MARK: - Font

/// DejaVu Sans, found through fontconfig and loaded by Cairo's FreeType backend.
enum FontLibrary {
    /// The family every figure's text is set in.
    static let family = "DejaVu Sans"

    /// The Cairo font face of DejaVu Sans, or the error that explains how to install it.
    /// Looked up once per process.
    nonisolated(unsafe) static let dejaVuSans: Result<OpaquePointer, IDLError> = lookUp()

    /// A face for measuring when DejaVu Sans is missing (Cairo's default sans-serif), so that
    /// layout queries never fail; drawing checks ``dejaVuSans`` and throws instead.
    nonisolated(unsafe) static let fallback: OpaquePointer = cairo_toy_font_face_create(
        "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)

    static var measuringFace: OpaquePointer {
        switch dejaVuSans {
        case .success(let face): return face
        case .failure: return fallback
        }
    }

    /// The face to draw with.
    /// - Throws: `IDLError.io` when fontconfig has no DejaVu Sans.
    static func face() throws -> OpaquePointer { try dejaVuSans.get() }

    private static func lookUp() -> Result<OpaquePointer, IDLError> {
        let install =
            "install the Debian package fonts-dejavu-core (scripts/bootstrap.sh does) or put DejaVuSans.ttf where fontconfig finds it (fc-list lists them)"
        guard FcInit() != 0, let pattern = FcNameParse(family) else {
            return .failure(.io("figures are drawn in \(family), but fontconfig could not be initialised; \(install)"))
        }
        defer { FcPatternDestroy(pattern) }
        FcConfigSubstitute(nil, pattern, FcMatchPattern)
        FcDefaultSubstitute(pattern)
        var result = FcResultNoMatch
        guard let match = FcFontMatch(nil, pattern, &result) else {
            return .failure(.io("figures are drawn in \(family), but fontconfig finds no font at all; \(install)"))
        }
        defer { FcPatternDestroy(match) }
        func string(_ key: String) -> String? {
            var value: UnsafeMutablePointer<FcChar8>? = nil
            guard FcPatternGetString(match, key, 0, &value) == FcResultMatch, let value else { return nil }
            return String(cString: value)
        }
        let found = string("family") ?? "no family"
        guard found == family, let file = string("file") else {
            return .failure(
                .io(
                    "figures are drawn in \(family), which fontconfig does not have (it offers \(found) instead); \(install)"
                ))
        }
        var index: Int32 = 0
        _ = FcPatternGetInteger(match, "index", 0, &index)
        // A pattern with the file alone, so the machine's fontconfig rules (hinting, subpixel
        // order) cannot change how the text is drawn: the same bytes on every machine.
        guard let exact = FcPatternCreate() else { return .failure(.io("fontconfig is out of memory")) }
        defer { FcPatternDestroy(exact) }
        _ = FcPatternAddString(exact, "file", file)
        _ = FcPatternAddInteger(exact, "index", index)
        guard let face = cairo_ft_font_face_create_for_pattern(exact),
            cairo_font_face_status(face) == CAIRO_STATUS_SUCCESS
        else {
            return .failure(.io("Cairo could not load \(family) from \(file); \(install)"))
        }
        return .success(face)
    }
}

// MARK: - Text

/// The text sizes of a figure, in points: one size for each role.
struct TextSizes {
    /// The title above the chart.
    var title: Double
    /// Axis labels.
    var label: Double
    /// Tick labels, colour bar labels, category names.
    var tick: Double
    /// Legend entries.
    var legend: Double
    /// Point annotations, bar values, image captions.
    var annotation: Double

    /// Figures of normal size (at least 520 × 340 points).
    static let standard = TextSizes(title: 17, label: 15, tick: 13, legend: 13, annotation: 12)
    /// Small figures.
    static let compact = TextSizes(title: 12, label: 11, tick: 9.5, legend: 9.5, annotation: 8.5)
}

// MARK: - Renderer

/// The surface a ``Figure`` draws on: a Cairo context over an image (PNG), a PDF or an SVG
/// surface. Coordinates are points, x to the right and y downwards from the top-left corner;
/// an image surface maps one point to `scale` pixels.
///
/// The drawing operations are IDLPlot's own; ``Figure/render(width:height:scale:)``,
/// ``Figure/pdfData(width:height:)`` and ``Figure/svgData(width:height:)`` create renderers.
public final class Renderer {
    let surface: OpaquePointer
    let cr: OpaquePointer
    let face: OpaquePointer
    /// The figure's width in points.
    let width: Int
    /// The figure's height in points.
    let height: Int

    init(surface: OpaquePointer, width: Int, height: Int, scale: Double = 1, face: OpaquePointer) {
        self.surface = surface
        self.width = width
        self.height = height
        self.cr = cairo_create(surface)
        self.face = face
        cairo_scale(cr, scale, scale)
        cairo_set_font_face(cr, face)
        let options = cairo_font_options_create()
        cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY)
        cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE)
        cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
        cairo_set_font_options(cr, options)
        cairo_font_options_destroy(options)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND)
    }

    deinit {
        cairo_destroy(cr)
        cairo_surface_destroy(surface)
    }

    /// A renderer that only measures text (a 1×1 image), in DejaVu Sans when it is installed.
    static func measuring() -> Renderer {
        Renderer(
            surface: cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1), width: 1, height: 1,
            face: FontLibrary.measuringFace)
    }

    func setColor(_ c: Color) {
        cairo_set_source_rgba(cr, Double(c.r) / 255, Double(c.g) / 255, Double(c.b) / 255, Double(c.a) / 255)
    }

    /// Runs `body` with the origin moved to (x, y).
    func translated(x: Double, y: Double, _ body: () -> Void) {
        cairo_save(cr)
        cairo_translate(cr, x, y)
        body()
        cairo_restore(cr)
    }

    // MARK: Rectangles

    /// Fills a rectangle of whole points.
    func fill(_ rect: PixelRect, _ color: Color) {
        guard rect.width > 0, rect.height > 0 else { return }
        setColor(color)
        cairo_rectangle(cr, Double(rect.x), Double(rect.y), Double(rect.width), Double(rect.height))
        cairo_fill(cr)
    }

    /// Fills the rectangle [x0, x1] × [y0, y1] (corners in any order).
    func fillRect(x0: Double, y0: Double, x1: Double, y1: Double, _ color: Color) {
        guard x0.isFinite, x1.isFinite, y0.isFinite, y1.isFinite else { return }
        setColor(color)
        cairo_rectangle(cr, min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))
        cairo_fill(cr)
    }

    /// Draws a one-point outline along the inside edge of `rect`.
    func stroke(_ rect: PixelRect, _ color: Color, width: Double = 1) {
        guard rect.width > 0, rect.height > 0 else { return }
        setColor(color)
        cairo_set_line_width(cr, width)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER)
        cairo_rectangle(
            cr, Double(rect.x) + width / 2, Double(rect.y) + width / 2, Double(rect.width) - width,
            Double(rect.height) - width)
        cairo_stroke(cr)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
    }

    // MARK: Lines and markers

    /// Draws a straight line.
    func drawLine(
        from a: Point, to b: Point, color: Color, width: Double = 1, dash: [Double] = [], clip: PixelRect? = nil
    ) {
        strokePolyline([a, b], color: color, width: width, dash: dash, clip: clip)
    }

    /// Draws a polyline with round joins and caps; non-finite points break it into pieces.
    /// Only the inside of `clip` is drawn on when it is given.
    func strokePolyline(
        _ points: [Point], color: Color, width: Double = 1, dash: [Double] = [], clip: PixelRect? = nil
    ) {
        guard width.isFinite, width > 0 else { return }
        cairo_save(cr)
        if let clip {
            cairo_rectangle(cr, Double(clip.x), Double(clip.y), Double(clip.width), Double(clip.height))
            cairo_clip(cr)
        }
        setColor(color)
        cairo_set_line_width(cr, min(width, 1000))
        if !dash.isEmpty {
            cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT)
            dash.withUnsafeBufferPointer { cairo_set_dash(cr, $0.baseAddress, Int32($0.count), 0) }
        }
        var pen = false
        for p in points {
            guard p.x.isFinite, p.y.isFinite else {
                pen = false
                continue
            }
            let q = Point(clampCoordinate(p.x), clampCoordinate(p.y))
            if pen {
                cairo_line_to(cr, q.x, q.y)
            } else {
                cairo_move_to(cr, q.x, q.y)
                pen = true
            }
        }
        cairo_stroke(cr)
        cairo_restore(cr)
    }

    /// Fills a disc.
    func fillCircle(center: Point, radius: Double, color: Color) {
        marker(.circle, center: center, radius: radius, color: color)
    }

    /// Fills a marker of the given shape whose area is about that of a disc of `radius`.
    func marker(_ shape: MarkerShape, center: Point, radius: Double, color: Color) {
        guard center.x.isFinite, center.y.isFinite, radius.isFinite, radius > 0, radius < 1e5 else { return }
        setColor(color)
        let (x, y) = (clampCoordinate(center.x), clampCoordinate(center.y))
        switch shape {
        case .circle:
            cairo_new_sub_path(cr)
            cairo_arc(cr, x, y, radius, 0, 2 * Double.pi)
        case .square:
            let h = radius * 0.886
            cairo_rectangle(cr, x - h, y - h, 2 * h, 2 * h)
        case .triangle:
            let r = radius * 1.3
            cairo_move_to(cr, x, y - r)
            cairo_line_to(cr, x + r * 0.866, y + r * 0.5)
            cairo_line_to(cr, x - r * 0.866, y + r * 0.5)
            cairo_close_path(cr)
        case .diamond:
            let r = radius * 1.25
            cairo_move_to(cr, x, y - r)
            cairo_line_to(cr, x + r, y)
            cairo_line_to(cr, x, y + r)
            cairo_line_to(cr, x - r, y)
            cairo_close_path(cr)
        }
        cairo_fill(cr)
    }

    // MARK: Images

    /// Draws `pixels` (RGBA, `columns` × `rows`, row by row) stretched over `rect`, each
    /// pixel a sharp-edged rectangle (no smoothing between them).
    func image(_ pixels: [Color], columns: Int, rows: Int, in rect: PixelRect) {
        guard columns > 0, rows > 0, pixels.count == columns * rows, rect.width > 0, rect.height > 0 else { return }
        guard let img = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(columns), Int32(rows)) else { return }
        defer { cairo_surface_destroy(img) }
        cairo_surface_flush(img)
        let stride = Int(cairo_image_surface_get_stride(img))
        guard let data = cairo_image_surface_get_data(img) else { return }
        for r in 0..<rows {
            let row = (data + r * stride).withMemoryRebound(to: UInt32.self, capacity: columns) { $0 }
            for c in 0..<columns {
                let p = pixels[r * columns + c]
                let a = UInt32(p.a)
                func pm(_ v: UInt8) -> UInt32 { (UInt32(v) * a + 127) / 255 }
                row[c] = a << 24 | pm(p.r) << 16 | pm(p.g) << 8 | pm(p.b)
            }
        }
        cairo_surface_mark_dirty(img)
        cairo_save(cr)
        cairo_rectangle(cr, Double(rect.x), Double(rect.y), Double(rect.width), Double(rect.height))
        cairo_clip(cr)
        cairo_translate(cr, Double(rect.x), Double(rect.y))
        cairo_scale(cr, Double(rect.width) / Double(columns), Double(rect.height) / Double(rows))
        cairo_set_source_surface(cr, img, 0, 0)
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST)
        cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD)
        cairo_paint(cr)
        cairo_restore(cr)
    }

    // MARK: Text

    /// The advance width of `text` at `size` points.
    func textWidth(_ text: String, size: Double) -> Double {
        guard !text.isEmpty else { return 0 }
        cairo_set_font_size(cr, size)
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, text, &e)
        return e.x_advance
    }

    /// The height of a capital letter at `size` points.
    func capHeight(size: Double) -> Double {
        cairo_set_font_size(cr, size)
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, "H", &e)
        return e.height
    }

    /// Draws `text` at `size` points anchored at (x, y) according to `align` and `baseline`;
    /// with `rotation: .up` it reads from bottom to top and the alignments refer to the
    /// text's own direction.
    func drawText(
        _ text: String, x: Double, y: Double, size: Double, color: Color = .ink,
        align: TextAlign = .left, baseline: TextBaseline = .top, rotation: TextRotation = .none
    ) {
        guard !text.isEmpty, x.isFinite, y.isFinite else { return }
        let w = textWidth(text, size: size)
        let cap = capHeight(size: size)
        let u: Double
        switch align {
        case .left: u = 0
        case .center: u = -w / 2
        case .right: u = -w
        }
        let v: Double
        switch baseline {
        case .top: v = cap
        case .middle: v = cap / 2
        case .bottom: v = 0
        }
        cairo_save(cr)
        cairo_translate(cr, x, y)
        if rotation == .up { cairo_rotate(cr, -Double.pi / 2) }
        setColor(color)
        cairo_set_font_size(cr, size)
        cairo_move_to(cr, u, v)
        cairo_show_text(cr, text)
        cairo_new_path(cr)
        cairo_restore(cr)
    }

    /// ``drawText(_:x:y:size:color:align:baseline:rotation:)`` at whole points.
    func drawText(
        _ text: String, x: Int, y: Int, size: Double, color: Color = .ink,
        align: TextAlign = .left, baseline: TextBaseline = .top, rotation: TextRotation = .none
    ) {
        drawText(
            text, x: Double(x), y: Double(y), size: size, color: color, align: align, baseline: baseline,
            rotation: rotation)
    }
}

/// The shape of a series' markers.
public enum MarkerShape: Sendable, Equatable {
    /// A disc.
    case circle
    /// A square.
    case square
    /// A triangle pointing up.
    case triangle
    /// A square standing on a corner.
    case diamond
}

// MARK: - Output

/// The file formats a figure is written in.
public enum FigureFormat: String, Sendable, CaseIterable {
    /// An 8-bit RGB PNG image written by libpng, `scale` pixels per point.
    case png
    /// A PDF page of the figure's size in points, text as embedded DejaVu Sans.
    case pdf
    /// An SVG drawing of the figure's size in points, glyphs as outlines.
    case svg

    /// The format a file name's extension names (png, pdf, svg; any case), or nil.
    public init?(pathExtension: String) { self.init(rawValue: pathExtension.lowercased()) }

    /// Formats from a comma-separated list such as "png,pdf".
    /// - Throws: `IDLError.invalidArgument` for an empty list or a name that is not png, pdf or svg.
    public static func list(_ text: String) throws -> [FigureFormat] {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        var out: [FigureFormat] = []
        for n in names {
            guard let f = FigureFormat(pathExtension: n) else {
                throw IDLError.invalidArgument(
                    "unknown figure format '\(n)' in '\(text)'; use a comma-separated list of png, pdf, svg")
            }
            if !out.contains(f) { out.append(f) }
        }
        guard !out.isEmpty else {
            throw IDLError.invalidArgument("no figure format given; use a comma-separated list of png, pdf, svg")
        }
        return out
    }
}

/// Collects the bytes Cairo's PDF and SVG surfaces write.
private final class ByteCollector { var bytes: [UInt8] = [] }

private let collectBytes: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, UInt32) -> cairo_status_t = {
    closure, data, length in
    guard let closure, let data else { return CAIRO_STATUS_WRITE_ERROR }
    Unmanaged<ByteCollector>.fromOpaque(closure).takeUnretainedValue().bytes.append(
        contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
    return CAIRO_STATUS_SUCCESS
}

enum Output {
    /// Draws with `draw` on a white `width`×`height`-point image of `scale` pixels per point.
    static func raster(width: Int, height: Int, scale: Double, _ draw: (Renderer) -> Void) throws -> Canvas {
        let face = try FontLibrary.face()
        let pw = Int((Double(width) * scale).rounded())
        let ph = Int((Double(height) * scale).rounded())
        guard (1...Canvas.maximumSide).contains(pw), (1...Canvas.maximumSide).contains(ph) else {
            throw IDLError.invalidArgument(
                "a \(width)×\(height)-point figure at scale \(scale) is \(pw)×\(ph) pixels; at most \(Canvas.maximumSide) on each side"
            )
        }
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(pw), Int32(ph)),
            cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS
        else { throw IDLError.io("Cairo could not create a \(pw)×\(ph) image (out of memory?)") }
        let r = Renderer(surface: surface, width: width, height: height, scale: scale, face: face)
        r.fill(PixelRect(x: 0, y: 0, width: width, height: height), .white)
        draw(r)
        cairo_surface_flush(surface)
        let stride = Int(cairo_image_surface_get_stride(surface))
        guard let data = cairo_image_surface_get_data(surface) else {
            throw IDLError.io("Cairo image has no pixel data")
        }
        var pixels = [UInt8](repeating: 0, count: pw * ph * 4)
        for y in 0..<ph {
            let row = (data + y * stride).withMemoryRebound(to: UInt32.self, capacity: pw) { $0 }
            for x in 0..<pw {
                let v = row[x]
                let a = (v >> 24) & 0xFF
                let o = 4 * (y * pw + x)
                func un(_ c: UInt32) -> UInt8 { a == 0 ? 0 : UInt8(min(255, (c * 255 + a / 2) / a)) }
                pixels[o] = un((v >> 16) & 0xFF)
                pixels[o + 1] = un((v >> 8) & 0xFF)
                pixels[o + 2] = un(v & 0xFF)
                pixels[o + 3] = UInt8(a)
            }
        }
        return Canvas(width: pw, height: ph, pixels: pixels)
    }

    /// Draws with `draw` on a PDF or SVG surface of `width`×`height` points; the file's bytes.
    static func vector(_ format: FigureFormat, width: Int, height: Int, _ draw: (Renderer) -> Void) throws -> [UInt8] {
        let face = try FontLibrary.face()
        let sink = ByteCollector()
        let closure = Unmanaged.passUnretained(sink).toOpaque()
        let surface: OpaquePointer?
        switch format {
        case .pdf:
            surface = cairo_pdf_surface_create_for_stream(collectBytes, closure, Double(width), Double(height))
            if let surface {
                // Fixed dates: the same figure gives the same bytes on every run.
                cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, "2000-01-01T00:00:00Z")
                cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_MOD_DATE, "2000-01-01T00:00:00Z")
                cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "IDLPlot")
            }
        case .svg:
            surface = cairo_svg_surface_create_for_stream(collectBytes, closure, Double(width), Double(height))
            if let surface { cairo_svg_surface_set_document_unit(surface, CAIRO_SVG_UNIT_PT) }
        case .png:
            preconditionFailure("PNG is drawn by Output.raster")
        }
        guard let surface, cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
            throw IDLError.io("Cairo could not create a \(format.rawValue.uppercased()) surface")
        }
        do {
            let r = Renderer(surface: cairo_surface_reference(surface), width: width, height: height, face: face)
            r.fill(PixelRect(x: 0, y: 0, width: width, height: height), .white)
            draw(r)
            cairo_show_page(r.cr)
        }
        cairo_surface_finish(surface)
        let status = cairo_surface_status(surface)
        cairo_surface_destroy(surface)
        guard status == CAIRO_STATUS_SUCCESS else {
            throw IDLError.io(
                "Cairo failed to write the \(format.rawValue.uppercased()): \(String(cString: cairo_status_to_string(status)))"
            )
        }
        return sink.bytes
    }
}
