import KuraOperations

/// A small inline SVG bar chart of bytes per day (no script, no external asset): one bar a day, scaled
/// to the largest, each with a `<title>` that browsers show on hover.
enum SVGChart {
    static func bars(_ days: [Overview.DayBytes], width: Int = 180, height: Int = 36) -> String {
        guard !days.isEmpty else { return "" }
        let top = max(1, days.map(\.bytes).max() ?? 1)
        let step = Double(width) / Double(days.count)
        var svg = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"bytes added per day\">"
        svg += "<rect width=\"\(width)\" height=\"\(height)\" fill=\"#f3f3f3\"/>"
        for (i, d) in days.enumerated() {
            let h = d.bytes == 0 ? 0 : max(1, Double(height - 2) * Double(d.bytes) / Double(top))
            let x = Double(i) * step
            svg += "<rect x=\"\(fmt(x + 0.5))\" y=\"\(fmt(Double(height) - h))\" width=\"\(fmt(max(1, step - 1)))\" height=\"\(fmt(h))\" fill=\"#3b7dd8\">"
                + "<title>\(d.day): \(HTMLPages.bytes(d.bytes))</title></rect>"
        }
        return svg + "</svg>"
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
}
