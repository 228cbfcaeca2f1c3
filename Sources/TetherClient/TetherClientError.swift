/// Why a client call failed, with a code a caller can switch on and a message a person can act on.
public struct TetherClientError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The outbound buffer holds `outboundBufferLimit` unconfirmed publishes already.
        public static let bufferFull = Code(rawValue: "buffer_full")
        /// The client stopped, or gave up reconnecting, before the relay answered.
        public static let notConnected = Code(rawValue: "not_connected")
        /// The state file exists but is not readable as one.
        public static let badStateFile = Code(rawValue: "bad_state_file")
        /// The configuration cannot work (for example a `wss://` URL naming an IP address).
        public static let badConfiguration = Code(rawValue: "bad_configuration")
        /// The relay answered with an error frame (the relay's code is in the message).
        public static let refused = Code(rawValue: "refused")
    }

    public var code: Code
    /// The relay's error code, when the relay refused something.
    public var relayCode: String?
    public var message: String

    public init(_ code: Code, _ message: String, relayCode: String? = nil) {
        self.code = code
        self.message = message
        self.relayCode = relayCode
    }

    public var description: String { relayCode.map { "\($0): \(message)" } ?? "\(code): \(message)" }
}
