import Glibc

/// Raises this process's soft limit on open descriptors to at least `count` (as far as the hard
/// limit allows), for a test that holds many connections, and returns the hard limit: a test
/// that needs more than it says so and stops.
public func raiseDescriptorLimit(toAtLeast count: Int) -> Int {
    var limit = rlimit()
    getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = min(max(limit.rlim_cur, rlim_t(count)), limit.rlim_max)
    setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    return Int(clamping: limit.rlim_max)
}
