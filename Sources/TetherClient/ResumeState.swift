import Foundation

/// What a client needs to resume where it left off: its identity, its secret, and its place in
/// one epoch of the relay's log. Saved as JSON to a file when the client is given one.
///
/// The file holds the resume secret: it is written with mode 0600, atomically (a crash leaves the
/// old file or the new one, never half of one).
public struct ResumeState: Sendable, Hashable, Codable {
    public var clientID: String?
    public var resumeToken: String?
    public var epoch: String?
    /// The newest sequence processed (acknowledged) in `epoch`.
    public var lastSequence: UInt64?

    public init(clientID: String? = nil, resumeToken: String? = nil, epoch: String? = nil, lastSequence: UInt64? = nil) {
        self.clientID = clientID
        self.resumeToken = resumeToken
        self.epoch = epoch
        self.lastSequence = lastSequence
    }

    enum CodingKeys: String, CodingKey {
        case clientID = "client_id"
        case resumeToken = "resume_token"
        case epoch
        case lastSequence = "last_sequence"
    }

    /// The state saved at `path`, or an empty state if there is no file yet.
    ///
    /// - Throws: ``TetherClientError`` if the file exists but cannot be read as a state file.
    public static func load(from path: String) throws(TetherClientError) -> ResumeState {
        guard FileManager.default.fileExists(atPath: path) else { return ResumeState() }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return try JSONDecoder().decode(ResumeState.self, from: data)
        } catch {
            throw TetherClientError(.badStateFile, "state file \(path) is not a Tether client state file (\(error)); move it away to start as a new client")
        }
    }

    /// Writes the state to `path` atomically, readable by its owner only.
    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(self)
        let temporary = path + ".tmp"
        _ = FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600])
        guard rename(temporary, path) == 0 else {
            throw TetherClientError(.badStateFile, "could not write state file \(path): \(String(cString: strerror(errno)))")
        }
    }
}
