import Testing
import IDLPlot

@Test func linksAgainstLibpng16() {
    #expect(libpngVersion.hasPrefix("1.6"))
}
