public import Hummingbird
import Dispatch
import Metrics
import Synchronization

/// Counts every HTTP request under the status the client was sent, in Hummingbird's series
/// (`hb_requests_total`, `hb_request_errors_total`, `http_server_request_duration_seconds`,
/// `http_server_active_requests`), so that existing dashboards keep working.
///
/// Hummingbird's own `MetricsMiddleware` sat inside the JSON error middleware and saw the errors
/// routes throw: every `RelayError` (a 400, a 413, a 415) was counted as status 500, and it
/// created an error series with every request series, so `error_type="200"` showed up at zero.
/// This one sits outside every other middleware and reads the response as written: an error is a
/// response with status 400 or more, and only errors create `hb_request_errors_total` series.
///
/// The series cache is owned by a `Mutex`; metric objects are created once per
/// (route, method, status) and reused.
public struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    private let cache = SeriesCache()

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let active = cache.active(request.method)
        active.increment()
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Only errors that no middleware answered reach here; Hummingbird writes them with
            // the status they carry, or 500.
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            cache.record(route: context.endpointPath ?? "unmatched", method: request.method, status: status, since: start)
            active.decrement()
            throw error
        }
        let status = response.status
        if request.method == .head {
            // The server writes no body for HEAD, so a body wrapper would never run.
            cache.record(route: context.endpointPath ?? "unmatched", method: request.method, status: status, since: start)
            active.decrement()
            return response
        }
        let body = response.body
        let cache = self.cache
        // Counted once the body is written (or failed), as Hummingbird's own middleware does;
        // its `withPostWriteClosure` is not public, so the same wrapper is built here.
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            defer {
                cache.record(route: context.endpointPath ?? "unmatched", method: request.method, status: status, since: start)
                active.decrement()
            }
            try await body.write(writer)
        }
        return response
    }
}

/// The metric objects by label set, created on first use.
final class SeriesCache: Sendable {
    private struct Key: Hashable {
        let route: String
        let method: HTTPRequest.Method
        let status: Int
    }

    private struct Series: Sendable {
        let requests: Counter
        let duration: Metrics.Timer
        let errors: Counter?
    }

    private let series = Mutex<[Key: Series]>([:])
    private let meters = Mutex<[HTTPRequest.Method: Meter]>([:])

    func active(_ method: HTTPRequest.Method) -> Meter {
        meters.withLock { meters in
            if let meter = meters[method] { return meter }
            let meter = Meter(label: "http.server.active_requests", dimensions: [("http.request.method", method.rawValue)])
            meters[method] = meter
            return meter
        }
    }

    func record(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status, since start: UInt64) {
        let key = Key(route: route, method: method, status: status.code)
        let found = series.withLock { series in
            if let found = series[key] { return found }
            let labels = [("http.route", route), ("http.request.method", method.rawValue), ("http.response.status_code", String(status.code))]
            let made = Series(
                requests: Counter(label: "hb.requests", dimensions: labels),
                duration: Metrics.Timer(label: "http.server.request.duration", dimensions: labels, preferredDisplayUnit: .seconds),
                errors: status.code >= 400
                    ? Counter(label: "hb.request.errors", dimensions: [("http.route", route), ("http.request.method", method.rawValue), ("error.type", String(status.code))])
                    : nil
            )
            series[key] = made
            return made
        }
        found.requests.increment()
        found.errors?.increment()
        found.duration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
    }
}
