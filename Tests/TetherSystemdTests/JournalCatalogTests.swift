import Foundation
import TetherCore
import Testing
import TetherSystemd

@Suite struct JournalCatalogTests {
    static let catalog = packageRoot.appendingPathComponent("deploy/systemd/tether.catalog")

    @Test func everyMessageIDHasExactlyOneCatalogEntryAndNoneIsExtra() throws {
        let text = try String(contentsOf: Self.catalog, encoding: .utf8)
        let headers = text.split(separator: "\n").filter { $0.hasPrefix("-- ") }.map { String($0.dropFirst(3)) }
        #expect(Set(headers).count == headers.count, "duplicate catalog entries")
        #expect(Set(headers) == Set(JournalCatalog.messageIDs.values))
        #expect(JournalCatalog.messageIDs.count == ConnectionEvent.allCases.count + 1)
        for id in headers {
            #expect(id.count == 32 && id.allSatisfy(\.isHexDigit), "\(id) is not a 128-bit id")
        }
    }
}

/// The package's root directory (for deploy/ and scripts/).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
