public import Hummingbird
import TetherCore
import Logging

/// Turns every error a route throws into Tether's JSON error shape,
/// `{"error": {"code": "...", "message": "..."}}`, with the status that says what happened.
public struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as RateLimitedError {
            var response = Self.response(for: error.error)
            response.headers[.retryAfter] = String(error.retryAfter)
            return response
        } catch let error as RelayError {
            return Self.response(for: error)
        } catch let error as any HTTPResponseError {
            let status = error.status
            let code: RelayError.Code = switch status {
            case .notFound: .notFound
            case .contentTooLarge: .tooLarge
            case .methodNotAllowed: RelayError.Code(rawValue: "method_not_allowed")
            default: status.code >= 500 ? RelayError.Code(rawValue: "internal") : .malformed
            }
            let message: String = switch status {
            case .notFound: "no route for \(request.method) \(request.uri.path); see docs for the HTTP surface"
            case .contentTooLarge: "request body is larger than the configured limit (limits.max-body-bytes)"
            default: (error as? HTTPError)?.body ?? status.reasonPhrase
            }
            return Self.response(status: status, code: code, message: message)
        } catch {
            context.logger.error("unhandled error in request", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return Self.response(status: .internalServerError, code: RelayError.Code(rawValue: "internal"), message: "internal error; see the relay's log")
        }
    }

    static func response(for error: RelayError) -> Response {
        response(status: status(for: error.code), code: error.code, message: error.message)
    }

    static func status(for code: RelayError.Code) -> HTTPResponse.Status {
        switch code {
        case .malformed, .invalidEvent, .futureSequence, .ackBeyondDelivered: .badRequest
        case .tooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .resumeRefused, .forbidden, .originNotAllowed: .forbidden
        case .hostNotAllowed: .misdirectedRequest
        case .bodyTimeout: .requestTimeout
        case .unauthorized: .unauthorized
        case .notFound: .notFound
        case .storeUnavailable, .identityUnavailable, .shuttingDown, .serverBusy: .serviceUnavailable
        case .rateLimited, .tooManyConnections: .tooManyRequests
        default: .badRequest
        }
    }

    static func response(status: HTTPResponse.Status, code: RelayError.Code, message: String) -> Response {
        Response.json(RelayError.jsonBody(code: code, message: message), status: status)
    }
}

extension RelayError {
    /// `{"error":{"code":"...","message":"..."}}` and a newline: every HTTP error body.
    static func jsonBody(code: Code, message: String) -> [UInt8] {
        var writer = JSONWriter()
        writer.raw("{\"error\":")
        writer.error(code: code, message: message)
        writer.raw("}\n")
        return writer.bytes
    }

    var jsonBody: [UInt8] { Self.jsonBody(code: code, message: message) }
}

extension Response {
    /// A JSON response from already-encoded bytes.
    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }
}
