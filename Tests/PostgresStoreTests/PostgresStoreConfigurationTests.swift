import PostgresStore
import Testing

@Suite struct PostgresStoreConfigurationTests {
    @Test func urlGivesUserHostPortAndDatabase() throws {
        let configuration = try PostgresBufferStore.Configuration(url: "postgres://relay@db.internal:6543/events")
        #expect(configuration.user == "relay")
        #expect(configuration.host == "db.internal")
        #expect(configuration.port == 6543)
        #expect(configuration.database == "events")
        #expect(configuration.password == nil)
        #expect(configuration.socketDirectory == nil)
    }

    @Test func urlMayNameAUnixSocketDirectoryAndAPassword() throws {
        let configuration = try PostgresBufferStore.Configuration(url: "postgresql://tether:s%40cret@/tether?host=/run/postgresql")
        #expect(configuration.socketDirectory == "/run/postgresql")
        #expect(configuration.password == "s@cret")
        #expect(configuration.port == 5432)
    }

    @Test(arguments: ["mysql://u@h/db", "not a url", ""])
    func otherURLsAreRefusedWithTheKeyNamed(_ url: String) {
        #expect { try PostgresBufferStore.Configuration(url: url) } throws: { error in
            "\(error)".contains("store.postgres.url")
        }
    }
}
