/// The built-in bitmap font: hand-designed glyphs on a 5×9 grid (7 rows from the cap line
/// to the baseline, 2 rows of descender), drawn proportionally (each glyph is as wide as its
/// ink, plus one column of spacing) and scaled by whole pixels so text stays crisp.
///
/// Covered: ASCII 32–126 and a few symbols the project prints (− × ‖ ∞ ≤ ≥ λ κ ε φ ·).
/// Other characters are drawn as "?" (see ``BitmapFont/substitute(_:)``, which spells some
/// of them out, e.g. "‖A‖∞" stays as is, "α" becomes "alpha").
public enum BitmapFont {
    /// Rows from the top of a capital letter to the baseline.
    public static let capHeight = 7
    /// Rows of the glyph grid, including the descender.
    public static let cellHeight = 9
    /// Columns of the glyph grid.
    public static let cellWidth = 5
    /// Advance of the space character (unscaled pixels).
    public static let spaceAdvance = 3

    /// A glyph: its rows as bit masks (bit 4 = leftmost column) and the columns it occupies.
    struct Glyph: Sendable {
        var rows: [UInt8]  // cellHeight entries
        var left: Int  // first inked column
        var width: Int  // inked columns
    }

    /// The glyph table, built once from ``source``.
    static let glyphs: [Character: Glyph] = {
        var table: [Character: Glyph] = [:]
        for (ch, pattern) in source {
            var rows = [UInt8](repeating: 0, count: cellHeight)
            for (r, part) in pattern.split(separator: " ").enumerated() where r < cellHeight {
                var bits: UInt8 = 0
                for (c, p) in part.enumerated() where c < cellWidth && p == "#" {
                    bits |= 1 << UInt8(cellWidth - 1 - c)
                }
                rows[r] = bits
            }
            let all = rows.reduce(0, |)
            var left = 0
            var right = cellWidth - 1
            if all != 0 {
                while all & (1 << UInt8(cellWidth - 1 - left)) == 0 { left += 1 }
                while all & (1 << UInt8(cellWidth - 1 - right)) == 0 { right -= 1 }
            }
            // Digits keep the full cell so columns of numbers line up.
            if ch.isNumber {
                left = 0
                right = cellWidth - 1
            }
            table[ch] = Glyph(rows: rows, left: left, width: all == 0 ? 0 : right - left + 1)
        }
        return table
    }()

    /// Replaces characters the font lacks by readable spellings (Greek letters by their
    /// names, typographic quotes and dashes by ASCII), keeping the ones it has.
    public static func substitute(_ text: String) -> String {
        var out = ""
        for ch in text {
            if ch == " " || glyphs[ch] != nil {
                out.append(ch)
                continue
            }
            switch ch {
            case "‘", "’": out.append("'")
            case "“", "”": out.append("\"")
            case "–", "—": out.append("-")
            case "α": out += "alpha"
            case "β": out += "beta"
            case "γ": out += "gamma"
            case "δ": out += "delta"
            case "η": out += "eta"
            case "μ", "µ": out += "mu"
            case "ρ": out += "rho"
            case "σ": out += "sigma"
            case "θ": out += "theta"
            case "²": out += "^2"
            case "∞": out += "inf"
            case "\t": out += "  "
            default: out.append("?")
            }
        }
        return out
    }

    /// Width in pixels of `text` drawn at integer `scale`.
    public static func width(of text: String, scale: Int = 1) -> Int {
        var w = 0
        var first = true
        for ch in substitute(text) {
            if !first { w += 1 }
            first = false
            if ch == " " {
                w += spaceAdvance - 1
                continue
            }
            w += glyphs[ch]?.width ?? 0
        }
        return w * max(1, scale)
    }

    /// Height of a line of text (cap height plus descender) at `scale`.
    public static func lineHeight(scale: Int = 1) -> Int { cellHeight * max(1, scale) }

    /// Calls `plot(x, y)` for each inked font pixel (unscaled) of `text`, with (0, 0) the
    /// top-left corner of the first glyph's cell.
    static func forEachPixel(_ text: String, _ plot: (Int, Int) -> Void) {
        var x = 0
        var first = true
        for ch in substitute(text) {
            if !first { x += 1 }
            first = false
            if ch == " " {
                x += spaceAdvance - 1
                continue
            }
            guard let g = glyphs[ch] else { continue }
            for r in 0..<cellHeight where g.rows[r] != 0 {
                for c in 0..<g.width where g.rows[r] & (1 << UInt8(cellWidth - 1 - (g.left + c))) != 0 {
                    plot(x + c, r)
                }
            }
            x += g.width
        }
    }

    /// The glyph designs: rows from the top, "#" inked, "." blank; missing rows are blank.
    static let source: [(Character, String)] = [
        ("0", ".###. #...# #..## #.#.# ##..# #...# .###."),
        ("1", "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###."),
        ("2", ".###. #...# ....# ...#. ..#.. .#... #####"),
        ("3", "##### ...#. ..#.. ...#. ....# #...# .###."),
        ("4", "...#. ..##. .#.#. #..#. ##### ...#. ...#."),
        ("5", "##### #.... ####. ....# ....# #...# .###."),
        ("6", "..##. .#... #.... ####. #...# #...# .###."),
        ("7", "##### ....# ...#. ..#.. .#... .#... .#..."),
        ("8", ".###. #...# #...# .###. #...# #...# .###."),
        ("9", ".###. #...# #...# .#### ....# ...#. .##.."),
        ("A", ".###. #...# #...# ##### #...# #...# #...#"),
        ("B", "####. #...# #...# ####. #...# #...# ####."),
        ("C", ".###. #...# #.... #.... #.... #...# .###."),
        ("D", "###.. #..#. #...# #...# #...# #..#. ###.."),
        ("E", "##### #.... #.... ####. #.... #.... #####"),
        ("F", "##### #.... #.... ####. #.... #.... #...."),
        ("G", ".###. #...# #.... #.### #...# #...# .####"),
        ("H", "#...# #...# #...# ##### #...# #...# #...#"),
        ("I", "###.. .#... .#... .#... .#... .#... ###.."),
        ("J", "..### ...#. ...#. ...#. ...#. #..#. .##.."),
        ("K", "#...# #..#. #.#.. ##... #.#.. #..#. #...#"),
        ("L", "#.... #.... #.... #.... #.... #.... #####"),
        ("M", "#...# ##.## #.#.# #.#.# #...# #...# #...#"),
        ("N", "#...# #...# ##..# #.#.# #..## #...# #...#"),
        ("O", ".###. #...# #...# #...# #...# #...# .###."),
        ("P", "####. #...# #...# ####. #.... #.... #...."),
        ("Q", ".###. #...# #...# #...# #.#.# #..#. .##.#"),
        ("R", "####. #...# #...# ####. #.#.. #..#. #...#"),
        ("S", ".#### #.... #.... .###. ....# ....# ####."),
        ("T", "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."),
        ("U", "#...# #...# #...# #...# #...# #...# .###."),
        ("V", "#...# #...# #...# #...# #...# .#.#. ..#.."),
        ("W", "#...# #...# #...# #.#.# #.#.# #.#.# .#.#."),
        ("X", "#...# #...# .#.#. ..#.. .#.#. #...# #...#"),
        ("Y", "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#.."),
        ("Z", "##### ....# ...#. ..#.. .#... #.... #####"),
        ("a", "..... ..... .###. ....# .#### #...# .####"),
        ("b", "#.... #.... ####. #...# #...# #...# ####."),
        ("c", "..... ..... .###. #.... #.... #...# .###."),
        ("d", "....# ....# .#### #...# #...# #...# .####"),
        ("e", "..... ..... .###. #...# ##### #.... .###."),
        ("f", "..##. .#..# .#... ###.. .#... .#... .#..."),
        ("g", "..... ..... .#### #...# #...# #...# .#### ....# .###."),
        ("h", "#.... #.... #.##. ##..# #...# #...# #...#"),
        ("i", ".#... ..... ##... .#... .#... .#... ###.."),
        ("j", "...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##.."),
        ("k", "#.... #.... #..#. #.#.. ##... #.#.. #..#."),
        ("l", "##... .#... .#... .#... .#... .#... ###.."),
        ("m", "..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#"),
        ("n", "..... ..... #.##. ##..# #...# #...# #...#"),
        ("o", "..... ..... .###. #...# #...# #...# .###."),
        ("p", "..... ..... ####. #...# #...# #...# ####. #.... #...."),
        ("q", "..... ..... .#### #...# #...# #...# .#### ....# ....#"),
        ("r", "..... ..... #.##. ##..# #.... #.... #...."),
        ("s", "..... ..... .#### #.... .###. ....# ####."),
        ("t", ".#... .#... ###.. .#... .#... .#..# ..##."),
        ("u", "..... ..... #...# #...# #...# #..## .##.#"),
        ("v", "..... ..... #...# #...# #...# .#.#. ..#.."),
        ("w", "..... ..... #...# #...# #.#.# #.#.# .#.#."),
        ("x", "..... ..... #...# .#.#. ..#.. .#.#. #...#"),
        ("y", "..... ..... #...# #...# #...# #...# .#### ....# .###."),
        ("z", "..... ..... ##### ...#. ..#.. .#... #####"),
        ("!", "#.... #.... #.... #.... #.... ..... #...."),
        ("\"", "#.#.. #.#.."),
        ("#", ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#."),
        ("$", "..#.. .#### #.#.. .###. ..#.# ####. ..#.."),
        ("%", "##... ##..# ...#. ..#.. .#... #..## ...##"),
        ("&", ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#"),
        ("'", "#.... #...."),
        ("(", "..#.. .#... #.... #.... #.... .#... ..#.."),
        (")", "#.... .#... ..#.. ..#.. ..#.. .#... #...."),
        ("*", "..... ..#.. #.#.# .###. #.#.# ..#.. ....."),
        ("+", "..... ..#.. ..#.. ##### ..#.. ..#.. ....."),
        (",", "..... ..... ..... ..... ..... ..... .#... #...."),
        ("-", "..... ..... ..... ####. ..... ..... ....."),
        (".", "..... ..... ..... ..... ..... ..... #...."),
        ("/", "....# ....# ...#. ..#.. .#... #.... #...."),
        (":", "..... ..... ..... #.... ..... ..... #...."),
        (";", "..... ..... ..... .#... ..... ..... .#... #...."),
        ("<", "...#. ..#.. .#... #.... .#... ..#.. ...#."),
        ("=", "..... ..... ##### ..... ##### ..... ....."),
        (">", "#.... .#... ..#.. ...#. ..#.. .#... #...."),
        ("?", ".###. #...# ....# ...#. ..#.. ..... ..#.."),
        ("@", ".###. #...# #.### #.#.# #.### #.... .####"),
        ("[", "###.. #.... #.... #.... #.... #.... ###.."),
        ("\\", "#.... #.... .#... ..#.. ...#. ....# ....#"),
        ("]", "###.. ..#.. ..#.. ..#.. ..#.. ..#.. ###.."),
        ("^", "..#.. .#.#. #...#"),
        ("_", "..... ..... ..... ..... ..... ..... ..... #####"),
        ("`", "#.... .#..."),
        ("{", "..##. .#... .#... #.... .#... .#... ..##."),
        ("|", "#.... #.... #.... #.... #.... #.... #.... #...."),
        ("}", ".##.. ...#. ...#. ....# ...#. ...#. .##.."),
        ("~", "..... ..... .#... #.#.# ...#. ..... ....."),
        ("−", "..... ..... ..... ####. ..... ..... ....."),
        ("×", "..... #...# .#.#. ..#.. .#.#. #...# ....."),
        ("·", "..... ..... ..... #.... ..... ..... ....."),
        ("‖", "#.#.. #.#.. #.#.. #.#.. #.#.. #.#.. #.#.. #.#.."),
        ("∞", "..... ..... .#.#. #.#.# .#.#. ..... ....."),
        ("≤", "...#. ..#.. .#... ..#.. ...#. ..... .###."),
        ("≥", ".#... ..#.. ...#. ..#.. .#... ..... .###."),
        ("λ", "#.... .#... .#... ..#.. .#.#. #...# #...#"),
        ("κ", "..... ..... #..#. #.#.. ##... #.#.. #..#."),
        ("ε", "..... ..... .###. #.... .##.. #.... .###."),
        ("φ", "..#.. ..#.. .###. #.#.# #.#.# .###. ..#.. ..#.."),
    ]
}
